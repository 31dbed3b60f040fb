"""Sigma rules as scheduled queries: a :class:`~detectors.base.ScheduledRule` per rule.

Each window ``[start, end)`` runs the rule as a query over the stored events, with the
method the store supports (:mod:`.hunt`): SQL on the embedded store (converted once per
rule), Lucene on Elasticsearch, a scan with the streaming matcher elsewhere. A window gives
one match per matching event, as the streaming detector does for the same events.
The rules keep no state between windows.

A rule may set its own timing with a ``schedule`` attribute (seconds, or ``30s``, ``5m``,
``1h``, ``1d``); the scheduler defaults fill in the rest::

    schedule: {run_every: 5m, buffer_time: 5m, query_delay: 1m}
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sigma.rule import SigmaRule

from detectors.base import Match, RuleInfo
from detectors.sigma.correlation import rule_key
from detectors.sigma.engine import event_time, rule_info
from detectors.sigma.loader import SigmaLoadError, load_rules, rule_source_path
from detectors.sigma.query.config import ConversionError, QueryConfig
from detectors.sigma.query.duckdb_sql import SqlQuery, rule_to_sql
from detectors.sigma.query.hunt import Hunter, SqlWhereStore
from soc.store.base import Store

SCHEDULE_KEYS = ("run_every", "buffer_time", "query_delay")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    """``300``, ``"300"``, ``"30s"``, ``"5m"``, ``"1h"`` or ``"1d"`` as a timedelta; ValueError else."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        unit = _UNITS.get(text[-1:]) if text else None
        try:
            seconds = float(text[:-1]) * unit if unit else float(text)
        except ValueError:
            raise ValueError(f"not a duration (seconds, or 30s, 5m, 1h, 1d): {value!r}") from None
    if seconds < 0:
        raise ValueError(f"a duration must not be negative: {value!r}")
    return timedelta(seconds=seconds)


def rule_timing(rule: SigmaRule, defaults: dict[str, timedelta]) -> dict[str, timedelta]:
    """The rule's ``schedule`` attribute over the defaults; ValueError names the bad key."""
    schedule = (getattr(rule, "custom_attributes", None) or {}).get("schedule")
    if schedule is None:
        return dict(defaults)
    if not isinstance(schedule, dict):
        raise ValueError("schedule must be a mapping of run_every, buffer_time, query_delay")
    unknown = sorted(set(schedule) - set(SCHEDULE_KEYS))
    if unknown:
        names = ", ".join(map(str, unknown))
        raise ValueError(f"schedule: unknown key(s) {names}; known: {', '.join(SCHEDULE_KEYS)}")
    timing = dict(defaults)
    for key, value in schedule.items():
        try:
            timing[key] = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"schedule.{key}: {exc}") from None
    if timing["run_every"] <= timedelta(0) or timing["buffer_time"] <= timedelta(0):
        raise ValueError("schedule: run_every and buffer_time must be positive")
    return timing


class SigmaQueryError(Exception):
    """A scheduled Sigma rule could not run on a window (conversion failed); names the rule."""


class SigmaQueryRule:
    """One Sigma rule evaluated as a query over each window."""

    def __init__(
        self,
        rule: SigmaRule,
        hunter: Hunter,
        *,
        run_every: timedelta,
        buffer_time: timedelta,
        query_delay: timedelta,
        limit: int | None = None,
    ) -> None:
        self.sigma = rule
        self.rule: RuleInfo = rule_info(rule, "sigma")
        self.run_every = run_every
        self.buffer_time = buffer_time
        self.query_delay = query_delay
        self.limit = limit
        self._hunter = hunter
        self._sql: SqlQuery | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SigmaQueryRule({self.rule.id!r}, {self.rule.title!r})"

    def sql(self) -> SqlQuery:
        """The rule as SQL (converted on first use); raises ConversionError."""
        with self._lock:
            if self._sql is None:
                self._sql = rule_to_sql(self.sigma, self._hunter.config)
            return self._sql

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        if isinstance(store, SqlWhereStore):
            try:
                sql = self.sql()
            except ConversionError as exc:
                raise SigmaQueryError(f"{rule_source_path(self.sigma)}: {exc}") from None
            if not sql.active:
                return []
            events = store.query_where(sql.where, sql.params, start=start, end=end, limit=self.limit)
            events.reverse()  # oldest first, as streaming sees them
            return [Match(rule=self.rule, events=[e], timestamp=event_time(e)) for e in events]
        result = self._hunter.run([self.sigma], store, since=start, until=end, limit=self.limit)
        if result.errors:
            raise SigmaQueryError("; ".join(str(e) for e in result.errors))
        return result.matches

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None


def load_scheduled_sigma(
    paths: Sequence[Path],
    config: Mapping[str, Any] | QueryConfig | None,
    store: Store | None,
    *,
    run_every: timedelta,
    buffer_time: timedelta,
    query_delay: timedelta,
) -> tuple[list[SigmaQueryRule], list[SigmaLoadError]]:
    """The base rules under ``paths`` as scheduled rules, and what could not be used (with its
    file, id and reason): load errors, correlation rules (not supported in query mode) and,
    when ``store`` runs SQL, rules that do not convert. Rules a correlation silences
    (``generate: false``) are left out, as the streaming detector emits nothing for them."""
    loaded = load_rules(list(paths))
    errors = list(loaded.errors)
    for corr in loaded.correlations:
        rid = str(corr.id) if corr.id else corr.name
        reason = "correlation rules are not supported in scheduled query mode"
        errors.append(SigmaLoadError(rule_source_path(corr), rid, reason, "resolve"))
    silenced = {  # as in streaming: a correlation with ``generate: false`` silences its rules
        rule_key(ref.rule) for corr in loaded.correlations if not corr.generate
        for ref in corr.referenced_rules
    }
    hunter = Hunter(config)
    defaults = {"run_every": run_every, "buffer_time": buffer_time, "query_delay": query_delay}
    rules = []
    for sigma in loaded.rules:
        if rule_key(sigma) in silenced:
            continue
        try:
            timing = rule_timing(sigma, defaults)
        except ValueError as exc:
            rid = str(sigma.id) if sigma.id else sigma.name
            errors.append(SigmaLoadError(rule_source_path(sigma), rid, str(exc), "load"))
            continue
        rule = SigmaQueryRule(sigma, hunter, **timing)
        if isinstance(store, SqlWhereStore):
            try:
                rule.sql()
            except ConversionError as exc:
                errors.append(SigmaLoadError(rule_source_path(sigma), exc.rule_id, exc.reason, "sql"))
                continue
        rules.append(rule)
    return rules, errors
