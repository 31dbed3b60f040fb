"""DGA-like domains: a client asking, within one window, for many registered domains
that are both rare (never asked during the baseline, by anyone) and shaped like
generated names (a long first label with high character entropy, long consonant runs
or many digits), the way malware looks for its rendezvous among algorithm-made names.

Score: the number of such domains in the window. Rarity is the baseline's set of
registered domains; the character distribution is judged on the label itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from detectors.ml.detectors.base import Finding, OwnTableDetector
from detectors.ml.features.common import AGENCY, ENTITY, WINDOW, agency_of, is_dns_query, shannon_entropy
from detectors.ml.features.dns import FIELDS, registered_domain
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

STATS = ("domains", "rare_domains", "dga_like_domains")
CONSONANT_RUN = re.compile(r"[bcdfghjklmnpqrstvwxz]{4,}")
MAX_LISTED = 10


def dga_like(domain: str) -> bool:
    """A generated-looking first label: at least 8 characters and random-looking."""
    label = domain.split(".")[0]
    if len(label) < 8:
        return False
    digits = sum(c.isdigit() for c in label) / len(label)
    return shannon_entropy(label) >= 3.0 or bool(CONSONANT_RUN.search(label)) or digits >= 0.3


@dataclass(slots=True)
class DomainModel:
    seen: set[str] = field(default_factory=set)


def domain_table(frame: pd.DataFrame, window_seconds: int) -> pd.DataFrame:
    cols = [ENTITY, AGENCY, WINDOW, "names", *STATS]
    if frame.empty or "dns.question.name" not in frame:
        return pd.DataFrame(columns=cols)
    queries = frame[
        is_dns_query(frame) & frame["dns.question.name"].notna() & frame["source.ip"].notna()
    ].copy()
    if queries.empty:
        return pd.DataFrame(columns=cols)
    queries[ENTITY] = queries["source.ip"]
    queries[WINDOW] = window_starts(queries["@timestamp"], window_seconds)
    regs = queries.get("dns.question.registered_domain")
    queries["domain"] = [
        registered_domain(str(n), r)
        for n, r in zip(
            queries["dns.question.name"], regs if regs is not None else [None] * len(queries), strict=True
        )
    ]
    keys = [ENTITY, WINDOW]
    out = pd.DataFrame({"names": queries.groupby(keys)["domain"].agg(lambda s: tuple(sorted(set(s))))})
    out["domains"] = out["names"].map(len)
    out["rare_domains"] = 0.0
    out["dga_like_domains"] = 0.0
    out[AGENCY] = agency_of(queries, keys)
    return out.reset_index()[cols]


class DgaDetector(OwnTableDetector):
    name = "dga"
    title_vi = "Truy vấn nhiều tên miền hiếm giống sinh tự động (DGA)"
    title_en = "Many rare, generated-looking domains (DGA)"
    severity = "high"
    tags = ("attack.command_and_control", "attack.t1568.002")
    feature_set = "dga"
    group_field = "source.ip"
    default_threshold = 5.0

    table_fields = FIELDS
    table_features = STATS

    def build_table(self, frame: pd.DataFrame, window_seconds: int) -> pd.DataFrame:
        return domain_table(frame, window_seconds)

    def fit(self, table: pd.DataFrame) -> DomainModel:
        return DomainModel({d for names in table["names"] for d in names})

    def _suspects(self, model: DomainModel, names: tuple[str, ...]) -> list[str]:
        return [d for d in names if d not in model.seen and dga_like(d)]

    def score(self, model: DomainModel, table: pd.DataFrame) -> np.ndarray:
        return np.array([float(len(self._suspects(model, names))) for names in table["names"]])

    def explain(self, model: DomainModel, table: pd.DataFrame, position: int) -> list[dict[str, Any]]:
        row = table.iloc[position]
        rare = [d for d in row["names"] if d not in model.seen]
        suspects = self._suspects(model, row["names"])
        return [
            {"feature": "dga_like_domains", "value": len(suspects), "examples": suspects[:MAX_LISTED]},
            {"feature": "rare_domains", "value": len(rare), "baseline_domains": len(model.seen)},
            {"feature": "domains", "value": int(row["domains"])},
        ]

    def explanation(self, finding: Finding) -> dict[str, str]:
        top = finding.top_features[0]
        examples = ", ".join(top.get("examples", [])[:5])
        return {
            "vi": f"{self.title_vi} tại {finding.entity}: {top['value']} tên miền chưa từng thấy trong đường "
            f"nền và có dạng ngẫu nhiên (ví dụ {examples}).",
            "en": f"{self.title_en} at {finding.entity}: {top['value']} domains never seen in the baseline "
            f"and random-looking (e.g. {examples}).",
        }

    def evidence_filters(self, entity: str, extra: dict[str, Any]) -> list[list[FieldFilter]]:
        return [[FieldFilter("source.ip", "eq", entity), FieldFilter("event.action", "eq", "dns_query")]]
