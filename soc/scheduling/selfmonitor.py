"""The dead-man's switch: alerts the engine raises on itself (rule ids ``soc.engine.*``).

* ``soc.engine.store_unreachable``: the event store has failed every call (rule runs and
  the monitor's own probe) for ``store_unreachable_after``; raised once per outage.
* ``soc.engine.rule_failing``: a scheduled rule failed ``rule_failures`` consecutive runs;
  raised once per failure streak.
* ``soc.engine.windows_skipped``: windows older than the catch-up horizon were recorded as
  skipped instead of evaluated (nothing is ever skipped silently).

The alerts go through the same sink as rule matches (the engine's alert repository,
forwarding and alerts index), which lives in the state store, not the event store, so
they are raised while the event store is down.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from detectors.base import Match, RuleInfo
from soc.event import format_ts
from soc.store.base import Query

log = logging.getLogger(__name__)

AlertSink = Callable[[Sequence[Match]], int]
"""Turns matches into alerts; returns how many alerts were created or updated."""

ENGINE_RULES = {
    "store_unreachable": RuleInfo(
        id="soc.engine.store_unreachable",
        title="Event store unreachable / Kho sự kiện không truy cập được",
        type="engine",
        severity="high",
        description="The engine cannot query its event store: scheduled rules and log-source "
        "health checks are not running until it recovers (missed windows are caught up then).",
        author="soc engine",
    ),
    "rule_failing": RuleInfo(
        id="soc.engine.rule_failing",
        title="Scheduled rule keeps failing / Luật định kỳ liên tục lỗi",
        type="engine",
        severity="high",
        description="A scheduled rule failed several consecutive runs; its windows are retried "
        "in order, but no detection happens for it meanwhile.",
        author="soc engine",
    ),
    "windows_skipped": RuleInfo(
        id="soc.engine.windows_skipped",
        title="Scheduled windows skipped beyond the catch-up horizon / Bỏ qua cửa sổ quá hạn",
        type="engine",
        severity="high",
        description="After a long outage, windows older than detection.scheduler.catchup_horizon_s "
        "were recorded as skipped and not evaluated.",
        author="soc engine",
    ),
}


class SelfMonitor:
    """Tracks store and rule failures and raises the engine's own alerts through ``sink``."""

    def __init__(
        self,
        sink: AlertSink,
        *,
        store_unreachable_after: timedelta = timedelta(minutes=5),
        rule_failures: int = 3,
        hostname: str | None = None,
    ) -> None:
        if rule_failures < 1:
            raise ValueError(f"rule_failures must be >= 1, got {rule_failures}")
        self._sink = sink
        self.store_unreachable_after = store_unreachable_after
        self.rule_failures = rule_failures
        self.hostname = hostname or socket.gethostname()
        self._lock = threading.Lock()
        self._store_down_since: datetime | None = None
        self._store_alerted = False
        self.raised: list[Match] = []
        """Every engine alert raised by this monitor (newest last)."""

    # the store ------------------------------------------------------------------------------

    def probe(self, store: Any, now: datetime) -> bool:
        """Ask the store a cheap question; record the answer. True when it answered."""
        try:
            store.count(Query(start=now - timedelta(seconds=1), end=now))
        except Exception as exc:  # any failure to answer is an outage here
            self.store_failed(now, exc)
            return False
        self.store_ok()
        return True

    def store_failed(self, now: datetime, error: BaseException) -> None:
        with self._lock:
            if self._store_down_since is None:
                self._store_down_since = now
            down_for = now - self._store_down_since
            if self._store_alerted or down_for < self.store_unreachable_after:
                return
            self._store_alerted = True
            since = self._store_down_since
        self._raise(
            "store_unreachable",
            now,
            {"host.name": self.hostname},
            {"down_since": format_ts(since), "down_for_s": down_for.total_seconds(), "error": str(error)},
        )

    def store_ok(self) -> None:
        with self._lock:
            if self._store_down_since is not None:
                log.info("event store reachable again")
            self._store_down_since = None
            self._store_alerted = False

    @property
    def store_down_since(self) -> datetime | None:
        return self._store_down_since

    # rules ----------------------------------------------------------------------------------

    def rule_failed(self, rule: RuleInfo, consecutive: int, error: str, now: datetime) -> None:
        if consecutive != self.rule_failures:  # once per streak: the run that reaches the bar
            return
        self._raise(
            "rule_failing",
            now,
            {"host.name": self.hostname, "rule.id": rule.id},
            {"rule_id": rule.id, "rule_title": rule.title, "consecutive_failures": consecutive,
             "error": error},
        )

    def windows_skipped(self, rule: RuleInfo, start: datetime, end: datetime, reason: str,
                        now: datetime) -> None:
        self._raise(
            "windows_skipped",
            now,
            {"host.name": self.hostname, "rule.id": rule.id},
            {"rule_id": rule.id, "rule_title": rule.title, "window_start": format_ts(start),
             "window_end": format_ts(end), "reason": reason},
        )

    def _raise(self, kind: str, now: datetime, group: dict[str, Any], details: dict[str, Any]) -> None:
        match = Match(rule=ENGINE_RULES[kind], events=[], timestamp=now, group=group, details=details)
        self.raised.append(match)
        log.error("engine alert %s: %s", match.rule.id, details)
        try:
            self._sink([match])
        except Exception:
            log.exception("could not record engine alert %s", match.rule.id)
