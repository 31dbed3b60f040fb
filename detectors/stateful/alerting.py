"""What happens to a rule's verdicts before they become matches: realert, suppression and
aggregation. All clocks are event time (epoch seconds) and all state is checkpointed.

* :class:`Realert` (ElastAlert's ``realert`` and ``exponential_realert``): after a match
  for a group, further matches of that group are silenced for ``realert``. With
  ``exponential_realert``, a group that fires again within twice its current period has
  its period doubled, up to ``exponential_realert``; a quiet group falls back to
  ``realert``.
* :class:`Suppression` (``suppress``): matches with the same values of ``suppress.by``
  (default: the group) within ``suppress.duration`` of the first are dropped and
  counted; the next match that gets through says how many were suppressed.
* :class:`Aggregator` (``aggregation``): matches are held for ``aggregation`` from the
  first one and leave as one match per ``aggregation_key`` (default: the whole rule)
  listing them.

Each keeps at most ``max_keys`` keys (least recently used evicted, counted).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detectors.base import Match, RuleInfo
from soc.event import Event, get_field

MAX_AGGREGATED_SHOWN = 20


def _key(values: Any) -> tuple[Any, ...]:
    """JSON round-tripped keys (lists) back to hashable tuples."""
    if isinstance(values, list | tuple):
        return tuple(_key(v) for v in values)
    return values


@dataclass(slots=True)
class Realert:
    period: float  # seconds; 0 = off
    maximum: float = 0.0  # exponential_realert; 0 = off
    max_keys: int = 100_000
    clocks: OrderedDict[tuple[Any, ...], list[float]] = field(default_factory=OrderedDict)
    silenced: int = 0
    evicted: int = 0

    def allow(self, key: tuple[Any, ...], ts: float) -> bool:
        if self.period <= 0:
            return True
        clock = self.clocks.get(key)
        if clock is not None:
            last, exponent = clock
            current = self.period * 2**exponent
            if ts - last < current:
                self.silenced += 1
                return False
            if (
                self.maximum > 0
                and ts - last < 2 * current
                and self.period * 2 ** (exponent + 1) <= self.maximum
            ):
                exponent += 1
            elif ts - last >= 2 * current:
                exponent = 0
            self.clocks.move_to_end(key)
            clock[0], clock[1] = ts, exponent
            return True
        self.clocks[key] = [ts, 0]
        if len(self.clocks) > self.max_keys:
            self.clocks.popitem(last=False)
            self.evicted += 1
        return True

    def expire(self, now: float) -> None:
        longest = max(self.period, self.maximum) * 2
        for key in [k for k, (last, _) in self.clocks.items() if now - last > longest]:
            del self.clocks[key]

    def snapshot(self) -> list[Any]:
        return [[list(k), v] for k, v in self.clocks.items()]

    def restore(self, data: list[Any]) -> None:
        self.clocks = OrderedDict((_key(k), list(v)) for k, v in data)


@dataclass(slots=True)
class Suppression:
    duration: float  # seconds; 0 = off
    by: tuple[str, ...] = ()
    max_keys: int = 100_000
    windows: OrderedDict[tuple[Any, ...], list[float]] = field(default_factory=OrderedDict)
    suppressed: int = 0
    evicted: int = 0

    def key(self, group_key: tuple[Any, ...], event: Event | None) -> tuple[Any, ...]:
        if not self.by or event is None:
            return group_key
        return tuple(_key(get_field(event, f)) for f in self.by)

    def admit(self, key: tuple[Any, ...], ts: float) -> int | None:
        """``None``: suppressed; else how many were suppressed since the last admitted one."""
        if self.duration <= 0:
            return 0
        window = self.windows.get(key)
        if window is not None and ts - window[0] < self.duration:
            window[1] += 1
            self.suppressed += 1
            return None
        dropped = int(window[1]) if window is not None else 0
        self.windows[key] = [ts, 0]
        self.windows.move_to_end(key)
        if len(self.windows) > self.max_keys:
            self.windows.popitem(last=False)
            self.evicted += 1
        return dropped

    def expire(self, now: float) -> None:
        for key in [k for k, (start, n) in self.windows.items() if now - start >= self.duration and not n]:
            del self.windows[key]

    def snapshot(self) -> list[Any]:
        return [[list(k), v] for k, v in self.windows.items()]

    def restore(self, data: list[Any]) -> None:
        self.windows = OrderedDict((_key(k), list(v)) for k, v in data)


@dataclass(slots=True)
class _Pending:
    start: float
    last: float
    matches: list[dict[str, Any]]  # group + details of each held match (capped)
    events: list[Event]
    count: int = 0


class Aggregator:
    """Holds matches for ``period`` seconds and emits one match per aggregation key."""

    def __init__(
        self, rule: RuleInfo, period: float, by: tuple[str, ...], max_evidence: int, max_keys: int = 10_000
    ) -> None:
        self.rule = rule
        self.period = period
        self.by = by
        self.max_evidence = max_evidence
        self.max_keys = max_keys
        self.pending: OrderedDict[tuple[Any, ...], _Pending] = OrderedDict()
        self.evicted = 0

    def add(self, match: Match, ts: float) -> list[Match]:
        """Hold ``match``; returns matches of windows that had to be flushed (key cap)."""
        newest = match.events[-1] if match.events else {}
        key = tuple(_key(match.group.get(f, get_field(newest, f))) for f in self.by)
        pending = self.pending.get(key)
        out: list[Match] = []
        if pending is None:
            pending = _Pending(ts, ts, [], [])
            self.pending[key] = pending
            if len(self.pending) > self.max_keys:
                old_key, old = self.pending.popitem(last=False)
                self.evicted += 1
                out.append(self._emit(old_key, old))
        pending.count += 1
        pending.last = max(pending.last, ts)
        if len(pending.matches) < MAX_AGGREGATED_SHOWN:
            pending.matches.append({"group": match.group, "details": match.details})
        pending.events.extend(match.events)
        del pending.events[: max(0, len(pending.events) - self.max_evidence)]
        return out

    def due(self, now: float) -> list[Match]:
        out = []
        for key in [k for k, p in self.pending.items() if now >= p.start + self.period]:
            out.append(self._emit(key, self.pending.pop(key)))
        return out

    def _emit(self, key: tuple[Any, ...], pending: _Pending) -> Match:
        first = pending.matches[0] if pending.matches else {"group": {}, "details": {}}
        groups = [m["group"] for m in pending.matches]
        group = (
            dict(zip(self.by, [list(k) if isinstance(k, tuple) else k for k in key], strict=True))
            if self.by
            else (first["group"] if all(g == first["group"] for g in groups) else {})
        )
        details = {
            "aggregated_matches": pending.count,
            "aggregation_s": self.period,
            "matches": pending.matches,
        }
        return Match(
            rule=self.rule,
            events=list(pending.events),
            timestamp=datetime.fromtimestamp(pending.last, UTC),
            group=group,
            details=details,
        )

    def snapshot(self) -> list[Any]:
        return [
            [
                list(k),
                {
                    "start": p.start,
                    "last": p.last,
                    "matches": p.matches,
                    "events": p.events,
                    "count": p.count,
                },
            ]
            for k, p in self.pending.items()
        ]

    def restore(self, data: list[Any]) -> None:
        self.pending = OrderedDict(
            (_key(k), _Pending(v["start"], v["last"], v["matches"], v["events"], v["count"])) for k, v in data
        )
