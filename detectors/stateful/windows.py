"""Tumbling windows of ``timeframe`` aligned to the epoch, for rules judged per window.

:class:`TumblingRule` keeps, per group, the open window's start and the subclass's
accumulator. A window is judged (``judge``) when event time passes its end: on the
group's next event (before the event is counted) or on a tick. Events older than the
open window are late and counted in ``late_events``, not judged again.
"""

from __future__ import annotations

import math
from typing import Any

from detectors.stateful.ruletype import Fire, RuleType
from soc.event import Event


class TumblingRule(RuleType):
    """Base of rules judged once per closed window (``metric_aggregation``, ``percentage_match``)."""

    needs_timeframe = True
    late_events = 0

    def empty(self) -> dict[str, Any]:
        raise NotImplementedError

    def add(self, acc: dict[str, Any], event: Event) -> None:
        raise NotImplementedError

    def judge(self, acc: dict[str, Any], start: float, end: float) -> Fire | None:
        raise NotImplementedError

    def new_state(self) -> dict[str, Any]:
        return {"start": None, "acc": self.empty()}

    def _window_start(self, ts: float) -> float:
        tf = self.timeframe or 60.0
        return math.floor(ts / tf) * tf

    def _close(self, state: dict[str, Any]) -> Fire | None:
        start = state["start"]
        end = start + (self.timeframe or 60.0)
        fire = self.judge(state["acc"], start, end)
        state["start"], state["acc"] = None, self.empty()
        if fire is not None and fire.window is None:
            fire.window = (start, end - 1e-6)
        return fire

    def observe(self, state: dict[str, Any], ts: float, event: Event) -> Fire | None:
        start = self._window_start(ts)
        fire = None
        if state["start"] is not None and start > state["start"]:
            fire = self._close(state)
        elif state["start"] is not None and start < state["start"]:
            type(self).late_events += 1
            return None
        if state["start"] is None:
            state["start"] = start
        self.add(state["acc"], event)
        return fire

    def tick(self, state: dict[str, Any], now: float) -> Fire | None:
        if state["start"] is not None and now >= state["start"] + (self.timeframe or 60.0):
            return self._close(state)
        return None

    def idle(self, state: dict[str, Any], now: float) -> bool:
        return state["start"] is None
