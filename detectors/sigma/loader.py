"""Load Sigma rule files with pySigma, one file at a time, collecting errors.

A file that fails to parse, or a rule in it that pySigma rejects, becomes a
:class:`SigmaLoadError` naming the file, the rule id (when known) and the reason;
the other files still load. Correlation rules are resolved across all loaded files,
by rule id or ``name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from detectors.sigma.cache import RuleCache, file_digest
from detectors.sigma.compiler import condition_trees

RULE_SUFFIXES = (".yml", ".yaml")
NON_SIGMA_DIRS = frozenset({"stateful"})
"""Folders under a rules path that hold other rule formats (``rules/stateful``: the
ElastAlert-style stateful rules of :mod:`detectors.stateful`); never read as Sigma."""


@dataclass(frozen=True, slots=True)
class SigmaLoadError:
    """Why one rule (or a whole file) could not be used: file, rule id and reason."""

    path: str
    rule_id: str | None
    reason: str
    stage: str = "load"  # "load", "resolve" or "compile"

    def __str__(self) -> str:
        rid = self.rule_id or "<unknown id>"
        return f"{self.path}: rule {rid}: {self.stage} error: {self.reason}"


class LoadedRules(NamedTuple):
    """Rules, correlations and errors from :func:`load_rules`."""

    rules: list[SigmaRule]
    correlations: list[SigmaCorrelationRule]
    errors: list[SigmaLoadError]


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every ``.yml``/``.yaml`` file under the given files or directories, sorted."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from sorted(
                p
                for p in path.rglob("*")
                if p.suffix in RULE_SUFFIXES
                and p.is_file()
                and not NON_SIGMA_DIRS.intersection(p.relative_to(path).parts[:-1])
            )
        elif path.is_file():
            yield path


def rule_source_path(rule: SigmaRule | SigmaCorrelationRule) -> str:
    """The file a rule came from, or ``""``."""
    return str(rule.source.path) if rule.source is not None else ""


def _error_text(error: Exception) -> str:
    # SigmaError.__str__ appends the (resolved) file location; we print the path ourselves.
    if isinstance(error, SigmaError):
        return str(error.args[0]) if error.args else type(error).__name__
    return f"{type(error).__name__}: {error}"


def _raw_id(doc: object) -> str | None:
    if isinstance(doc, dict):
        rid = doc.get("id")
        return str(rid) if rid is not None else None
    return None


def load_file(
    path: Path, data: bytes | None = None
) -> tuple[list[SigmaRule | SigmaCorrelationRule], list[SigmaLoadError]]:
    """Parse one file (possibly multi-document) into rules; never raises."""
    shown = str(path)
    try:
        text = (path.read_bytes() if data is None else data).decode("utf-8")
        docs = list(yaml.load_all(text, Loader=yaml.CSafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return [], [SigmaLoadError(shown, None, f"cannot read YAML: {e}")]
    docs = [d for d in docs if d is not None]
    bad = [d for d in docs if not isinstance(d, dict)]
    if bad:
        return [], [SigmaLoadError(shown, None, "a YAML document is not a mapping")]
    try:
        collection = SigmaCollection.from_dicts(
            docs, collect_errors=True, source=SigmaRuleLocation(path), resolve_references=False
        )
    except Exception as e:  # pySigma may raise anything on malformed input
        rid = _raw_id(docs[0]) if len(docs) == 1 else None
        return [], [SigmaLoadError(shown, rid, _error_text(e))]
    rules: list[SigmaRule | SigmaCorrelationRule] = []
    errors: list[SigmaLoadError] = []
    seen_rule_errors: set[int] = set()
    for rule in collection.rules:
        if rule.errors:
            rid = str(rule.id) if rule.id else None
            reasons = "; ".join(dict.fromkeys(_error_text(e) for e in rule.errors))
            errors.append(SigmaLoadError(shown, rid, reasons))
            seen_rule_errors.update(id(e) for e in rule.errors)
        else:
            rules.append(rule)
    for e in collection.errors:  # collection-level errors (e.g. unknown action)
        if id(e) not in seen_rule_errors:
            errors.append(SigmaLoadError(shown, None, _error_text(e)))
    return rules, errors


def _resolve(
    correlations: list[SigmaCorrelationRule], collection: SigmaCollection
) -> tuple[list[SigmaCorrelationRule], list[SigmaLoadError]]:
    """Resolve references; drop correlations whose references are missing, to a fixpoint."""
    errors: list[SigmaLoadError] = []
    alive = list(correlations)
    while True:
        dropped: list[SigmaCorrelationRule] = []
        for corr in alive:
            try:
                corr.resolve_rule_references(collection)
                corr.aliases.resolve_rule_references(collection)
            except Exception as e:  # reported, rule dropped
                dropped.append(corr)
                errors.append(
                    SigmaLoadError(
                        rule_source_path(corr),
                        str(corr.id) if corr.id else corr.name,
                        _error_text(e),
                        "resolve",
                    )
                )
        if not dropped:
            return alive, errors
        dropped_ids = {id(c) for c in dropped}
        alive = [c for c in alive if id(c) not in dropped_ids]
        for corr in dropped:
            if corr.id is not None:
                collection.ids_to_rules.pop(corr.id, None)
            if corr.name is not None:
                collection.names_to_rules.pop(corr.name, None)


FileResult = tuple[list[SigmaRule | SigmaCorrelationRule], list[SigmaLoadError]]


def load_file_cached(path: Path, cache: RuleCache | None = None) -> FileResult:
    """:func:`load_file` through the parse cache (files with correlations are never cached)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        return [], [SigmaLoadError(str(path), None, f"cannot read YAML: {e}")]
    if cache is None or b"correlation" in data:
        return load_file(path, data)
    digest = file_digest(data)
    hit = cache.get(str(path), digest)
    if hit is not None:
        return hit
    result = load_file(path, data)
    for rule in result[0]:
        if isinstance(rule, SigmaRule):
            try:
                condition_trees(rule)  # parsed now, so the cache holds the trees
            except Exception:  # reported when the rule is compiled
                pass
    cache.put(str(path), digest, result)
    return result


def resolve(everything: list[SigmaRule | SigmaCorrelationRule], errors: list[SigmaLoadError]) -> LoadedRules:
    """Split loaded rules into base rules and resolved correlations (errors appended)."""
    collection = SigmaCollection(init_rules=list(everything), resolve_references=False)
    base = [r for r in everything if isinstance(r, SigmaRule)]
    correlations, resolve_errors = _resolve(
        [r for r in everything if isinstance(r, SigmaCorrelationRule)], collection
    )
    errors.extend(resolve_errors)
    return LoadedRules(base, correlations, errors)


def load_rules(paths: Sequence[Path], cache: RuleCache | None = None) -> LoadedRules:
    """Load every rule file under ``paths``; returns rules, correlations and errors."""
    everything: list[SigmaRule | SigmaCorrelationRule] = []
    errors: list[SigmaLoadError] = []
    for path in iter_rule_files(paths):
        rules, file_errors = load_file_cached(path, cache)
        everything.extend(rules)
        errors.extend(file_errors)
    if cache is not None:
        cache.save()
    return resolve(everything, errors)
