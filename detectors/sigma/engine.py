"""``SigmaDetector``: the streaming detector running Sigma rules and correlations.

Rules are loaded (:mod:`.loader`), compiled once (:mod:`.compiler`) and indexed by log
source (:mod:`.logsource`). ``observe(event)`` tests the event against the rules of the
log sources it belongs to, returns matches of rules that generate output, and feeds the
correlations (:mod:`.correlation`) that reference the matched rules; correlation matches
may feed further (chained) correlations.

Following the Sigma correlation spec, a rule referenced by a correlation whose
``generate`` is false (the default) produces no matches of its own; it only feeds the
correlation. A rule referenced only by correlations with ``generate: true`` still does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sigma.correlations import SigmaCorrelationRule
from sigma.rule import SigmaRule

from detectors.base import SIGMA_LEVEL_TO_SEVERITY, Match, RuleInfo, Severity
from detectors.sigma.compiler import DEFAULT_KEYWORD_FIELDS, CompileError, Matcher, compile_rule
from detectors.sigma.correlation import CorrelationError, CorrelationRuntime, Occurrence, rule_key
from detectors.sigma.fieldmap import FieldMap
from detectors.sigma.loader import SigmaLoadError, load_rules, rule_source_path
from detectors.sigma.logsource import LogsourceMap, RuleIndex
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


class SigmaDetector:
    """Streaming detector for Sigma rules and Sigma correlation rules.

    ``rules_paths`` are files or directories of ``.yml``/``.yaml`` rules. ``config`` has
    the structure of ``configs/sigma.yaml`` (that file is read when ``config`` is None).
    Load and compile failures never raise: they are in :attr:`errors` and counted in
    :attr:`stats`.
    """

    name = "sigma"

    def __init__(self, rules_paths: Sequence[Path], *, config: Mapping[str, Any] | None = None) -> None:
        cfg = dict(load_config() if config is None else config)
        self.fields = FieldMap(cfg.get("fields") or {})
        keyword_fields = tuple(cfg.get("keyword_fields") or DEFAULT_KEYWORD_FIELDS)
        self._index: RuleIndex[CompiledRule] = RuleIndex(
            LogsourceMap(cfg.get("logsources") or ()), str(cfg.get("unmapped_logsource", "none"))
        )
        max_groups = int(cfg.get("max_groups", 100_000))
        max_evidence = int(cfg.get("max_evidence", 50))

        rules, correlations, load_errors = load_rules([Path(p) for p in rules_paths])
        self.errors: list[SigmaLoadError] = list(load_errors)

        # Correlations first: they decide which base rules generate output.
        self._correlations: list[CorrelationRuntime] = []
        self._feeds: dict[str, list[CorrelationRuntime]] = defaultdict(list)
        silenced: set[str] = set()
        runtimes: dict[str, CorrelationRuntime] = {}
        for corr in correlations:
            try:
                rt = CorrelationRuntime(
                    corr, rule_info(corr, "sigma_correlation"), self.fields,
                    max_groups=max_groups, max_evidence=max_evidence,
                )
            except CorrelationError as e:
                self.errors.append(SigmaLoadError(rule_source_path(corr), e.rule_id, e.reason, "compile"))
                continue
            runtimes[rule_key(corr)] = rt
            self._correlations.append(rt)
            for ref in rt.refs:
                self._feeds[ref].append(rt)
                if not corr.generate:
                    silenced.add(ref)
        self._correlation_output = {k: k not in silenced for k in runtimes}

        compiled = failed = 0
        for rule in rules:
            key = rule_key(rule)
            try:
                matcher = compile_rule(rule, self.fields, keyword_fields)
            except CompileError as e:
                failed += 1
                self.errors.append(SigmaLoadError(rule_source_path(rule), e.rule_id, e.reason, "compile"))
                continue
            compiled += 1
            info = rule_info(rule, "sigma")
            cr = CompiledRule(key, info, matcher, key not in silenced, self._feeds.get(key, []))
            self._index.add(rule.logsource, cr)
        self._buckets = self._index.buckets()
        load_failed = sum(1 for e in load_errors if e.stage == "load")
        self._stats: dict[str, int] = {
            "rules_loaded": len(rules),
            "rules_compiled": compiled,
            "rules_failed": failed + load_failed,
            "rules_inactive": len(self._index.inactive),
            "correlations": len(self._correlations),
            "correlations_failed": len(correlations) - len(self._correlations)
            + sum(1 for e in load_errors if e.stage == "resolve"),
        }

    # ------------------------------------------------------------------ streaming

    def observe(self, event: Event) -> list[Match]:
        """Matches for one event (single-event rules, then any correlations it completes)."""
        out: list[Match] = []
        ts: datetime | None = None
        for predicate, rules in self._buckets:
            if not predicate(event):
                continue
            for cr in rules:
                if not cr.match(event):
                    continue
                if ts is None:
                    ts = event_time(event)
                if cr.output:
                    out.append(Match(rule=cr.info, events=[event], timestamp=ts))
                if cr.correlations:
                    self._propagate(cr.key, Occurrence(ts, [event], {}), out)
        return out

    def _propagate(self, key: str, occ: Occurrence, out: list[Match]) -> None:
        pending = [(key, occ)]
        while pending:
            ref, occurrence = pending.pop()
            for rt in self._feeds.get(ref, ()):
                for m in rt.feed(ref, occurrence):
                    self._emit(rt, m, out, pending)

    def _emit(self, rt: CorrelationRuntime, m: Match, out: list[Match],
              pending: list[tuple[str, Occurrence]]) -> None:
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

    @property
    def stats(self) -> dict[str, int]:
        """Counts: rules loaded/compiled/failed/inactive, correlations (failed), evicted groups."""
        return {**self._stats, "groups_evicted": sum(rt.evicted for rt in self._correlations)}

    @property
    def rules(self) -> list[CompiledRule]:
        """Compiled base rules that are tested against events."""
        return list(self._index)

    @property
    def inactive_rules(self) -> list[CompiledRule]:
        """Compiled rules never tested (unmapped log source with ``unmapped_logsource: none``)."""
        return list(self._index.inactive)
