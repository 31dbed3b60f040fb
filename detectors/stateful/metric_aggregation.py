"""``metric_aggregation``: a metric of ``metric_agg_key`` per ``timeframe`` window, per group.

``metric_agg_type``: ``min``, ``max``, ``avg``, ``sum``, ``count`` (ElastAlert's
``value_count``), ``cardinality`` or ``percentiles`` (with ``percentile: 95``). Fires for
a closed window whose value is above ``max_threshold`` or below ``min_threshold``.
Percentiles keep the window's values (capped by ``max_values``, newest dropped and
counted beyond it) and use linear interpolation.
"""

from __future__ import annotations

from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, iso, scalars
from detectors.stateful.windows import TumblingRule
from soc.event import Event, get_field

AGG_TYPES = ("min", "max", "avg", "sum", "count", "value_count", "cardinality", "percentiles")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class MetricAggregationRule(TumblingRule):
    name = "metric_aggregation"
    keys = frozenset(
        {"timeframe", "metric_agg_key", "metric_agg_type", "max_threshold", "min_threshold", "percentile"}
    )

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.field = params.text("metric_agg_key", required=True)
        self.agg = params.choice("metric_agg_type", AGG_TYPES, "avg")
        if not params.has("metric_agg_type"):
            params.error("metric_agg_type", f"is required (one of {', '.join(AGG_TYPES)})")
        self.max_threshold = params.number("max_threshold")
        self.min_threshold = params.number("min_threshold")
        if self.max_threshold is None and self.min_threshold is None:
            params.error("max_threshold", "set max_threshold or min_threshold")
        self.q = params.number("percentile", required=self.agg == "percentiles")
        if self.q is not None and not 0 <= self.q <= 100:
            params.error("percentile", "must be between 0 and 100")

    def empty(self) -> dict[str, Any]:
        return {"n": 0, "sum": 0.0, "min": None, "max": None, "values": [], "distinct": []}

    def add(self, acc: dict[str, Any], event: Event) -> None:
        raw = get_field(event, self.field)
        if self.agg == "cardinality":
            for v in scalars(raw):
                if v not in acc["distinct"] and len(acc["distinct"]) < self.max_values:
                    acc["distinct"].append(v)
            return
        if self.agg in ("count", "value_count"):
            acc["n"] += len(scalars(raw))
            return
        for v in scalars(raw):
            x = _number(v)
            if x is None:
                continue
            acc["n"] += 1
            acc["sum"] += x
            acc["min"] = x if acc["min"] is None else min(acc["min"], x)
            acc["max"] = x if acc["max"] is None else max(acc["max"], x)
            if self.agg == "percentiles":
                if len(acc["values"]) < self.max_values:
                    acc["values"].append(x)
                else:
                    self.evicted_values += 1

    def value(self, acc: dict[str, Any]) -> float | None:
        if self.agg == "cardinality":
            return float(len(acc["distinct"]))
        if self.agg in ("count", "value_count"):
            return float(acc["n"])
        if acc["n"] == 0:
            return None
        if self.agg == "sum":
            return acc["sum"]
        if self.agg == "avg":
            return acc["sum"] / acc["n"]
        if self.agg == "min":
            return acc["min"]
        if self.agg == "max":
            return acc["max"]
        return percentile(acc["values"], self.q or 50.0)

    def judge(self, acc: dict[str, Any], start: float, end: float) -> Fire | None:
        value = self.value(acc)
        if value is None:
            return None
        above = self.max_threshold is not None and value > self.max_threshold
        below = self.min_threshold is not None and value < self.min_threshold
        if not (above or below):
            return None
        details: dict[str, Any] = {
            "metric_agg_key": self.field,
            "metric_agg_type": self.agg,
            "value": value,
            "window_start": iso(start),
            "window_end": iso(end),
        }
        if self.q is not None and self.agg == "percentiles":
            details["percentile"] = self.q
        details["max_threshold" if above else "min_threshold"] = (
            self.max_threshold if above else self.min_threshold
        )
        return Fire(details)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "metric_agg_key": self.field, "metric_agg_type": self.agg}
