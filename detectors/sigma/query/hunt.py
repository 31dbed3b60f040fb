"""Hunting: run Sigma rules backwards over stored events, on whichever store is given.

* A store with ``query_where`` (:class:`SqlWhereStore`, the DuckDB store) gets the rule
  as SQL (:mod:`.duckdb_sql`).
* A store with ``search_lucene`` (:class:`LuceneStore`, the Elasticsearch store) gets it
  as a Lucene query string (:mod:`.lucene`).
* Any other store (``MemoryStore``) is scanned once over the time range and every event
  is tested with the streaming matcher.

Rules are named by file or by id (found under the configured rule folders). A rule that
cannot be found, loaded or converted is reported with its file, id and reason; the others
still run. Matches are :class:`~detectors.base.Match` objects, as the streaming detector
gives, newest ``limit`` per rule, returned oldest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from detectors.base import Match
from detectors.sigma.compiler import CompileError, compile_rule
from detectors.sigma.engine import event_time, rule_info
from detectors.sigma.loader import SigmaLoadError, iter_rule_files, load_file, rule_source_path
from detectors.sigma.query.config import ConversionError, QueryConfig
from detectors.sigma.query.duckdb_sql import logsource_query, rule_to_sql
from detectors.sigma.query.lucene import LuceneConverter
from soc.event import Event, get_field
from soc.store.base import Page, Query, Sort, Store

SCAN_PAGE = 1000


@runtime_checkable
class SqlWhereStore(Protocol):
    """A store that runs a SQL ``WHERE`` body over its ``events`` table (DuckDB).

    ``query_where(where, params, start=, end=, limit=)``: the stored events for which
    ``where`` (``?`` placeholders bound to ``params``) is true and ``start <= @timestamp
    < end`` (either bound may be None), newest first (ties by ``event.id``), at most
    ``limit`` (None: all).
    """

    def query_where(
        self,
        where: str,
        params: Sequence[Any],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]: ...


@runtime_checkable
class LuceneStore(Protocol):
    """A store that runs a Lucene query string (the Elasticsearch store)."""

    def search_lucene(
        self,
        lucene: str,
        *,
        query: Query = ...,
        size: int = 100,
        sort: Sort = ...,
        after: str | None = None,
    ) -> Page: ...


class HuntError(Exception):
    """Some rules asked for could not be run; ``errors`` says which and why."""

    def __init__(self, errors: Sequence[SigmaLoadError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = list(errors)


@dataclass(slots=True)
class HuntResult:
    """Matches (oldest first), rules run, rules never tested (unmapped log source), errors."""

    matches: list[Match] = field(default_factory=list)
    rules_run: list[str] = field(default_factory=list)
    inactive: list[str] = field(default_factory=list)
    errors: list[SigmaLoadError] = field(default_factory=list)
    mode: str = ""


def find_rules(
    refs: Iterable[str | Path], rule_paths: Sequence[Path] = ()
) -> tuple[list[SigmaRule], list[SigmaLoadError]]:
    """Rules named by file path, or by id (or correlation ``name``) under ``rule_paths``."""
    rules: list[SigmaRule] = []
    errors: list[SigmaLoadError] = []
    files = None
    for ref in refs:
        path = Path(ref)
        if path.is_file():
            found, file_errors = load_file(path)
            errors.extend(file_errors)
            rules.extend(_base_rules(found, errors))
            continue
        text = str(ref)
        if files is None:
            files = list(iter_rule_files(rule_paths))
        hits: list[SigmaRule | SigmaCorrelationRule] = []
        for candidate in files:
            try:
                if text not in candidate.read_text(encoding="utf-8", errors="replace"):
                    continue
            except OSError:
                continue
            found, _ = load_file(candidate)
            hits.extend(r for r in found if str(r.id) == text or r.name == text)
        if not hits:
            where = ", ".join(str(p) for p in rule_paths) or "no rule folders"
            errors.append(
                SigmaLoadError(text, text, f"no rule file and no rule with this id under {where}", "resolve")
            )
        rules.extend(_base_rules(hits, errors))
    return rules, errors


def _base_rules(
    found: Iterable[SigmaRule | SigmaCorrelationRule], errors: list[SigmaLoadError]
) -> list[SigmaRule]:
    out = []
    for rule in found:
        if isinstance(rule, SigmaCorrelationRule):
            rid = str(rule.id) if rule.id else rule.name
            errors.append(
                SigmaLoadError(
                    rule_source_path(rule),
                    rid,
                    "correlation rules are not supported in query mode",
                    "resolve",
                )
            )
        else:
            out.append(rule)
    return out


class Hunter:
    """Runs base Sigma rules over a store with one :class:`QueryConfig`."""

    def __init__(self, config: Mapping[str, Any] | QueryConfig | None = None) -> None:
        self.config = config if isinstance(config, QueryConfig) else QueryConfig(config)
        self._lucene: LuceneConverter | None = None

    def run(
        self,
        rules: Sequence[SigmaRule],
        store: Store,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 100,
    ) -> HuntResult:
        """Every rule over ``[since, until)``: at most ``limit`` newest matches per rule."""
        if limit is not None and limit < 1:
            raise ValueError(f"hunt limit must be >= 1, got {limit}")
        if isinstance(store, SqlWhereStore):
            result = self._run_sql(rules, store, since, until, limit)
        elif isinstance(store, LuceneStore):
            result = self._run_lucene(rules, store, since, until, limit)
        else:
            result = self._run_scan(rules, store, since, until, limit)
        result.matches.sort(key=lambda m: (m.timestamp, m.rule.id))
        return result

    def _run_sql(
        self,
        rules: Sequence[SigmaRule],
        store: SqlWhereStore,
        since: datetime | None,
        until: datetime | None,
        limit: int | None,
    ) -> HuntResult:
        result = HuntResult(mode="sql")
        has_events: dict[str, bool] = {}  # log source label -> any stored event in range
        for rule in rules:
            try:
                sql = rule_to_sql(rule, self.config)
            except ConversionError as e:
                result.errors.append(SigmaLoadError(rule_source_path(rule), e.rule_id, e.reason, "sql"))
                continue
            if not sql.active:
                result.inactive.append(sql.rule_id)
                continue
            if sql.logsource not in has_events:
                ls = logsource_query(rule, self.config)
                found = store.query_where(ls.where, ls.params, start=since, end=until, limit=1)
                has_events[sql.logsource] = bool(found)
            result.rules_run.append(sql.rule_id)
            if not has_events[sql.logsource]:
                continue
            events = store.query_where(sql.where, sql.params, start=since, end=until, limit=limit)
            info = rule_info(rule, "sigma")
            result.matches.extend(Match(rule=info, events=[e], timestamp=event_time(e)) for e in events)
        return result

    def _run_lucene(
        self,
        rules: Sequence[SigmaRule],
        store: LuceneStore,
        since: datetime | None,
        until: datetime | None,
        limit: int | None,
    ) -> HuntResult:
        result = HuntResult(mode="lucene")
        if self._lucene is None:
            self._lucene = LuceneConverter(self.config)
        for rule in rules:
            try:
                lq = self._lucene.convert(rule)
            except ConversionError as e:
                result.errors.append(SigmaLoadError(rule_source_path(rule), e.rule_id, e.reason, "lucene"))
                continue
            if not lq.active:
                result.inactive.append(lq.rule_id)
                continue
            info = rule_info(rule, "sigma")
            result.rules_run.append(lq.rule_id)
            after: str | None = None
            taken = 0
            while limit is None or taken < limit:
                size = SCAN_PAGE if limit is None else min(SCAN_PAGE, limit - taken)
                page = store.search_lucene(
                    lq.query, query=Query(start=since, end=until), size=size, sort=Sort(), after=after
                )
                result.matches.extend(
                    Match(rule=info, events=[e], timestamp=event_time(e)) for e in page.events
                )
                taken += len(page.events)
                after = page.cursor
                if after is None:
                    break
        return result

    def _run_scan(
        self,
        rules: Sequence[SigmaRule],
        store: Store,
        since: datetime | None,
        until: datetime | None,
        limit: int | None,
    ) -> HuntResult:
        """One pass over the range, newest first, testing every rule with the streaming matcher."""
        result = HuntResult(mode="scan")
        compiled = []
        for rule in rules:
            rid = str(rule.id) if rule.id else (rule.name or "")
            source = self.config.logsources.lookup(rule.logsource)
            if source is None and self.config.unmapped != "all":
                result.inactive.append(rid)
                continue
            try:
                matcher = compile_rule(
                    rule,
                    self.config.fields_for(rule.logsource),
                    self.config.keyword_fields,
                    self.config.placeholders,
                )
            except CompileError as e:
                result.errors.append(SigmaLoadError(rule_source_path(rule), e.rule_id, e.reason, "compile"))
                continue
            predicate = source.predicate if source is not None else None
            compiled.append([rule_info(rule, "sigma"), predicate, matcher, 0])
            result.rules_run.append(rid)
        after: str | None = None
        while compiled:
            page = store.search(Query(start=since, end=until), size=SCAN_PAGE, sort=Sort(), after=after)
            for event in page.events:
                for entry in compiled:
                    info, predicate, matcher, n = entry
                    if (limit is not None and n >= limit) or (predicate is not None and not predicate(event)):
                        continue
                    if matcher(event):
                        result.matches.append(Match(rule=info, events=[event], timestamp=event_time(event)))
                        entry[3] = n + 1
            after = page.cursor
            if after is None:
                break
        return result


def match_row(match: Match) -> dict[str, Any]:
    """One hunt match as JSON-ready facts (the event included)."""
    event = match.events[0]
    return {
        "timestamp": event.get("@timestamp"),
        "rule_id": match.rule.id,
        "rule_title": match.rule.title,
        "severity": match.rule.severity,
        "host": get_field(event, "host.name") or get_field(event, "host.hostname"),
        "user": get_field(event, "user.name"),
        "source_ip": get_field(event, "source.ip"),
        "event_id": get_field(event, "event.id"),
        "event": event,
    }


def result_dict(result: HuntResult) -> dict[str, Any]:
    """A hunt result as JSON (the API answer and ``soc rules hunt --json`` summary)."""
    return {
        "mode": result.mode,
        "matches": [match_row(m) for m in result.matches],
        "rules_run": result.rules_run,
        "inactive": result.inactive,
        "errors": [
            {"path": e.path, "rule_id": e.rule_id, "stage": e.stage, "reason": e.reason}
            for e in result.errors
        ],
    }


def hunt_refs(
    refs: Sequence[str | Path],
    store: Store,
    *,
    rule_paths: Sequence[Path] = (),
    config: Mapping[str, Any] | QueryConfig | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
) -> HuntResult:
    """Find the named rules and run them; errors of both steps are in the result."""
    rules, errors = find_rules(refs, rule_paths)
    result = Hunter(config).run(rules, store, since=since, until=until, limit=limit)
    result.errors[:0] = errors
    return result


def hunt(
    rule_paths_or_ids: Sequence[str | Path],
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = 100,
    rule_paths: Sequence[Path] = (),
    config: Mapping[str, Any] | QueryConfig | None = None,
) -> list[Match]:
    """Matches of the named rules over stored events in ``[since, until)``.

    Raises :class:`HuntError` when any named rule cannot be found, loaded or converted
    (use :func:`find_rules` and :class:`Hunter` to get partial results instead).
    """
    rules, errors = find_rules(rule_paths_or_ids, rule_paths)
    if errors:
        raise HuntError(errors)
    result = Hunter(config).run(rules, store, since=since, until=until, limit=limit)
    if result.errors:
        raise HuntError(result.errors)
    return result.matches


__all__ = [
    "HuntError",
    "HuntResult",
    "Hunter",
    "LuceneStore",
    "SqlWhereStore",
    "find_rules",
    "hunt",
    "hunt_refs",
    "match_row",
    "result_dict",
]
