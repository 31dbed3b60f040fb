"""Sigma correlation rules in streaming mode, over in-memory event-time windows.

Each :class:`CorrelationRuntime` receives the matches of the rules it references
(``feed``) and returns correlation matches. Windows use the events' ``@timestamp``, so
replayed or imported old logs correlate like live ones. State is per group key (the
``group-by`` values), pruned by the timespan, and capped (``max_groups``) by evicting the
least recently active group, which is counted.

Firing (one match per crossing, never one per further event):

* ``event_count`` / ``value_count`` with ``gt``/``gte``: sliding window; fires when the
  count crosses the threshold, re-arms once it falls back below after pruning.
* ``event_count`` / ``value_count`` with ``lt``/``lte``/``eq``/``neq``: tumbling window
  opened by a group's first event; evaluated when event time (the newest ``@timestamp``
  seen, also used by ``tick``) passes its end.
* ``temporal``: all referenced rules (or ``condition`` many of them) matched within the
  timespan; ``temporal_ordered``: in the listed order. Fires, then the group starts over.

Extended (boolean string) conditions and value_sum/avg/percentile/median are reported as
unsupported.

State survives restarts: :meth:`CorrelationRuntime.snapshot` / :meth:`restore` give and
take the groups, windows and evidence as JSON-able data (the engine checkpoints them
with the stateful rules), and an event fed again after a crash (same ``event.id``, the
spool re-delivers) counts once.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from detectors.base import Match, RuleInfo
from detectors.sigma.fieldmap import FieldMap, Getter
from soc.event import Event


class CorrelationError(Exception):
    """A correlation rule the streaming engine cannot run."""

    def __init__(self, rule_id: str | None, reason: str) -> None:
        super().__init__(f"rule {rule_id or '<unknown id>'}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


_OPS: dict[SigmaCorrelationConditionOperator, Callable[[int, int], bool]] = {
    SigmaCorrelationConditionOperator.LT: lambda a, b: a < b,
    SigmaCorrelationConditionOperator.LTE: lambda a, b: a <= b,
    SigmaCorrelationConditionOperator.GT: lambda a, b: a > b,
    SigmaCorrelationConditionOperator.GTE: lambda a, b: a >= b,
    SigmaCorrelationConditionOperator.EQ: lambda a, b: a == b,
    SigmaCorrelationConditionOperator.NEQ: lambda a, b: a != b,
}
_RISING = {SigmaCorrelationConditionOperator.GT, SigmaCorrelationConditionOperator.GTE}
_SUPPORTED = {
    SigmaCorrelationType.EVENT_COUNT,
    SigmaCorrelationType.VALUE_COUNT,
    SigmaCorrelationType.TEMPORAL,
    SigmaCorrelationType.TEMPORAL_ORDERED,
}


def rule_key(rule: Any) -> str:
    """Identity used to route matches: the rule's id, else its name, else object id."""
    if getattr(rule, "id", None) is not None:
        return str(rule.id)
    if getattr(rule, "name", None):
        return f"name:{rule.name}"
    return f"obj:{id(rule)}"


@dataclass(slots=True)
class Occurrence:
    """A match of a referenced rule as a correlation sees it."""

    timestamp: datetime
    events: list[Event]  # evidence, newest last (one event for a base rule)
    group: dict[str, Any]  # group values of a correlation match ({} for base rules)


@dataclass(slots=True)
class _Group:
    values: dict[str, Any]
    times: deque[datetime] = field(default_factory=deque)
    evidence: deque[Event] = field(default_factory=deque)
    distinct: dict[Any, datetime] = field(default_factory=dict)  # value_count: value -> last seen
    fired: bool = False
    window_end: datetime | None = None  # tumbling windows (falling conditions)
    per_rule: list[deque[tuple[datetime, list[Event]]]] = field(default_factory=list)


class CorrelationRuntime:
    """Streaming state and logic of one Sigma correlation rule."""

    def __init__(
        self,
        rule: SigmaCorrelationRule,
        info: RuleInfo,
        fields: FieldMap,
        *,
        max_groups: int = 100_000,
        max_evidence: int = 50,
    ) -> None:
        rid = rule_key(rule)
        if rule.type not in _SUPPORTED:
            raise CorrelationError(rid, f"correlation type '{rule.type.name.lower()}' is not supported")
        if not isinstance(rule.condition, SigmaCorrelationCondition):
            raise CorrelationError(rid, "extended (boolean) correlation conditions are not supported")
        self.rule = rule
        self.info = info
        self.type = rule.type
        self.refs = [rule_key(ref.rule) for ref in rule.referenced_rules]
        if not self.refs:
            raise CorrelationError(rid, "correlation references no rules")
        self.span = timedelta(seconds=rule.timespan.seconds)
        self.op = rule.condition.op
        self.threshold = rule.condition.count
        self.test = _OPS[self.op]
        self.max_groups = max_groups
        self.max_evidence = max_evidence
        self.group_by = list(rule.group_by or [])
        # Per referenced rule: one getter list per group-by field (aliases resolved).
        self._group_getters: dict[str, list[tuple[Getter, ...]]] = {}
        for ref in rule.referenced_rules:
            key = rule_key(ref.rule)
            getters = []
            for name in self.group_by:
                alias = rule.aliases.aliases.get(name)
                target = name
                if alias is not None:
                    mapped = [f for r, f in alias.mapping.items() if rule_key(r.rule) == key]
                    if mapped:
                        target = mapped[0]
                getters.append(fields.getters(target))
            self._group_getters[key] = getters
        self._value_getters: tuple[Getter, ...] = ()
        if self.type is SigmaCorrelationType.VALUE_COUNT:
            fieldref = rule.condition.fieldref
            if isinstance(fieldref, list):
                if len(fieldref) != 1:
                    raise CorrelationError(rid, "value_count over several fields is not supported")
                fieldref = fieldref[0]
            self._value_getters = fields.getters(str(fieldref))
        self.groups: OrderedDict[tuple[Any, ...], _Group] = OrderedDict()
        self.evicted = 0
        self.watermark: datetime | None = None
        self.dirty = False
        self.duplicates = 0
        self._seen: OrderedDict[tuple[str, str], datetime] = OrderedDict()  # (ref, event id) -> time

    # ------------------------------------------------------------------ grouping

    def _group_values(self, ref: str, occ: Occurrence) -> dict[str, Any]:
        values: dict[str, Any] = {}
        getters = self._group_getters[ref]
        newest = occ.events[-1] if occ.events else {}
        for name, gs in zip(self.group_by, getters, strict=True):
            if name in occ.group:
                values[name] = occ.group[name]
                continue
            value = None
            for g in gs:
                value = g(newest)
                if value is not None:
                    break
            if isinstance(value, list):
                value = tuple(value)
            values[name] = value
        return values

    def _group(self, values: dict[str, Any]) -> _Group:
        key = tuple(values.values())
        group = self.groups.get(key)
        if group is None:
            if len(self.groups) >= self.max_groups:
                self.groups.popitem(last=False)
                self.evicted += 1
            group = _Group(values)
            if self.type in (SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED):
                group.per_rule = [deque() for _ in self.refs]
            self.groups[key] = group
        else:
            self.groups.move_to_end(key)
        return group

    # ------------------------------------------------------------------ feeding

    def feed(self, ref: str, occ: Occurrence) -> list[Match]:
        """Take one match of referenced rule ``ref``; return correlation matches."""
        ts = occ.timestamp
        if not self._first_time(ref, occ):
            return []
        self.dirty = True
        if self.watermark is None or ts > self.watermark:
            self.watermark = ts
        out = self._close_windows(self.watermark) if self.op not in _RISING else []
        group = self._group(self._group_values(ref, occ))
        if self.type in (SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED):
            m = self._temporal(group, ref, occ)
        else:
            m = self._count(group, occ)
        if m is not None:
            out.append(m)
        return out

    def _first_time(self, ref: str, occ: Occurrence) -> bool:
        """False for a base-rule match of an event already fed (re-delivered after a crash)."""
        if occ.group or len(occ.events) != 1:
            return True
        event = occ.events[0]
        event_id = (event.get("event") or {}).get("id") if isinstance(event.get("event"), dict) else None
        if not event_id:
            return True
        key = (ref, str(event_id))
        if key in self._seen:
            self.duplicates += 1
            return False
        self._seen[key] = occ.timestamp
        cutoff = occ.timestamp - 2 * self.span
        while self._seen and (len(self._seen) > self.max_groups or next(iter(self._seen.values())) < cutoff):
            self._seen.popitem(last=False)
        return True

    def _add_evidence(self, group: _Group, events: Sequence[Event]) -> None:
        for e in events:
            group.evidence.append(e)
        while len(group.evidence) > self.max_evidence:
            group.evidence.popleft()

    def _count_value(self, group: _Group) -> int:
        if self.type is SigmaCorrelationType.VALUE_COUNT:
            return len(group.distinct)
        return len(group.times)

    def _prune(self, group: _Group, now: datetime) -> None:
        cutoff = now - self.span
        times = group.times
        while times and times[0] <= cutoff:
            times.popleft()
        if group.distinct:
            for value in [v for v, t in group.distinct.items() if t <= cutoff]:
                del group.distinct[value]

    def _count(self, group: _Group, occ: Occurrence) -> Match | None:
        ts = occ.timestamp
        if self.op not in _RISING:  # tumbling window, evaluated at its end
            if group.window_end is None:
                group.window_end = ts + self.span
            self._record(group, occ)
            return None
        self._record(group, occ)
        self._prune(group, ts)
        satisfied = self.test(self._count_value(group), self.threshold)
        if satisfied and not group.fired:
            group.fired = True
            return self._match(group, ts)
        if not satisfied:
            group.fired = False
        return None

    def _record(self, group: _Group, occ: Occurrence) -> None:
        group.times.append(occ.timestamp)
        self._add_evidence(group, occ.events)
        if self.type is SigmaCorrelationType.VALUE_COUNT:
            newest = occ.events[-1] if occ.events else {}
            for g in self._value_getters:
                value = g(newest)
                if value is not None:
                    values = value if isinstance(value, list) else [value]
                    for v in values:
                        if not isinstance(v, (dict, list)):
                            group.distinct[v] = occ.timestamp
                    break

    def _close_windows(self, now: datetime) -> list[Match]:
        out: list[Match] = []
        for key in [k for k, g in self.groups.items() if g.window_end is not None and g.window_end <= now]:
            group = self.groups.pop(key)
            if self.test(self._count_value(group), self.threshold):
                out.append(self._match(group, group.window_end or now))
        return out

    def _temporal(self, group: _Group, ref: str, occ: Occurrence) -> Match | None:
        ts = occ.timestamp
        cutoff = ts - self.span
        for i, key in enumerate(self.refs):
            if key == ref:
                group.per_rule[i].append((ts, occ.events))
        for q in group.per_rule:
            while q and q[0][0] < cutoff:
                q.popleft()
        if self.type is SigmaCorrelationType.TEMPORAL_ORDERED:
            chain = self._ordered_chain(group, cutoff)
            if chain is None:
                return None
            evidence = [e for events in chain for e in events]
        else:
            present = [q for q in group.per_rule if q]
            if not self.test(len(present), self.threshold):
                return None
            evidence = [e for q in present for _, events in q for e in events]
        group.evidence.clear()
        self._add_evidence(group, evidence)
        match = self._match(group, ts)
        for q in group.per_rule:  # fired: the group starts over
            q.clear()
        return match

    def _ordered_chain(self, group: _Group, cutoff: datetime) -> list[list[Event]] | None:
        """Evidence of rule 1..n matching in order inside the window, or None."""
        last = group.per_rule[-1]
        if not last:
            return None
        bound, events = last[-1]
        chain = [events]
        for q in reversed(group.per_rule[:-1]):
            found = None
            for t, evs in reversed(q):
                if t <= bound:
                    found = (t, evs)
                    break
            if found is None or found[0] < cutoff:
                return None
            bound = found[0]
            chain.append(found[1])
        chain.reverse()
        return chain

    # ------------------------------------------------------------------ output

    def _match(self, group: _Group, ts: datetime) -> Match:
        evidence = list(group.evidence)[-self.max_evidence :]
        details: dict[str, Any] = {
            "correlation_type": self.type.name.lower(),
            "timespan": self.rule.timespan.spec,
        }
        if self.type in (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT):
            details["count"] = self._count_value(group)
            details["condition"] = {self.op.name.lower(): self.threshold}
        group_dict = {k: (list(v) if isinstance(v, tuple) else v) for k, v in group.values.items()}
        return Match(rule=self.info, events=evidence, timestamp=ts, group=group_dict, details=details)

    def tick(self, now: datetime) -> list[Match]:
        """Close due tumbling windows and drop idle groups (event time: the newest ``@timestamp``)."""
        del now  # windows follow event time; wall clock would break replays of old logs
        if self.watermark is None:
            return []
        if self.groups:
            self.dirty = True
        out = self._close_windows(self.watermark) if self.op not in _RISING else []
        cutoff = self.watermark - self.span
        idle = [k for k, g in self.groups.items() if g.window_end is None and _newest(g) <= cutoff]
        for key in idle:
            del self.groups[key]
        return out


def _newest(group: _Group) -> datetime:
    candidates = [group.times[-1]] if group.times else []
    candidates += [q[-1][0] for q in group.per_rule if q]
    candidates += list(group.distinct.values())
    return max(candidates) if candidates else datetime.min.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- state


def _dt(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def snapshot(rt: CorrelationRuntime) -> dict[str, Any]:
    """A correlation's state for :func:`detectors.checkpoint.serialize` (orjson writes its
    datetimes as ISO 8601 text, natively and fast; :func:`restore` reads text or datetimes)."""
    groups = []
    for key, g in rt.groups.items():
        groups.append(
            {
                "key": list(key),
                "values": g.values,
                "times": list(g.times),
                "evidence": list(g.evidence),
                "distinct": [[v, t] for v, t in g.distinct.items()],
                "fired": g.fired,
                "window_end": g.window_end,
                "per_rule": [[[t, evs] for t, evs in q] for q in g.per_rule],
            }
        )
    return {
        "v": 1,
        "type": "sigma_correlation",
        "watermark": rt.watermark,
        "groups": groups,
        "seen": [[ref, eid, t] for (ref, eid), t in rt._seen.items()],
    }


def restore(rt: CorrelationRuntime, data: dict[str, Any]) -> bool:
    """Take a :func:`snapshot` back (False when it is not one)."""
    if not data or data.get("v") != 1 or data.get("type") != "sigma_correlation":
        return False
    if any(len(g["per_rule"]) not in (0, len(rt.refs)) for g in data["groups"]):
        return False  # the rule now references other rules: start afresh
    rt.groups = OrderedDict()
    for g in data["groups"]:
        values = {k: _hashable(v) for k, v in g["values"].items()}
        group = _Group(
            values,
            deque(_dt(t) for t in g["times"]),
            deque(g["evidence"]),
            {_hashable(v): _dt(t) for v, t in g["distinct"]},
            g["fired"],
            _dt(g["window_end"]),
            [deque((_dt(t), evs) for t, evs in q) for q in g["per_rule"]],
        )
        rt.groups[_hashable(g["key"])] = group
    rt.watermark = _dt(data.get("watermark"))
    rt._seen = OrderedDict(((ref, eid), _dt(t)) for ref, eid, t in data.get("seen", []))
    rt.dirty = False
    return True
