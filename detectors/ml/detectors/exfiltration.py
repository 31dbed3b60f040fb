"""Outbound volume spike (possible exfiltration): bytes a host sent in a window against
that host's own baseline (its agency's, or everyone's, when it has too few windows).

The score is the number of doublings above the baseline's 99th percentile of bytes
sent per window, ``log2((bytes + 1) / (p99 + 1))``: night windows with nothing sent make
a spread-based z-score useless for this feature, the percentile is not fooled by them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.ml.baseline import RobustBaseline
from detectors.ml.detectors.base import ZScoreDetector
from detectors.ml.features.common import AGENCY, ENTITY


class ExfiltrationDetector(ZScoreDetector):
    name = "exfiltration"
    title_vi = "Lưu lượng gửi ra tăng đột biến (nghi rò rỉ dữ liệu)"
    title_en = "Outbound volume spike (possible exfiltration)"
    severity = "high"
    tags = ("attack.exfiltration", "attack.t1041")
    feature_set = "host"
    group_field = "host.name"
    key_features = ("bytes_out",)
    top_k = 1
    use_entity = True
    default_threshold = 3.0  # 8 times the host's 99th percentile
    gate = {"bytes_out": 20_000_000}  # noqa: RUF012

    def score(self, model: RobustBaseline, table: pd.DataFrame) -> np.ndarray:
        if table.empty:
            return np.zeros(0)
        p99 = np.array(
            [
                model.stats_for(str(e), str(a))[1]["bytes_out"].raw_p99
                for e, a in zip(table[ENTITY], table[AGENCY], strict=True)
            ]
        )
        sent = table["bytes_out"].to_numpy(dtype=float)
        scores = np.clip(np.log2((sent + 1) / (p99 + 1)), 0, None)
        return np.where(sent >= self.gate["bytes_out"], scores, 0.0)

    def explain(self, model: RobustBaseline, table: pd.DataFrame, position: int) -> list[dict[str, Any]]:
        top = super().explain(model, table, position)
        for item in top:
            item["doublings_over_p99"] = round(float(self.score(model, table.iloc[[position]])[0]), 2)
        return top
