"""Beaconing: a host connecting to one destination at a regular interval (command and
control check-ins), over spans of ``window_multiple`` scoring windows.

Per (source, destination address, port) and span: the intervals between connections,
their jitter (the smaller of the coefficient of variation and its robust form, MAD over
median, so that a few missed check-ins do not hide a beacon), their skew (Bowley), the
regularity of the bytes sent, and how much of the span the connections cover (a burst
of page loads is regular but short). Score in [0, 1]:
``0.45 (1 - jitter) + 0.15 (1 - |skew|) + 0.15 (1 - bytes CV) + 0.25 min(1, 2 coverage)``.
At least ``MIN_CONNECTIONS`` connections per span are needed (a beacon slower than
every 30 minutes needs a longer span). Destinations that already beaconed during the
baseline (update checks, NTP, monitoring) have their score halved: they are known
periodic traffic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from detectors.ml.detectors.base import Finding, OwnTableDetector
from detectors.ml.features.common import AGENCY, ENTITY, WINDOW, agency_of, is_connection
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

FIELDS = ("source.ip", "destination.ip", "destination.port", "source.bytes", "network.bytes",
          "event.category", "event.action", "dns.type", "organization.id")  # fmt: skip
STATS = ("connections", "interval_median_s", "jitter", "skew", "bytes_cv", "coverage")
MIN_CONNECTIONS = 12  # fewer intervals give too noisy a jitter (1 false alert in 3,466 pairs at 6)
MIN_INTERVAL_S = 10.0


@dataclass(slots=True)
class BeaconModel:
    known_periodic: set[tuple[str, str]] = field(default_factory=set)
    threshold: float = 0.8


def pair_table(frame: pd.DataFrame, span_seconds: int) -> pd.DataFrame:
    """One row per (source, destination, port, span) with the interval statistics."""
    empty = pd.DataFrame(columns=[ENTITY, AGENCY, WINDOW, "source", "destination", "port", *STATS])
    if frame.empty:
        return empty
    df = frame[is_connection(frame) & frame["source.ip"].notna() & frame["destination.ip"].notna()].copy()
    if df.empty:
        return empty
    df["port"] = df["destination.port"].fillna(-1).astype(int)
    df[WINDOW] = window_starts(df["@timestamp"], span_seconds)
    df["t"] = (df["@timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    bytes_ = pd.to_numeric(df.get("source.bytes"), errors="coerce")
    if "network.bytes" in df:
        bytes_ = bytes_.fillna(pd.to_numeric(df["network.bytes"], errors="coerce"))
    df["bytes"] = bytes_.fillna(0.0)
    keys = ["source.ip", "destination.ip", "port", WINDOW]
    df = df.sort_values([*keys, "t"])
    df["gap"] = df.groupby(keys, sort=False)["t"].diff()
    grouped = df.groupby(keys, sort=False)
    counts = grouped.size()
    busy = counts[counts >= MIN_CONNECTIONS].index
    df = df.set_index(keys).loc[busy].reset_index() if len(busy) else df.iloc[0:0]
    if df.empty:
        return empty
    gaps = df.dropna(subset=["gap"]).groupby(keys)["gap"]
    q1, q2, q3 = gaps.quantile(0.25), gaps.median(), gaps.quantile(0.75)
    mad = (df.dropna(subset=["gap"]).join(q2.rename("med"), on=keys).eval("abs(gap - med)")
           .groupby([df.dropna(subset=["gap"])[k] for k in keys]).median())  # fmt: skip
    mean, std = gaps.mean(), gaps.std(ddof=0)
    by = df.groupby(keys)
    span = by["t"].max() - by["t"].min()
    bmean, bstd = by["bytes"].mean(), by["bytes"].std(ddof=0)
    out = pd.DataFrame({
        "connections": by.size(),
        "interval_median_s": q2,
        "jitter": np.minimum(std / mean.replace(0, np.nan), 1.4826 * mad / q2.replace(0, np.nan)),
        "skew": ((q3 + q1 - 2 * q2) / (q3 - q1).replace(0, np.nan)).fillna(0.0),
        "bytes_cv": (bstd / bmean.replace(0, np.nan)).fillna(0.0),
        "coverage": span / float(span_seconds),
    })  # fmt: skip
    out["jitter"] = out["jitter"].fillna(1.0)
    out[AGENCY] = agency_of(df, keys)
    out = out.reset_index().rename(columns={"source.ip": "source", "destination.ip": "destination"})
    out[ENTITY] = (
        out["source"].astype(str) + " -> " + out["destination"].astype(str) + ":" + out["port"].astype(str)
    )
    return out[[ENTITY, AGENCY, WINDOW, "source", "destination", "port", *STATS]]


def beacon_score(table: pd.DataFrame) -> np.ndarray:
    if table.empty:
        return np.zeros(0)
    jitter = np.clip(table["jitter"].to_numpy(dtype=float), 0, 1)
    skew = np.clip(np.abs(table["skew"].to_numpy(dtype=float)), 0, 1)
    size = np.clip(table["bytes_cv"].to_numpy(dtype=float), 0, 1)
    cover = np.clip(2 * table["coverage"].to_numpy(dtype=float), 0, 1)
    score = 0.45 * (1 - jitter) + 0.15 * (1 - skew) + 0.15 * (1 - size) + 0.25 * cover
    ok = (table["connections"].to_numpy(dtype=float) >= MIN_CONNECTIONS) & (
        table["interval_median_s"].to_numpy(dtype=float) >= MIN_INTERVAL_S
    )
    return np.where(ok, score, 0.0)


class BeaconingDetector(OwnTableDetector):
    name = "beaconing"
    title_vi = "Kết nối định kỳ (beacon) tới một đích"
    title_en = "Periodic beaconing to one destination"
    severity = "high"
    tags = ("attack.command_and_control", "attack.t1071", "attack.t1573")
    feature_set = "beaconing"
    group_field = "source.ip"
    default_threshold = 0.8
    window_multiple = 36  # 6 hours of 10-minute windows

    table_fields = FIELDS
    table_features = STATS

    def build_table(self, frame: pd.DataFrame, window_seconds: int) -> pd.DataFrame:
        return pair_table(frame, window_seconds)

    def fit(self, table: pd.DataFrame) -> BeaconModel:
        scores = beacon_score(table)
        periodic = table[scores >= self.default_threshold]
        return BeaconModel({(str(d), str(p)) for d, p in zip(periodic["destination"], periodic["port"],
                                                               strict=True)})  # fmt: skip

    def score(self, model: BeaconModel, table: pd.DataFrame) -> np.ndarray:
        scores = beacon_score(table)
        if len(table) and model.known_periodic:
            known = np.array([(str(d), str(p)) in model.known_periodic
                              for d, p in zip(table["destination"], table["port"], strict=True)])  # fmt: skip
            scores = np.where(known, scores * 0.5, scores)
        return scores

    def explain(self, model: BeaconModel, table: pd.DataFrame, position: int) -> list[dict[str, Any]]:
        row = table.iloc[position]
        return [{"feature": n, "value": round(float(row[n]), 4)} for n in STATS]

    def details(self, model: BeaconModel, table: pd.DataFrame, position: int) -> dict[str, Any]:
        row = table.iloc[position]
        return {
            "source.ip": row["source"],
            "destination.ip": row["destination"],
            "destination.port": int(row["port"]),
            "known_periodic_destination": (str(row["destination"]), str(row["port"])) in model.known_periodic,
        }

    def explanation(self, finding: Finding) -> dict[str, str]:
        f = {t["feature"]: t["value"] for t in finding.top_features}
        known_vi = (
            " (đích đã có kết nối định kỳ trong đường nền)"
            if finding.extra.get("known_periodic_destination")
            else ""
        )
        known_en = (
            " (destination already periodic in the baseline)"
            if finding.extra.get("known_periodic_destination")
            else ""
        )
        n, period = int(f.get("connections", 0)), f"{f.get('interval_median_s', 0):.0f}"
        jitter, size, cover = (
            f"{f.get('jitter', 0):.2f}",
            f"{f.get('bytes_cv', 0):.2f}",
            f"{f.get('coverage', 0):.0%}",
        )
        return {
            "vi": f"Kết nối định kỳ {finding.entity}{known_vi}: {n} kết nối, chu kỳ trung vị {period} s, "
            f"dao động {jitter}, độ biến thiên kích thước {size}, phủ {cover} khoảng thời gian.",
            "en": f"Periodic connections {finding.entity}{known_en}: {n} connections, median interval "
            f"{period} s, jitter {jitter}, size variation {size}, covering {cover} of the span.",
        }

    def evidence_filters(self, entity: str, extra: dict[str, Any]) -> list[list[FieldFilter]]:
        return [[FieldFilter("source.ip", "eq", extra["source.ip"]),
                 FieldFilter("destination.ip", "eq", extra["destination.ip"])]]  # fmt: skip
