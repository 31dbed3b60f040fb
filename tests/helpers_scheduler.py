"""What the scheduler tests share: a clock they move, a small stateful ScheduledRule, events,
and a DuckDB store whose file can really be made unreachable."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.base import Match, RuleInfo
from soc.event import Event, format_ts
from soc.store import DuckDBStore, FieldFilter, Query, StoreError

T0 = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


class Clock:
    """The scheduler's ``now``, moved by the test."""

    def __init__(self, start: datetime = T0) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> datetime:
        self.value += timedelta(**delta)
        return self.value


class CountRule:
    """A ScheduledRule: one match per event with ``event.action == action`` in each window;
    it keeps the running total in its state and notes every window it evaluates."""

    def __init__(self, rule_id: str = "test.count", *, action: str = "bad", every_s: float = 60,
                 delay_s: float = 0) -> None:
        self.rule = RuleInfo(id=rule_id, title=f"count {action}", type="count", severity="high")
        self.action = action
        self.run_every = timedelta(seconds=every_s)
        self.buffer_time = timedelta(seconds=every_s)
        self.query_delay = timedelta(seconds=delay_s)
        self.total = 0
        self.evaluated: list[tuple[datetime, datetime]] = []

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        self.evaluated.append((start, end))
        page = store.search(Query(filters=[FieldFilter("event.action", "eq", self.action)], start=start,
                                  end=end), size=1000)
        self.total += len(page.events)
        return [Match(rule=self.rule, events=[e], timestamp=end) for e in reversed(page.events)]

    def snapshot(self) -> dict[str, Any]:
        return {"total": self.total}

    def restore(self, state: dict[str, Any]) -> None:
        self.total = int(state.get("total", 0))


def event(n: int, at: datetime, action: str = "bad", **extra: Any) -> Event:
    doc: Event = {
        "@timestamp": format_ts(at),
        "event": {"id": f"ev{n:06d}", "action": action},
        "host": {"name": f"host{n % 3}"},
        "source": {"ip": f"203.0.113.{n % 250 + 1}"},
        "message": f"event {n}",
    }
    for path, value in extra.items():
        node = doc
        parts = path.split("__")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


class CuttableDuckDB:
    """The DuckDB store behind a switch: ``cut()`` closes it and moves its file away, so every
    call really fails (reopening the missing file raises StoreError) until ``restore()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._away = path.with_name(path.name + ".away")
        self._lock = threading.Lock()
        self._store: DuckDBStore | None = DuckDBStore(path)

    def _open(self) -> DuckDBStore:
        with self._lock:
            if self._store is None:
                self._store = DuckDBStore(self.path, read_only=True)  # StoreError while the file is away
            return self._store

    def cut(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
            self.path.rename(self._away)

    def restore(self) -> None:
        with self._lock:
            self._away.rename(self.path)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._open(), name)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


__all__ = ["T0", "Clock", "CountRule", "CuttableDuckDB", "StoreError", "event"]
