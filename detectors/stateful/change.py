"""``change``: the value of ``compare_key`` changed for a group (``query_key`` required).

Fires when a group's value differs from the previous one; with ``timeframe``, only when
the previous value was seen within it. ``ignore_null: true`` skips events without the
field (else a missing value counts as a value).
"""

from __future__ import annotations

from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType, field_values
from soc.event import Event


class ChangeRule(RuleType):
    name = "change"
    keys = frozenset({"compare_key", "ignore_null", "timeframe"})
    keeps_evidence = False

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.compare = params.fields("compare_key", required=True)
        self.ignore_null = params.boolean("ignore_null")
        if not params.has("query_key") and not params.has("group_by"):
            params.error("query_key", "is required for a change rule")

    def new_state(self) -> dict[str, Any]:
        return {"value": None, "ts": None, "set": False}

    def observe(self, state: dict[str, Any], ts: float, event: Event) -> Fire | None:
        value = field_values(event, self.compare)
        if value is None and self.ignore_null:
            return None
        current = None if value is None else [list(v) if isinstance(v, tuple) else v for v in value]
        fire = None
        if state["set"] and current != state["value"]:
            recent = self.timeframe is None or ts - state["ts"] <= self.timeframe
            if recent:
                fire = Fire(
                    {"compare_key": list(self.compare), "old_value": state["value"], "new_value": current},
                    events=[event],
                )
        state.update(value=current, ts=ts, set=True)
        return fire

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "compare_key": list(self.compare)}
