"""``SigmaDetector``: the streaming detector running Sigma rules and correlations.

Rules are loaded (:mod:`.loader`), compiled once (:mod:`.compiler`) and indexed by log
source (:mod:`.logsource`), then within a log source by the event codes they can match
(:mod:`.eventcode`) and by the literals they need (:mod:`.prefilter`, :mod:`.regexneed`).
``observe(event)`` runs in full only the rules those indexes leave (they only narrow:
``tests/test_sigma_parity.py``), returns matches of rules that generate output, and feeds the
correlations (:mod:`.correlation`) that reference the matched rules; correlation matches
may feed further (chained) correlations.

Following the Sigma correlation spec, a rule referenced by a correlation whose
``generate`` is false (the default) produces no matches of its own; it only feeds the
correlation. A rule referenced only by correlations with ``generate: true`` still does.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from detectors.base import SIGMA_LEVEL_TO_SEVERITY, Match, RuleInfo, Severity
from detectors.checkpoint import PendingCheckpoint, RuleStateTable, serialize
from detectors.sigma.cache import RuleCache, default_cache_dir
from detectors.sigma.compiler import DEFAULT_KEYWORD_FIELDS, CompileError, Matcher, compile_rule
from detectors.sigma.correlation import CorrelationError, CorrelationRuntime, Occurrence, rule_key
from detectors.sigma.correlation import restore as restore_correlation
from detectors.sigma.correlation import snapshot as snapshot_correlation
from detectors.sigma.eventcode import CodeIndex, Codes, rule_codes
from detectors.sigma.fieldmap import FieldMap
from detectors.sigma.loader import (
    SigmaLoadError,
    iter_rule_files,
    load_file_cached,
    resolve,
    rule_source_path,
)
from detectors.sigma.logsource import LogsourceMap, RuleIndex
from detectors.sigma.prefilter import Need, rule_need
from soc.event import Event, parse_ts, utcnow

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "sigma.yaml"


def load_config(path: Path = DEFAULT_CONFIG_PATH) -> dict[str, Any]:
    """Read the Sigma detector config (``configs/sigma.yaml``); ``{}`` when absent."""
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise TypeError(f"{path}: Sigma config must be a mapping")
    return data


def rule_info(rule: SigmaRule | SigmaCorrelationRule, rule_type: str) -> RuleInfo:
    """What an alert says about a Sigma rule (author kept, as the DRL requires)."""
    level = str(rule.level) if rule.level is not None else ""
    severity: Severity = SIGMA_LEVEL_TO_SEVERITY.get(level, "medium")
    return RuleInfo(
        id=str(rule.id) if rule.id is not None else (rule.name or ""),
        title=rule.title,
        type=rule_type,
        severity=severity,
        description=(rule.description or "").strip(),
        author=rule.author or "",
        status=str(rule.status) if rule.status is not None else "",
        version=rule.modified.isoformat() if rule.modified else (rule.date.isoformat() if rule.date else ""),
        tags=tuple(str(t) for t in rule.tags),
        references=tuple(rule.references),
        falsepositives=tuple(rule.falsepositives),
        source_path=rule_source_path(rule),
    )


@dataclass(slots=True)
class CompiledRule:
    """A base Sigma rule ready to run."""

    key: str
    info: RuleInfo
    match: Matcher
    output: bool  # produces its own matches (False when referenced with generate: false)
    correlations: list[CorrelationRuntime]
    rule: SigmaRule | None = None
    need: Need = None
    codes: Codes = None  # the event codes it can match (None: any)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while rules load (and back as it was after).

    Loading creates millions of long-lived objects (pySigma rules, closures, indexes); the
    collector would scan them again and again for no garbage (measured: a cached corpus
    load 5.5 s -> 2.0 s CPU).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def event_time(event: Event) -> datetime:
    """The event's ``@timestamp`` as aware UTC (ingest time when missing or unreadable)."""
    ts = event.get("@timestamp")
    if isinstance(ts, datetime):
        return ts if ts.tzinfo is not None else ts.replace(tzinfo=utcnow().tzinfo)
    if isinstance(ts, str):
        try:
            return parse_ts(ts)
        except ValueError:
            pass
    return utcnow()


@dataclass(slots=True)
class _RuleSet:
    """Everything ``observe`` reads, swapped as one object by :meth:`SigmaDetector.reload`."""

    index: RuleIndex[CompiledRule]
    compiled: dict[str, CompiledRule]  # by rule key
    by_file: dict[str, list[str]]  # source path -> rule keys


@dataclass(frozen=True, slots=True)
class ReloadReport:
    """What :meth:`SigmaDetector.reload` changed, and the errors of the files it re-read."""

    changed_files: tuple[str, ...]
    removed_files: tuple[str, ...]
    rules_added: int
    rules_replaced: int
    rules_removed: int
    rules_kept_old: int  # broken edits: the previous version keeps running
    errors: tuple[SigmaLoadError, ...]


def _file_signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class SigmaDetector:
    """Streaming detector for Sigma rules and Sigma correlation rules.

    ``rules_paths`` are files or directories of ``.yml``/``.yaml`` rules. ``config`` has
    the structure of ``configs/sigma.yaml`` (that file is read when ``config`` is None).
    Load and compile failures never raise: they are in :attr:`errors` and counted in
    :attr:`stats`. :meth:`reload` re-reads changed files and swaps the rule set atomically.
    """

    name = "sigma"

    def __init__(self, rules_paths: Sequence[Path], *, config: Mapping[str, Any] | None = None) -> None:
        with gc_paused():
            self._load(rules_paths, config)

    def _load(self, rules_paths: Sequence[Path], config: Mapping[str, Any] | None) -> None:
        cfg = dict(load_config() if config is None else config)
        self._paths = [Path(p) for p in rules_paths]
        self.fields = FieldMap(cfg.get("fields") or {})
        self._fieldmaps: dict[str | None, FieldMap] = {}
        common = dict(cfg.get("fields") or {})
        fallbacks = dict(cfg.get("field_fallback") or {})
        for product, extra in (cfg.get("product_fields") or {}).items():
            self._fieldmaps[str(product)] = FieldMap({**common, **(extra or {})}, fallbacks.get(product))
        for product, prefix in fallbacks.items():
            self._fieldmaps.setdefault(str(product), FieldMap(common, prefix))
        self._keyword_fields = tuple(cfg.get("keyword_fields") or DEFAULT_KEYWORD_FIELDS)
        self._placeholders = {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in (cfg.get("placeholders") or {}).items()
        }
        self._logsources = LogsourceMap(cfg.get("logsources") or ())
        self._unmapped = str(cfg.get("unmapped_logsource", "none"))
        RuleIndex(self._logsources, self._unmapped)  # validates the policy now
        self._max_groups = int(cfg.get("max_groups", 100_000))
        self._max_evidence = int(cfg.get("max_evidence", 50))
        cache_dir = cfg.get("cache_dir")
        self._cache = RuleCache(
            default_cache_dir()
            if cache_dir is None
            else (Path(cache_dir).expanduser() if cache_dir else None),
            scope="\n".join(sorted(str(p.resolve()) for p in self._paths)),
        )

        self._signatures: dict[str, tuple[int, int] | None] = {}
        per_file: dict[str, list[SigmaRule | SigmaCorrelationRule]] = {}
        load_errors: list[SigmaLoadError] = []
        for path in iter_rule_files(self._paths):
            self._signatures[str(path)] = _file_signature(path)
            rules, errs = load_file_cached(path, self._cache)
            per_file[str(path)] = rules
            load_errors.extend(errs)
        self._cache.save()
        self._per_file = per_file
        loaded = resolve([r for rs in per_file.values() for r in rs], load_errors)
        rules, correlations = loaded.rules, loaded.correlations
        self.errors: list[SigmaLoadError] = list(load_errors)
        self._build_correlations(correlations)

        compiled: dict[str, CompiledRule] = {}
        failed = 0
        for rule in rules:
            cr = self._compile(rule)
            if isinstance(cr, SigmaLoadError):
                failed += 1
                self.errors.append(cr)
            else:
                compiled[cr.key] = cr
        self._state = self._make_state(compiled)
        load_failed = sum(1 for e in load_errors if e.stage == "load")
        self._stats: dict[str, int] = {
            "rules_loaded": len(rules),
            "rules_compiled": len(compiled),
            "rules_failed": failed + load_failed,
            "correlations": len(self._correlations),
            "correlations_failed": len(correlations)
            - len(self._correlations)
            + sum(1 for e in load_errors if e.stage == "resolve"),
            "cache_hits": self._cache.hits,
            "cache_misses": self._cache.misses,
            "reloads": 0,
        }

    # ------------------------------------------------------------------ building

    def fieldmap_for(self, product: str | None, category: str | None = None) -> FieldMap:
        """The field map of a rule's product, else of its category (``product_fields`` over ``fields``)."""
        fm = self._fieldmaps.get(product) if product else None
        if fm is None and category:
            fm = self._fieldmaps.get(category)
        return fm or self.fields

    def _build_correlations(self, correlations: list[SigmaCorrelationRule]) -> None:
        # Correlations first: they decide which base rules generate output.
        previous = {rule_key(rt.rule): rt for rt in getattr(self, "_correlations", [])}
        self._correlations: list[CorrelationRuntime] = []
        self._feeds: dict[str, list[CorrelationRuntime]] = defaultdict(list)
        silenced: set[str] = set()
        runtimes: dict[str, CorrelationRuntime] = {}
        for corr in correlations:
            try:
                rt = CorrelationRuntime(
                    corr,
                    rule_info(corr, "sigma_correlation"),
                    self.fields,
                    max_groups=self._max_groups,
                    max_evidence=self._max_evidence,
                )
            except CorrelationError as e:
                self.errors.append(SigmaLoadError(rule_source_path(corr), e.rule_id, e.reason, "compile"))
                continue
            old = previous.get(rule_key(corr))
            if old is not None and len(old.refs) == len(rt.refs):  # a reload keeps the windows
                restore_correlation(rt, snapshot_correlation(old))
            runtimes[rule_key(corr)] = rt
            self._correlations.append(rt)
            for ref in rt.refs:
                self._feeds[ref].append(rt)
                if not corr.generate:
                    silenced.add(ref)
        self._silenced = silenced
        self._correlation_output = {k: k not in silenced for k in runtimes}

    def _compile(self, rule: SigmaRule) -> CompiledRule | SigmaLoadError:
        key = rule_key(rule)
        fields = self.fieldmap_for(rule.logsource.product, rule.logsource.category)
        try:
            matcher = compile_rule(rule, fields, self._keyword_fields, self._placeholders)
        except CompileError as e:
            return SigmaLoadError(rule_source_path(rule), e.rule_id, e.reason, "compile")
        need = rule_need(rule, fields, self._keyword_fields, self._placeholders)
        info = rule_info(rule, "sigma")
        return CompiledRule(
            key,
            info,
            matcher,
            key not in self._silenced,
            self._feeds.get(key, []),
            rule,
            need,
            rule_codes(rule, fields),
        )

    def _make_state(self, compiled: dict[str, CompiledRule]) -> _RuleSet:
        index: RuleIndex[CompiledRule] = RuleIndex(self._logsources, self._unmapped)
        by_file: dict[str, list[str]] = defaultdict(list)
        for cr in compiled.values():
            by_file[cr.info.source_path].append(cr.key)
            index.add(cr.rule.logsource if cr.rule is not None else None, cr)  # type: ignore[arg-type]
        for bucket in index.all_buckets():
            bucket.runner = CodeIndex(
                bucket.items, [cr.need for cr in bucket.items], [cr.codes for cr in bucket.items]
            )
        return _RuleSet(index, compiled, dict(by_file))

    # ------------------------------------------------------------------ hot reload

    def reload(self) -> ReloadReport:
        """Re-read changed, new and removed rule files; swap the rule set atomically.

        A rule whose new version fails to load or compile keeps its previous version
        running; the failure is reported (file, rule id, reason) and added to
        :attr:`errors`. Cheap when nothing changed (one ``stat`` per file), so the engine
        may call it every few seconds. Files with correlation rules rebuild the
        correlations (their windows restart).
        """
        with gc_paused():
            return self._reload()

    def _reload(self) -> ReloadReport:
        """Body of :meth:`reload`."""
        state = self._state
        current = {str(p): p for p in iter_rule_files(self._paths)}
        changed = [k for k, p in current.items() if _file_signature(p) != self._signatures.get(k)]
        removed = [k for k in self._signatures if k not in current]
        if not changed and not removed:
            return ReloadReport((), (), 0, 0, 0, 0, ())
        compiled = dict(state.compiled)
        errors: list[SigmaLoadError] = []
        added = replaced = dropped = kept = 0
        correlations_changed = False
        for path in removed:
            for key in state.by_file.get(path, []):
                compiled.pop(key, None)
                dropped += 1
            gone = self._per_file.pop(path, [])
            correlations_changed |= any(isinstance(r, SigmaCorrelationRule) for r in gone)
            self._signatures.pop(path, None)
        for path in changed:
            self._signatures[path] = _file_signature(current[path])
            rules, errs = load_file_cached(current[path], self._cache)
            old_keys = set(state.by_file.get(path, []))
            correlations_changed |= any(
                isinstance(r, SigmaCorrelationRule) for r in rules + self._per_file.get(path, [])
            )
            self._per_file[path] = rules
            new_keys: set[str] = set()
            for rule in rules:
                if not isinstance(rule, SigmaRule):
                    continue
                cr = self._compile(rule)
                if isinstance(cr, SigmaLoadError):
                    errs.append(cr)
                    continue
                new_keys.add(cr.key)
                if cr.key in compiled:
                    replaced += 1
                else:
                    added += 1
                compiled[cr.key] = cr
            failed_ids = {e.rule_id for e in errs}
            whole_file_failed = any(e.rule_id is None for e in errs) or (not rules and errs)
            for key in old_keys - new_keys:
                old = state.compiled.get(key)
                if old is not None and (whole_file_failed or old.info.id in failed_ids or key in failed_ids):
                    kept += 1  # broken edit: the old version stays
                else:
                    compiled.pop(key, None)
                    dropped += 1
            errors.extend(errs)
        self._cache.save()
        if correlations_changed:
            everything = [r for rs in self._per_file.values() for r in rs]
            loaded = resolve(everything, errors)
            self._build_correlations(loaded.correlations)
            for key, cr in list(compiled.items()):
                compiled[key] = CompiledRule(
                    cr.key,
                    cr.info,
                    cr.match,
                    key not in self._silenced,
                    self._feeds.get(key, []),
                    cr.rule,
                    cr.need,
                    cr.codes,
                )
        self._state = self._make_state(compiled)  # the atomic swap
        self.errors.extend(errors)
        self._stats["rules_compiled"] = len(compiled)
        self._stats["reloads"] += 1
        return ReloadReport(tuple(changed), tuple(removed), added, replaced, dropped, kept, tuple(errors))

    # ------------------------------------------------------------------ streaming

    def observe(self, event: Event) -> list[Match]:
        """Matches for one event (single-event rules, then any correlations it completes)."""
        out: list[Match] = []
        ts: datetime | None = None
        for bucket in self._state.index.dispatch(event):
            for cr in bucket.runner.candidates(event):
                if not cr.match(event):
                    continue
                if ts is None:
                    ts = event_time(event)
                if cr.output:
                    out.append(Match(rule=cr.info, events=[event], timestamp=ts))
                if cr.correlations:
                    self._propagate(cr.key, Occurrence(ts, [event], {}), out)
        return out

    def candidates(self, event: Event) -> list[CompiledRule]:
        """The rules :meth:`observe` evaluates in full for ``event`` (after the log source,
        event code and literal indexes), for benches and reports."""
        return [cr for bucket in self._state.index.dispatch(event) for cr in bucket.runner.candidates(event)]

    def rules_for(self, event: Event) -> list[CompiledRule]:
        """Every rule of the log sources accepting ``event``, before the event code and
        literal indexes narrow them (what :meth:`candidates` is a subset of)."""
        return [cr for bucket in self._state.index.dispatch(event) for cr in bucket.items]

    def _propagate(self, key: str, occ: Occurrence, out: list[Match]) -> None:
        pending = [(key, occ)]
        while pending:
            ref, occurrence = pending.pop()
            for rt in self._feeds.get(ref, ()):
                for m in rt.feed(ref, occurrence):
                    self._emit(rt, m, out, pending)

    def _emit(
        self, rt: CorrelationRuntime, m: Match, out: list[Match], pending: list[tuple[str, Occurrence]]
    ) -> None:
        key = rule_key(rt.rule)
        if self._correlation_output.get(key, True):
            out.append(m)
        if key in self._feeds:
            pending.append((key, Occurrence(m.timestamp, m.events, m.group)))

    def tick(self, now: datetime) -> list[Match]:
        """Time-driven results: windows of "fewer than" correlations that closed."""
        out: list[Match] = []
        pending: list[tuple[str, Occurrence]] = []
        for rt in self._correlations:
            for m in rt.tick(now):
                self._emit(rt, m, out, pending)
        while pending:
            key, occ = pending.pop()
            self._propagate(key, occ, out)
        return out

    # ------------------------------------------------------------------ state

    STATE_PREFIX = "sigma-correlation:"

    def checkpoint(self) -> PendingCheckpoint:
        """Serialize the correlations whose windows changed (in the thread that observes)."""
        pending = PendingCheckpoint()
        for rt in self._correlations:
            if rt.dirty:
                key = self.STATE_PREFIX + rule_key(rt.rule)
                pending.rows[key] = ("sigma_correlation", serialize(snapshot_correlation(rt)))
                rt.dirty = False
        return pending

    def restore_state(self, state: Any) -> int:
        """Restore the correlations' windows saved in the state store; returns how many."""
        saved = RuleStateTable(state).load()
        restored = 0
        for rt in self._correlations:
            data = saved.get(self.STATE_PREFIX + rule_key(rt.rule))
            if data is not None:
                restored += restore_correlation(rt, data)
        return restored

    @property
    def stats(self) -> dict[str, int]:
        """Counts: rules loaded/compiled/failed/inactive, correlations (failed), evicted groups."""
        return {
            **self._stats,
            "rules_inactive": len(self._state.index.inactive),
            "rules_prefiltered": sum(b.runner.prefiltered for b in self._state.index.all_buckets()),
            "groups_evicted": sum(rt.evicted for rt in self._correlations),
            "correlation_duplicates": sum(rt.duplicates for rt in self._correlations),
        }

    @property
    def rules(self) -> list[CompiledRule]:
        """Compiled base rules that are tested against events."""
        return list(self._state.index)

    @property
    def inactive_rules(self) -> list[CompiledRule]:
        """Compiled rules never tested (unmapped log source with ``unmapped_logsource: none``)."""
        return list(self._state.index.inactive)

    def buckets(self) -> list[tuple[str, int]]:
        """``(log source label, number of rules)`` of each log source in use."""
        return [(label, len(items)) for label, items in self._state.index.labelled()]
