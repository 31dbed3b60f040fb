"""``frequency``: at least ``num_events`` matching events within ``timeframe``, per group.

Sliding window over event time. On firing, the group's window starts over (as in
ElastAlert), so a flood fires once per ``num_events`` events, throttled by ``realert``.
"""

from __future__ import annotations

from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType
from soc.event import Event


class FrequencyRule(RuleType):
    name = "frequency"
    keys = frozenset({"num_events", "timeframe"})
    needs_timeframe = True

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.num_events = params.integer("num_events", required=True, minimum=1) or 1

    def new_state(self) -> list[float]:
        return []

    def observe(self, state: list[float], ts: float, event: Event) -> Fire | None:
        state.append(ts)
        if len(state) > 1 and ts < state[-2]:
            state.sort()
        newest = state[-1]
        cutoff = newest - (self.timeframe or 0)
        drop = 0
        while drop < len(state) and state[drop] <= cutoff:
            drop += 1
        del state[:drop]
        if len(state) < self.num_events:
            return None
        count = len(state)
        start = state[0]
        state.clear()
        return Fire(
            {"count": count, "num_events": self.num_events, "timeframe_s": self.timeframe},
            window=(start, newest),
        )

    def idle(self, state: list[float], now: float) -> bool:
        return not state or state[-1] <= now - (self.timeframe or 0)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "num_events": self.num_events}
