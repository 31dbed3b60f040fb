"""``percentage_match``: the share of a window's events that pass ``match_bucket_filter``.

Per ``timeframe`` window and group: fires when the percentage is below
``min_percentage`` or above ``max_percentage``, if the window has at least
``min_denominator`` events (default 1). ``match_bucket_filter`` takes the same forms as
``filter``.
"""

from __future__ import annotations

from typing import Any

from detectors.stateful.filter import build_filter
from detectors.stateful.params import Params, RuleParamError
from detectors.stateful.ruletype import Fire, iso
from detectors.stateful.windows import TumblingRule
from soc.event import Event


class PercentageMatchRule(TumblingRule):
    name = "percentage_match"
    keys = frozenset(
        {"timeframe", "match_bucket_filter", "min_percentage", "max_percentage", "min_denominator"}
    )

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.bucket = None
        raw = params.raw("match_bucket_filter")
        if raw is None:
            params.error("match_bucket_filter", "is required for this rule type")
        else:
            try:
                self.bucket = build_filter(raw, key="match_bucket_filter")
            except RuleParamError as e:
                params.error(e.key, e.reason)
        self.min_pct = params.number("min_percentage")
        self.max_pct = params.number("max_percentage")
        if self.min_pct is None and self.max_pct is None:
            params.error("min_percentage", "set min_percentage or max_percentage")
        self.min_denominator = params.integer("min_denominator", default=1, minimum=1) or 1

    def empty(self) -> dict[str, Any]:
        return {"total": 0, "matched": 0}

    def add(self, acc: dict[str, Any], event: Event) -> None:
        acc["total"] += 1
        if self.bucket is not None and self.bucket(event):
            acc["matched"] += 1

    def judge(self, acc: dict[str, Any], start: float, end: float) -> Fire | None:
        total = acc["total"]
        if total < self.min_denominator:
            return None
        pct = 100.0 * acc["matched"] / total
        low = self.min_pct is not None and pct < self.min_pct
        high = self.max_pct is not None and pct > self.max_pct
        if not (low or high):
            return None
        details: dict[str, Any] = {
            "percentage": round(pct, 3),
            "match_count": acc["matched"],
            "total": total,
            "window_start": iso(start),
            "window_end": iso(end),
        }
        details["max_percentage" if high else "min_percentage"] = self.max_pct if high else self.min_pct
        return Fire(details)
