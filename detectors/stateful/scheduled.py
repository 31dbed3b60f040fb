"""The scheduled adapter: one stateful rule as a :class:`detectors.base.ScheduledRule`.

``evaluate(store, start, end)`` reads the window's events from the store (the rule's
query filters pushed down, oldest first, cursor pages; any Sigma ``detection`` tested in
memory), feeds them to the same :class:`~detectors.stateful.runtime.RuleRuntime` the
streaming detector uses, then ticks it at ``end`` (the window is complete, so flatline
and closed windows are judged there). State (windows, baselines, realert clocks) carries
over from one window to the next and is given to the scheduler by ``snapshot()``.

A failed evaluation (:class:`soc.store.base.StoreError`) leaves the state as it was
before the window, so the retry sees the window afresh. A ``new_term`` rule seeds its
baseline from ``[start - terms_window_size, start)`` before its first window.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from detectors.base import Match, RuleInfo
from detectors.sigma.engine import event_time
from detectors.stateful.model import StatefulRule
from detectors.stateful.runtime import RuleRuntime
from detectors.stateful.seed import iter_window, seed_new_terms
from soc.event import ensure_utc


class ScheduledStatefulRule:
    """A stateful rule evaluated over the store, window by window."""

    def __init__(self, rule: StatefulRule) -> None:
        self.stateful = rule
        self.rule: RuleInfo = rule.info
        self.run_every: timedelta = rule.run_every
        self.buffer_time: timedelta = rule.buffer_time
        self.query_delay: timedelta = rule.query_delay
        self.runtime = RuleRuntime(rule)
        self.seeded = False

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        start, end = ensure_utc(start), ensure_utc(end)
        if end <= start:
            raise ValueError(f"rule {self.rule.id}: empty window [{start}, {end})")
        before = self.snapshot()
        try:
            if not self.seeded and self.stateful.type == "new_term":
                seed_new_terms(self.runtime, store, start)
                self.seeded = True
            out: list[Match] = []
            for event in iter_window(store, self.stateful.filter.query, start, end):
                out.extend(self.runtime.observe(event, event_time(event)))
            out.extend(self.runtime.tick(end))
            return out
        except BaseException:
            self.restore(before)
            raise

    def snapshot(self) -> dict[str, Any]:
        return {"runtime": self.runtime.snapshot(), "seeded": self.seeded}

    def restore(self, state: dict[str, Any]) -> None:
        if not state:
            return
        fresh = RuleRuntime(self.stateful)
        if fresh.restore(state.get("runtime") or {}):
            self.runtime = fresh
        self.seeded = bool(state.get("seeded"))
