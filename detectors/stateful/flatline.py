"""``flatline``: fewer than ``threshold`` events within ``timeframe`` (a source gone silent).

A group is watched from its first event. It fires when a full ``timeframe`` has passed
since then and the count inside the last ``timeframe`` is below ``threshold``; the clock
is the detector's event time (the newest ``@timestamp`` of any event, advanced by the
wall clock while the engine receives live data). One match per silence; the group re-arms
when the count is back at ``threshold``. ``forget_keys: true`` stops watching a group
once it fired (ElastAlert).
"""

from __future__ import annotations

from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType, iso
from soc.event import Event


class FlatlineRule(RuleType):
    name = "flatline"
    keys = frozenset({"timeframe", "threshold", "forget_keys"})
    needs_timeframe = True

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.threshold = params.integer("threshold", required=True, minimum=1) or 1
        self.forget = params.boolean("forget_keys")

    def new_state(self) -> dict[str, Any]:
        return {"times": [], "first": None, "last": None, "fired": False}

    def _prune(self, state: dict[str, Any], now: float) -> None:
        cutoff = now - (self.timeframe or 0)
        times: list[float] = state["times"]
        drop = 0
        while drop < len(times) and times[drop] <= cutoff:
            drop += 1
        del times[:drop]

    def observe(self, state: dict[str, Any], ts: float, event: Event) -> Fire | None:
        if state["first"] is None:
            state["first"] = ts
        state["last"] = ts if state["last"] is None else max(state["last"], ts)
        state["times"].append(ts)
        if len(state["times"]) > self.threshold:  # only "fewer than threshold" matters
            del state["times"][: len(state["times"]) - self.threshold]
        self._prune(state, state["last"])
        if len(state["times"]) >= self.threshold:
            state["fired"] = False
        return None

    def tick(self, state: dict[str, Any], now: float) -> Fire | None:
        if state["first"] is None or now - state["first"] < (self.timeframe or 0):
            return None
        self._prune(state, now)
        count = len(state["times"])
        if count >= self.threshold or state["fired"]:
            return None
        state["fired"] = True
        details = {
            "count": count,
            "threshold": self.threshold,
            "timeframe_s": self.timeframe,
            "last_event": iso(state["last"]),
            "silent_for_s": round(now - state["last"], 3),
        }
        return Fire(details, window=(float("-inf"), now), forget=self.forget)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "threshold": self.threshold}
