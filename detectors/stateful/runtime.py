"""One rule at work: filter, group, feed the rule type, then realert, suppress, aggregate.

:class:`RuleRuntime` owns all of a rule's state, bounded:

* groups (one per ``query_key`` value tuple) up to ``max_groups``, least recently seen
  evicted (``groups_evicted``); idle groups of windowed rules are dropped once out of
  every window;
* evidence events per group up to ``max_evidence``;
* ids of recently observed events (``max_event_ids``, pruned by time): an event observed
  again (the spool re-delivers after a crash) is counted once (``duplicates``);
* realert clocks, suppression windows and held aggregations (:mod:`.alerting`).

``snapshot()``/``restore()`` give and take all of it as JSON-able data; ``delta()`` gives
only what changed since the previous ``delta()`` (the groups touched, the new event ids),
so the engine's frequent checkpoints cost what changed, not the whole state. Both the
streaming detector and the scheduled adapter drive a runtime.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from detectors.base import Match
from detectors.checkpoint import RuleDelta, serialize
from detectors.sigma.fieldmap import make_getter
from detectors.stateful.alerting import Aggregator, Realert, Suppression, _key
from detectors.stateful.model import StatefulRule
from detectors.stateful.ruletype import Fire, RuleType
from soc.event import Event

SNAPSHOT_VERSION = 1
DEFAULT_MAX_EVENT_IDS = 100_000
CLEANUP_EVERY_S = 60.0


@dataclass(slots=True)
class Group:
    values: tuple[Any, ...]
    state: Any
    last: float
    evidence: deque[tuple[float, Event]] = field(default_factory=deque)


def _plain(value: Any) -> Any:
    return [_plain(v) for v in value] if isinstance(value, tuple) else value


class RuleRuntime:
    """The state and logic of one stateful rule."""

    def __init__(self, rule: StatefulRule, *, max_event_ids: int = DEFAULT_MAX_EVENT_IDS) -> None:
        self.rule = rule
        self.kind: RuleType = rule.rule_type
        self.groups: OrderedDict[tuple[Any, ...], Group] = OrderedDict()
        self.realert = Realert(rule.realert, rule.exponential_realert, rule.max_groups)
        self.suppression = Suppression(rule.suppress, rule.suppress_by, rule.max_groups)
        self.aggregator = (
            Aggregator(rule.info, rule.aggregation, rule.aggregation_key, rule.max_evidence)
            if rule.aggregation > 0
            else None
        )
        self.max_event_ids = max_event_ids
        self._key_getters = tuple(make_getter(f) for f in rule.group_by)
        self._id_getter = make_getter("event.id")
        self.seen: OrderedDict[str, float] = OrderedDict()
        self.started: float | None = None
        self.watermark: float | None = None
        self.dirty = False
        self._dirty_groups: set[tuple[Any, ...]] = set()
        self._removed_groups: set[tuple[Any, ...]] = set()
        self._new_ids: list[tuple[str, float]] = []
        self._ids_before: float | None = None
        self._full = True  # the next delta rewrites everything (nothing stored yet)
        self._ticks = type(self.kind).tick is not RuleType.tick
        self._next_cleanup = 0.0
        tf = self.kind.timeframe or 0.0
        self.horizon = max(2 * tf, rule.aggregation, 3600.0)
        self.counters: dict[str, int] = {
            "events": 0,
            "duplicates": 0,
            "without_group_key": 0,
            "fired": 0,
            "matches": 0,
            "groups_evicted": 0,
            "event_ids_evicted": 0,
        }

    # ---------------------------------------------------------------- feeding

    def _group(self, key: tuple[Any, ...], ts: float) -> Group:
        group = self.groups.get(key)
        if group is None:
            group = Group(key, self.kind.new_state(), ts)
            self.groups[key] = group
            self._removed_groups.discard(key)
            if len(self.groups) > self.rule.max_groups:
                evicted, _ = self.groups.popitem(last=False)
                self._forget(evicted)
                self.counters["groups_evicted"] += 1
        else:
            self.groups.move_to_end(key)
            group.last = max(group.last, ts)
        self._dirty_groups.add(key)
        return group

    def _forget(self, key: tuple[Any, ...]) -> None:
        self._dirty_groups.discard(key)
        self._removed_groups.add(key)

    def _first_time(self, event: Event) -> bool:
        """Record the event id; False when it was already observed."""
        event_id = self._id_getter(event)
        if not event_id:
            return True
        if event_id in self.seen:
            self.counters["duplicates"] += 1
            return False
        self.seen[event_id] = self.watermark or 0.0
        self._new_ids.append((str(event_id), self.watermark or 0.0))
        if len(self.seen) > self.max_event_ids:
            self.seen.popitem(last=False)
            self.counters["event_ids_evicted"] += 1
        return True

    def _clock(self, ts: float) -> None:
        if self.started is None or ts < self.started:
            self.started = ts
            if hasattr(self.kind, "started"):
                self.kind.started = ts  # type: ignore[attr-defined]
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts

    def observe(self, event: Event, when: datetime) -> list[Match]:
        """Matches for one event (``when``: its ``@timestamp``)."""
        if not self.rule.filter(event):
            return []
        ts = when.timestamp()
        self._clock(ts)
        if not self._first_time(event):
            return []
        self.dirty = True
        self.counters["events"] += 1
        key = self._group_key(event)
        if key is None:
            self.counters["without_group_key"] += 1
            return []
        if not self.kind.grouped:  # per-event verdicts (blacklist): no per-group state to keep
            fire = self.kind.observe(None, ts, event)
            return self._emit(Group(key, None, ts), fire, ts) if fire is not None else []
        group = self._group(key, ts)
        if self.kind.keeps_evidence:
            group.evidence.append((ts, event))
            while len(group.evidence) > self.rule.max_evidence + 1:  # +1: a window closed by its successor
                group.evidence.popleft()
        fire = self.kind.observe(group.state, ts, event)
        out = self._emit(group, fire, ts) if fire is not None else []
        if self.aggregator is not None and self.aggregator.pending:
            out.extend(self.aggregator.due(self.watermark or ts))
        return out

    def _group_key(self, event: Event) -> tuple[Any, ...] | None:
        """The ``query_key`` values (lists as tuples); ``None`` when one is missing."""
        out = []
        for get in self._key_getters:
            value = get(event)
            if value is None or value == [] or value == "":
                return None
            out.append(tuple(value) if isinstance(value, list) else value)
        return tuple(out)

    def learn(self, events: Iterable[Event]) -> int:
        """Seed a new-term baseline from past events (no matches); returns events learnt."""
        learn = getattr(self.kind, "learn", None)
        if learn is None:
            return 0
        n = 0
        for event in events:
            if not self.rule.filter(event):
                continue
            key = self._group_key(event)
            if key is None:
                continue
            ts = _event_ts(event)
            learn(self._group(key, ts).state, ts, event)
            n += 1
        self.dirty = self.dirty or n > 0
        return n

    def tick(self, now: datetime) -> list[Match]:
        """Time-driven matches at event-time ``now`` (flatline, closed windows, ...)."""
        t = now.timestamp()
        out: list[Match] = []
        if self._ticks and self.groups:
            self.dirty = True
            for group in list(self.groups.values()):
                fire = self.kind.tick(group.state, t)
                if fire is not None:
                    out.extend(self._emit(group, fire, t))
        if t >= self._next_cleanup:
            self._next_cleanup = t + CLEANUP_EVERY_S
            self._cleanup(t)
        if self.aggregator is not None and self.aggregator.pending:
            self.dirty = True
            out.extend(self.aggregator.due(t))
        return out

    def _cleanup(self, now: float) -> None:
        if self.kind.timeframe:
            for key in [
                k
                for k, g in self.groups.items()
                if g.last <= now - self.horizon and self.kind.idle(g.state, now)
            ]:
                del self.groups[key]
                self._forget(key)
                self.dirty = True
        cutoff = now - self.horizon
        while self.seen and next(iter(self.seen.values())) < cutoff:
            self.seen.popitem(last=False)
            self._ids_before = cutoff
            self.dirty = True
        self.realert.expire(now)
        self.suppression.expire(now)

    # ---------------------------------------------------------------- output

    def _emit(self, group: Group, fire: Fire, ts: float) -> list[Match]:
        self.counters["fired"] += 1
        self.dirty = True
        if fire.forget:
            self.groups.pop(group.values, None)
            self._forget(group.values)
        elif group.values in self.groups:
            self._dirty_groups.add(group.values)
        if fire.events is not None:
            evidence = list(fire.events)
        elif fire.window is not None:
            lo, hi = fire.window
            evidence = [e for t, e in group.evidence if lo <= t <= hi]
        else:
            evidence = [e for _, e in group.evidence]
        evidence = evidence[-self.rule.max_evidence :]
        values = {f: _plain(v) for f, v in zip(self.rule.group_by, group.values, strict=True)}
        values.update(fire.group_extra)
        clock_key = group.values + tuple(_key(_plain(v)) for v in fire.group_extra.values())
        if not self.realert.allow(clock_key, ts):
            return []
        dropped = self.suppression.admit(
            self.suppression.key(clock_key, evidence[-1] if evidence else None), ts
        )
        if dropped is None:
            return []
        details = dict(fire.details)
        if dropped:
            details["suppressed_count"] = dropped
        match = Match(
            rule=self.rule.info,
            events=evidence,
            timestamp=datetime.fromtimestamp(ts, UTC),
            group=values,
            details=details,
        )
        self.counters["matches"] += 1
        if self.aggregator is not None:
            return self.aggregator.add(match, ts)
        return [match]

    # ---------------------------------------------------------------- state

    @property
    def stats(self) -> dict[str, int]:
        return {
            **self.counters,
            "groups": len(self.groups),
            "values_evicted": self.kind.evicted_values,
            "realert_silenced": self.realert.silenced,
            "suppressed": self.suppression.suppressed,
            "realert_keys_evicted": self.realert.evicted + self.suppression.evicted,
            "aggregations_evicted": self.aggregator.evicted if self.aggregator else 0,
        }

    def _header(self) -> dict[str, Any]:
        return {
            "v": SNAPSHOT_VERSION,
            "type": self.kind.name,
            "started": self.started,
            "watermark": self.watermark,
            "realert": self.realert.snapshot(),
            "suppress": self.suppression.snapshot(),
            "aggregation": self.aggregator.snapshot() if self.aggregator else [],
            "counters": dict(self.counters),
        }

    def _dump_group(self, g: Group) -> list[Any]:
        return [_plain(g.values), self.kind.dump(g.state), g.last, [[t, e] for t, e in g.evidence]]

    def snapshot(self) -> dict[str, Any]:
        """All state as JSON-able data."""
        return {
            **self._header(),
            "groups": [self._dump_group(g) for g in self.groups.values()],
            "seen": list(self.seen.items()),
        }

    def delta(self) -> RuleDelta:
        """What changed since the previous delta, serialized (resets the change tracking)."""
        header = serialize({**self._header(), "layout": "split"})
        if self._full:
            delta = RuleDelta(self.kind.name, header, replace=True)
            dirty: Iterable[tuple[Any, ...]] = list(self.groups)
            delta.ids = list(self.seen.items())
        else:
            delta = RuleDelta(self.kind.name, header)
            dirty = self._dirty_groups
            delta.removed = [serialize(_plain(k)).decode() for k in self._removed_groups]
            delta.ids = self._new_ids
            delta.ids_before = self._ids_before
        for key in dirty:
            group = self.groups.get(key)
            if group is not None:
                delta.groups[serialize(_plain(key)).decode()] = serialize(self._dump_group(group))
        self._dirty_groups, self._removed_groups, self._new_ids = set(), set(), []
        self._ids_before = None
        self._full = False
        self.dirty = False
        return delta

    def restore(self, data: dict[str, Any]) -> bool:
        """Take a snapshot back; False (and nothing changed) when it is of another rule type."""
        if not data or data.get("v") != SNAPSHOT_VERSION or data.get("type") != self.kind.name:
            return False
        self.groups = OrderedDict()
        for values, state, last, evidence in sorted(data["groups"], key=lambda g: g[2]):
            key = _key(values)
            self.groups[key] = Group(key, self.kind.load(state), last, deque((t, e) for t, e in evidence))
        self.started = data.get("started")
        self.watermark = data.get("watermark")
        if self.started is not None and hasattr(self.kind, "started"):
            self.kind.started = self.started  # type: ignore[attr-defined]
        self.seen = OrderedDict((str(k), float(v)) for k, v in data.get("seen", [])[-self.max_event_ids :])
        self.realert.restore(data.get("realert", []))
        self.suppression.restore(data.get("suppress", []))
        if self.aggregator is not None:
            self.aggregator.restore(data.get("aggregation", []))
        self.counters.update(data.get("counters", {}))
        self.dirty = False
        self._full = data.get("layout") != "split"  # a state from elsewhere is stored whole next time
        self._dirty_groups, self._removed_groups, self._new_ids = set(), set(), []
        return True


def adopt(runtime: RuleRuntime, old: RuleRuntime) -> bool:
    """Carry ``old``'s state into ``runtime`` (a reloaded version of the same rule), with its
    change tracking, so the next checkpoint writes only what changed, not everything."""
    if not runtime.restore(old.snapshot()):
        return False
    runtime._full = old._full
    runtime._dirty_groups = set(old._dirty_groups)
    runtime._removed_groups = set(old._removed_groups)
    runtime._new_ids = list(old._new_ids)
    runtime._ids_before = old._ids_before
    runtime.dirty = True
    return True


def _event_ts(event: Event) -> float:
    from detectors.sigma.engine import event_time

    return event_time(event).timestamp()
