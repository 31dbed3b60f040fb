"""DNS tunnelling: a client asking many long, high-entropy names under one domain
(data encoded in the labels), often with TXT/NULL records, compared with every DNS
client of the agency."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.ml.detectors.base import ZScoreDetector
from detectors.ml.features.common import ENTITY, WINDOW


class DnsTunnelDetector(ZScoreDetector):
    name = "dns_tunnel"
    title_vi = "Đường hầm DNS (dữ liệu mã hoá trong tên miền)"
    title_en = "DNS tunnelling"
    severity = "high"
    tags = ("attack.command_and_control", "attack.exfiltration", "attack.t1071.004", "attack.t1048")
    feature_set = "dns"
    group_field = "source.ip"
    key_features = ("names_per_domain", "max_subdomain_length", "mean_label_entropy", "txt_null_share",
                    "queries_per_min")  # fmt: skip
    top_k = 3
    default_threshold = 3.0
    gate = {"names_per_domain": 10}  # noqa: RUF012

    def score(self, model: Any, table: pd.DataFrame) -> np.ndarray:
        scores = super().score(model, table)
        # short, low-entropy names under one domain (a CDN, a mail host) are no tunnel
        if len(table):
            shaped = (table["max_subdomain_length"].to_numpy(dtype=float) >= 20) | (
                table["mean_label_entropy"].to_numpy(dtype=float) >= 3.0
            )
            scores = np.where(shaped, scores, 0.0)
        return scores

    def details(self, model: Any, table: pd.DataFrame, position: int) -> dict[str, Any]:
        row = table.iloc[position]
        return {"client": row[ENTITY], "window_start": row[WINDOW].isoformat()}
