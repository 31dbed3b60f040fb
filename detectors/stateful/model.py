"""One stateful rule as loaded: what it says (:class:`RuleInfo`), which events
(:class:`EventFilter`), how it groups, its rule type and what happens to its matches.

Keys common to every rule type (ElastAlert's names where they exist)::

    name, type, id (stable UUID), severity (low/medium/high/critical), tags (attack.t1110),
    description, author, version, references, falsepositives, status,
    filter, query_key (alias group_by: one field or a list), timeframe,
    realert, exponential_realert, suppress ({duration: {...}, by: [...]} or a duration),
    aggregation, aggregation_key, max_groups, max_values, max_evidence,
    mode (streaming|scheduled), run_every, buffer_time, query_delay, index (ignored)
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from detectors.base import SEVERITIES, RuleInfo
from detectors.sigma.fieldmap import FieldMap
from detectors.stateful.filter import EventFilter, build_filter
from detectors.stateful.params import Params, RuleError, RuleParamError, parse_duration
from detectors.stateful.registry import RULE_TYPES
from detectors.stateful.ruletype import RuleType

COMMON_KEYS = frozenset(
    {
        "name", "type", "id", "severity", "tags", "description", "author", "version", "references",
        "falsepositives", "status", "filter", "query_key", "group_by", "realert", "exponential_realert",
        "suppress", "aggregation", "aggregation_key", "max_groups", "max_values", "max_evidence", "mode",
        "run_every", "buffer_time", "query_delay", "index", "enabled",
    }
)  # fmt: skip
DEFAULT_REALERT = timedelta(minutes=1)  # ElastAlert's default


@dataclass(slots=True)
class StatefulRule:
    info: RuleInfo
    rule_type: RuleType
    filter: EventFilter
    group_by: tuple[str, ...]
    realert: float
    exponential_realert: float
    suppress: float
    suppress_by: tuple[str, ...]
    aggregation: float
    aggregation_key: tuple[str, ...]
    max_groups: int
    max_evidence: int
    mode: str
    run_every: timedelta
    buffer_time: timedelta
    query_delay: timedelta
    enabled: bool = True

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def type(self) -> str:
        return self.rule_type.name


def _strings(p: Params, key: str) -> tuple[str, ...]:
    value = p.raw(key)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
        p.error(key, "must be a string or a list of strings")
        return ()
    return tuple(items)


def _suppress(p: Params) -> tuple[float, tuple[str, ...]]:
    raw = p.raw("suppress")
    if raw is None:
        return 0.0, ()
    try:
        if isinstance(raw, Mapping) and "duration" in raw:
            unknown = [k for k in raw if k not in ("duration", "by")]
            if unknown:
                raise RuleParamError(f"suppress.{unknown[0]}", "unknown key (use duration, by)")
            duration = parse_duration(raw["duration"], "suppress.duration")
            by = raw.get("by") or []
            by = [by] if isinstance(by, str) else by
            if not isinstance(by, list) or not all(isinstance(f, str) for f in by):
                raise RuleParamError("suppress.by", "must be a field name or a list of field names")
            return duration.total_seconds(), tuple(by)
        return parse_duration(raw, "suppress").total_seconds(), ()
    except RuleParamError as e:
        p.error(e.key, e.reason)
        return 0.0, ()


def _rule_id(p: Params) -> str:
    raw = p.raw("id")
    if raw is None:
        p.error("id", "is required: a stable UUID (it keys the rule's saved state and its alerts)")
        return ""
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        p.error("id", f"must be a UUID, not {raw!r}")
        return str(raw)


def build_rule(
    doc: Mapping[str, Any], path: str, lines: Mapping[str, int] | None = None, fields: FieldMap | None = None
) -> StatefulRule | list[RuleError]:
    """A :class:`StatefulRule` from one YAML document, or every error it has."""
    p = Params(doc, path, lines)
    name = p.text("name", required=True)
    type_name = p.text("type", required=True)
    cls = RULE_TYPES.get(type_name)
    if type_name and cls is None:
        p.error("type", f"unknown rule type {type_name!r} (one of {', '.join(sorted(RULE_TYPES))})")
    rule_id = _rule_id(p)
    severity = p.choice("severity", SEVERITIES, "medium")
    tags = _strings(p, "tags")
    for tag in tags:
        if not tag.islower() or " " in tag:
            p.error("tags", f"tag {tag!r} must be lower case without spaces (e.g. attack.t1110)")
    rule_type = cls(p) if cls is not None else None
    try:
        event_filter = build_filter(p.raw("filter"), name, fields)
    except RuleParamError as e:
        p.error(e.key, e.reason)
        event_filter = build_filter(None)
    group_by = p.fields("query_key", alias="group_by")
    realert = p.duration("realert", default=DEFAULT_REALERT) or timedelta(0)
    exp = p.duration("exponential_realert", default=timedelta(0)) or timedelta(0)
    if exp and exp < realert:
        p.error("exponential_realert", "must not be shorter than realert")
    suppress, suppress_by = _suppress(p)
    aggregation = p.duration("aggregation", default=timedelta(0)) or timedelta(0)
    aggregation_key = p.fields("aggregation_key")
    mode = p.choice("mode", ("streaming", "scheduled"), "streaming")
    run_every = p.duration("run_every", default=timedelta(minutes=1)) or timedelta(minutes=1)
    if run_every.total_seconds() <= 0:
        p.error("run_every", "must be longer than zero")
    buffer_time = p.duration("buffer_time", default=None) or run_every
    query_delay = p.duration("query_delay", default=timedelta(0)) or timedelta(0)
    max_groups = p.integer("max_groups", default=10_000, minimum=1) or 10_000
    max_evidence = p.integer("max_evidence", default=20, minimum=1) or 20
    enabled = p.boolean("enabled", default=True)
    info = RuleInfo(
        id=rule_id,
        title=name,
        type=type_name,
        severity=severity,  # type: ignore[arg-type]
        description=p.text("description").strip(),
        author=p.text("author"),
        status=p.text("status"),
        version=p.text("version"),
        tags=tags,
        references=_strings(p, "references"),
        falsepositives=_strings(p, "falsepositives"),
        source_path=path,
    )
    p.unknown_keys(COMMON_KEYS | (cls.keys if cls is not None else frozenset()))
    if p.errors or rule_type is None:
        return p.errors
    return StatefulRule(
        info=info,
        rule_type=rule_type,
        filter=event_filter,
        group_by=group_by,
        realert=realert.total_seconds(),
        exponential_realert=exp.total_seconds(),
        suppress=suppress,
        suppress_by=suppress_by,
        aggregation=aggregation.total_seconds(),
        aggregation_key=aggregation_key,
        max_groups=max_groups,
        max_evidence=max_evidence,
        mode=mode,
        run_every=run_every,
        buffer_time=buffer_time,
        query_delay=query_delay,
        enabled=enabled,
    )
