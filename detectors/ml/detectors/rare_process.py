"""Rare process lineage: a parent-child process pair never (or almost never) seen in
the baseline, on any host, or a process new to the host that runs it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from detectors.ml.detectors.base import Finding, OwnTableDetector
from detectors.ml.features.common import AGENCY, ENTITY, WINDOW, agency_of, is_process_start
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

FIELDS = ("host.name", "process.name", "process.parent.name", "event.category", "event.type", "event.code",
          "organization.id")  # fmt: skip
STATS = ("pair_count", "child_hosts", "new_on_host")


@dataclass(slots=True)
class LineageModel:
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    child_hosts: dict[str, set[str]] = field(default_factory=dict)
    total: int = 0


def lineage_table(frame: pd.DataFrame, window_seconds: int) -> pd.DataFrame:
    cols = [ENTITY, AGENCY, WINDOW, "parent", "child", "starts"]
    if frame.empty or "process.name" not in frame:
        return pd.DataFrame(columns=cols)
    df = frame[is_process_start(frame) & frame["host.name"].notna() & frame["process.name"].notna()].copy()
    if df.empty:
        return pd.DataFrame(columns=cols)
    df[ENTITY] = df["host.name"]
    df[WINDOW] = window_starts(df["@timestamp"], window_seconds)
    df["parent"] = df["process.parent.name"].fillna("?").astype(str).str.lower()
    df["child"] = df["process.name"].astype(str).str.lower()
    keys = [ENTITY, WINDOW, "parent", "child"]
    out = pd.DataFrame({"starts": df.groupby(keys).size()})
    out[AGENCY] = agency_of(df, keys)
    return out.reset_index()[cols]


class RareProcessDetector(OwnTableDetector):
    name = "rare_process"
    title_vi = "Cặp tiến trình cha-con hiếm gặp"
    title_en = "Rare parent-child process pair"
    severity = "medium"
    tags = ("attack.execution", "attack.t1059")
    feature_set = "process"
    group_field = "host.name"
    default_threshold = 9.0

    table_fields = FIELDS
    table_features = STATS

    def build_table(self, frame: pd.DataFrame, window_seconds: int) -> pd.DataFrame:
        return lineage_table(frame, window_seconds)

    def fit(self, table: pd.DataFrame) -> LineageModel:
        model = LineageModel()
        for parent, child, host, n in zip(table["parent"], table["child"], table[ENTITY], table["starts"],
                                          strict=True):  # fmt: skip
            model.pairs[(parent, child)] += int(n)
            model.child_hosts.setdefault(child, set()).add(str(host))
            model.total += int(n)
        return model

    def score(self, model: LineageModel, table: pd.DataFrame) -> np.ndarray:
        """10 for a pair never seen, falling with the log of how often it was seen."""
        if table.empty:
            return np.zeros(0)
        scale = math.log(model.total + 2)
        out = np.empty(len(table))
        for i, (parent, child, host) in enumerate(
            zip(table["parent"], table["child"], table[ENTITY], strict=True)
        ):
            seen = model.pairs.get((parent, child), 0)
            rarity = 10.0 * (1.0 - math.log(seen + 1) / scale)
            if str(host) not in model.child_hosts.get(child, ()):
                rarity += 0.5
            out[i] = rarity
        return out

    def explain(self, model: LineageModel, table: pd.DataFrame, position: int) -> list[dict[str, Any]]:
        row = table.iloc[position]
        hosts = model.child_hosts.get(row["child"], set())
        return [
            {"feature": "pair_count", "value": int(row["starts"]), "baseline": "population",
             "baseline_count": model.pairs.get((row["parent"], row["child"]), 0),
             "baseline_starts": model.total},
            {"feature": "child_hosts", "value": len(hosts), "new_on_host": str(row[ENTITY]) not in hosts},
        ]  # fmt: skip

    def details(self, model: LineageModel, table: pd.DataFrame, position: int) -> dict[str, Any]:
        row = table.iloc[position]
        return {"process.parent.name": row["parent"], "process.name": row["child"]}

    def explanation(self, finding: Finding) -> dict[str, str]:
        pair = f"{finding.extra['process.parent.name']} -> {finding.extra['process.name']}"
        seen = finding.top_features[0]["baseline_count"] if finding.top_features else 0
        total = finding.top_features[0]["baseline_starts"] if finding.top_features else 0
        new = finding.top_features[1]["new_on_host"] if len(finding.top_features) > 1 else False
        host_vi = "; tiến trình con lần đầu chạy trên máy này" if new else ""
        host_en = "; the child process never ran on this host before" if new else ""
        return {
            "vi": f"Cặp tiến trình cha-con hiếm gặp tại {finding.entity}: {pair} xuất hiện {seen} lần "
            f"trong {total} lần khởi chạy của đường nền{host_vi}.",
            "en": f"Rare parent-child process pair at {finding.entity}: {pair} seen {seen} times in "
            f"{total} process starts of the baseline{host_en}.",
        }

    def evidence_filters(self, entity: str, extra: dict[str, Any]) -> list[list[FieldFilter]]:
        by_name = [
            FieldFilter("host.name", "eq", entity),
            FieldFilter("process.name", "prefix", extra["process.name"]),
        ]
        return [by_name, [FieldFilter("host.name", "eq", entity)]]
