"""``spike``: the count in the current ``timeframe`` against the one before it, per group.

The reference window is ``(now - 2*timeframe, now - timeframe]``, the current one
``(now - timeframe, now]``, counted in buckets of ``timeframe / 60`` (memory per group is
bounded whatever the volume). ``spike_type: up`` fires when ``cur >= spike_height * ref``,
``down`` when ``cur <= ref / spike_height``, ``both`` on either; ``threshold_ref`` and
``threshold_cur`` are the minimum counts of each window. No alert while the reference
window is not yet fully observed (the rule's first event is less than two timeframes
old), nor when ``ref`` is 0 unless ``alert_on_new_data: true``. One match per crossing.
"""

from __future__ import annotations

import math
from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType
from soc.event import Event

BUCKETS_PER_WINDOW = 60


class SpikeRule(RuleType):
    name = "spike"
    keys = frozenset(
        {"timeframe", "spike_height", "spike_type", "threshold_ref", "threshold_cur", "alert_on_new_data"}
    )
    needs_timeframe = True

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.height = params.number("spike_height", required=True) or 1.0
        if self.height <= 0:
            params.error("spike_height", "must be greater than zero")
            self.height = 1.0
        self.kind = params.choice("spike_type", ("up", "down", "both"), "both")
        self.threshold_ref = params.integer("threshold_ref", default=0) or 0
        self.threshold_cur = params.integer("threshold_cur", default=0) or 0
        self.on_new_data = params.boolean("alert_on_new_data")
        self.resolution = (self.timeframe or 60.0) / BUCKETS_PER_WINDOW
        self.started: float | None = None  # the rule's first event (set by the runtime)

    def new_state(self) -> dict[str, Any]:
        return {"buckets": {}, "fired": False}

    def _counts(self, state: dict[str, Any], now: float) -> tuple[int, int]:
        top = math.floor(now / self.resolution)
        buckets: dict[int, int] = state["buckets"]
        for b in [b for b in buckets if b <= top - 2 * BUCKETS_PER_WINDOW]:
            del buckets[b]
        cur = sum(n for b, n in buckets.items() if top - BUCKETS_PER_WINDOW < b <= top)
        ref = sum(
            n for b, n in buckets.items() if top - 2 * BUCKETS_PER_WINDOW < b <= top - BUCKETS_PER_WINDOW
        )
        return ref, cur

    def _verdict(self, state: dict[str, Any], now: float, direction: tuple[str, ...]) -> Fire | None:
        ref, cur = self._counts(state, now)
        tf = self.timeframe or 0
        ready = self.started is not None and now - self.started >= 2 * tf
        up = "up" in direction and self.kind in ("up", "both") and cur >= self.height * ref
        down = "down" in direction and self.kind in ("down", "both") and cur <= ref / self.height
        ok = (
            ready
            and (up or down)
            and ref >= self.threshold_ref
            and cur >= self.threshold_cur
            and (ref > 0 or self.on_new_data)
        )
        if not ok:
            if direction == ("up", "down"):
                state["fired"] = False
            return None
        if state["fired"]:
            return None
        state["fired"] = True
        details = {
            "spike_type": "up" if up else "down",
            "reference_count": ref,
            "current_count": cur,
            "spike_height": self.height,
            "timeframe_s": tf,
        }
        return Fire(details, window=(now - tf, now))

    def observe(self, state: dict[str, Any], ts: float, event: Event) -> Fire | None:
        b = math.floor(ts / self.resolution)
        buckets: dict[int, int] = state["buckets"]
        buckets[b] = buckets.get(b, 0) + 1
        if len(buckets) > 4 * BUCKETS_PER_WINDOW:  # out-of-order stragglers
            for old in sorted(buckets)[: len(buckets) - 4 * BUCKETS_PER_WINDOW]:
                del buckets[old]
        return self._verdict(state, ts, ("up", "down"))

    def tick(self, state: dict[str, Any], now: float) -> Fire | None:
        return self._verdict(state, now, ("up", "down"))

    def idle(self, state: dict[str, Any], now: float) -> bool:
        self._counts(state, now)
        return not state["buckets"] and not state["fired"]

    def dump(self, state: dict[str, Any]) -> Any:
        return {"buckets": list(state["buckets"].items()), "fired": state["fired"]}

    def load(self, data: Any) -> dict[str, Any]:
        return {"buckets": {int(b): int(n) for b, n in data["buckets"]}, "fired": bool(data["fired"])}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "spike_height": self.height, "spike_type": self.kind}
