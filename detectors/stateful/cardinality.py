"""``cardinality``: distinct values of ``cardinality_field`` within ``timeframe``, per group.

``max_cardinality: N`` fires when a group sees more than N distinct values (port scan,
password spray); ``min_cardinality: N`` fires when, after a full timeframe, it has seen
fewer than N. One match per crossing: the group re-arms once the condition no longer
holds. Distinct values per group are capped by ``max_values`` (least recently seen
evicted, counted).
"""

from __future__ import annotations

from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType, scalars
from soc.event import Event, get_field

MAX_SHOWN_VALUES = 50


class CardinalityRule(RuleType):
    name = "cardinality"
    keys = frozenset({"timeframe", "cardinality_field", "max_cardinality", "min_cardinality"})
    needs_timeframe = True

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.field = params.text("cardinality_field", required=True)
        self.max_card = params.integer("max_cardinality", minimum=0)
        self.min_card = params.integer("min_cardinality", minimum=1)
        if self.max_card is None and self.min_card is None:
            params.error("max_cardinality", "set max_cardinality or min_cardinality")

    def new_state(self) -> dict[str, Any]:
        return {"values": {}, "first": None, "fired": False}

    def _prune(self, state: dict[str, Any], now: float) -> None:
        values: dict[Any, float] = state["values"]
        cutoff = now - (self.timeframe or 0)
        for value in [v for v, t in values.items() if t <= cutoff]:
            del values[value]

    def _verdict(self, state: dict[str, Any], now: float) -> Fire | None:
        values: dict[Any, float] = state["values"]
        n = len(values)
        high = self.max_card is not None and n > self.max_card
        low = (
            self.min_card is not None
            and state["first"] is not None
            and now - state["first"] >= (self.timeframe or 0)
            and n < self.min_card
        )
        if not (high or low):
            state["fired"] = False
            return None
        if state["fired"]:
            return None
        state["fired"] = True
        details: dict[str, Any] = {
            "field": self.field,
            "cardinality": n,
            "values": sorted((str(v) for v in values), key=str)[:MAX_SHOWN_VALUES],
            "timeframe_s": self.timeframe,
        }
        if high:
            details["max_cardinality"] = self.max_card
        else:
            details["min_cardinality"] = self.min_card
        return Fire(details, window=(now - (self.timeframe or 0), now))

    def observe(self, state: dict[str, Any], ts: float, event: Event) -> Fire | None:
        values: dict[Any, float] = state["values"]
        if state["first"] is None:
            state["first"] = ts
        for value in scalars(get_field(event, self.field)):
            values.pop(value, None)
            values[value] = ts  # insertion order = recency
            if len(values) > self.max_values:
                del values[next(iter(values))]
                self.evicted_values += 1
        self._prune(state, ts)
        return self._verdict(state, ts)

    def tick(self, state: dict[str, Any], now: float) -> Fire | None:
        if self.min_card is None:
            return None
        self._prune(state, now)
        return self._verdict(state, now)

    def idle(self, state: dict[str, Any], now: float) -> bool:
        return self.min_card is None and not state["values"]

    def dump(self, state: dict[str, Any]) -> Any:
        return {**state, "values": list(state["values"].items())}

    def load(self, data: Any) -> dict[str, Any]:
        return {**data, "values": {v: t for v, t in data["values"]}}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "field": self.field, "max": self.max_card, "min": self.min_card}
