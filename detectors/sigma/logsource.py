"""Sigma log sources to event predicates, and the per-log-source rule index.

Each configured entry pairs a Sigma ``logsource`` (product, category, service) with ECS
field equalities. A rule selects the entry whose three keys equal its own (``"*"`` in an
entry matches any value). :class:`RuleIndex` groups rules by entry so that each event is
tested against a predicate once per log source, then only against that log source's rules.
Rules with no entry go to the "unmapped" bucket, which the ``unmapped_logsource`` policy
turns on (``all``: tested against every event) or off (``none``: never tested, counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sigma.rule import SigmaLogSource

from detectors.sigma.fieldmap import make_getter
from soc.event import Event

Predicate = Callable[[Event], bool]
T = TypeVar("T")

LOGSOURCE_KEYS = ("product", "category", "service")
UNMAPPED_POLICIES = ("all", "none")


class LogsourceConfigError(ValueError):
    """A ``logsources`` entry in the Sigma config is malformed."""


def _always(_event: Event) -> bool:
    return True


def compile_conditions(conditions: Mapping[str, Any]) -> Predicate:
    """Closure testing ECS field equalities (list value = any of; list field = any element)."""
    tests: list[tuple[Callable[[Event], Any], frozenset[Any]]] = []
    for path, wanted in conditions.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        tests.append((make_getter(str(path)), frozenset(values)))
    if not tests:
        return _always

    def predicate(event: Event) -> bool:
        for get, allowed in tests:
            value = get(event)
            if isinstance(value, list):
                if not any(v in allowed for v in value if not isinstance(v, (dict, list))):
                    return False
            elif isinstance(value, (dict, set)) or value not in allowed:
                return False
        return True

    return predicate


@dataclass(frozen=True, slots=True)
class LogsourceEntry:
    """One configured log source: the Sigma keys it stands for and its event predicate."""

    key: tuple[str | None, str | None, str | None]
    predicate: Predicate
    label: str

    def accepts(self, logsource: SigmaLogSource) -> bool:
        rule_key = (logsource.product, logsource.category, logsource.service)
        return all(want == "*" or want == have for want, have in zip(self.key, rule_key, strict=True))


class LogsourceMap:
    """The configured log sources, looked up by a rule's ``logsource``."""

    def __init__(self, entries: Sequence[Mapping[str, Any]] = ()) -> None:
        self.entries: list[LogsourceEntry] = []
        for i, raw in enumerate(entries):
            ls = raw.get("logsource") if isinstance(raw, Mapping) else None
            if not isinstance(ls, Mapping) or not set(ls) <= set(LOGSOURCE_KEYS) or not ls:
                raise LogsourceConfigError(
                    f"logsources[{i}]: 'logsource' must map some of {LOGSOURCE_KEYS} to values"
                )
            conditions = raw.get("conditions", {})
            if not isinstance(conditions, Mapping):
                raise LogsourceConfigError(f"logsources[{i}]: 'conditions' must be a mapping")
            key = tuple(None if ls.get(k) is None else str(ls[k]) for k in LOGSOURCE_KEYS)
            label = ",".join(f"{k}={v}" for k, v in zip(LOGSOURCE_KEYS, key, strict=True) if v)
            self.entries.append(LogsourceEntry(key, compile_conditions(conditions), label))  # type: ignore[arg-type]

    def lookup(self, logsource: SigmaLogSource) -> LogsourceEntry | None:
        """The first entry that accepts the rule's log source, or ``None``."""
        for entry in self.entries:
            if entry.accepts(logsource):
                return entry
        return None


@dataclass(slots=True)
class _Bucket(Generic[T]):
    predicate: Predicate
    items: list[T] = field(default_factory=list)


class RuleIndex(Generic[T]):
    """Items (compiled rules) grouped by log source, with the unmapped policy applied."""

    def __init__(self, logsources: LogsourceMap, unmapped: str = "none") -> None:
        if unmapped not in UNMAPPED_POLICIES:
            raise LogsourceConfigError(
                f"unmapped_logsource must be one of {UNMAPPED_POLICIES}, not {unmapped!r}"
            )
        self._logsources = logsources
        self._unmapped = unmapped
        self._buckets: dict[str, _Bucket[T]] = {}
        self.inactive: list[T] = []

    def add(self, logsource: SigmaLogSource, item: T) -> bool:
        """File ``item`` under its log source; returns False when it will never be tested."""
        entry = self._logsources.lookup(logsource)
        if entry is None:
            if self._unmapped == "none":
                self.inactive.append(item)
                return False
            bucket = self._buckets.setdefault("*unmapped*", _Bucket(_always))
        else:
            bucket = self._buckets.setdefault(entry.label, _Bucket(entry.predicate))
        bucket.items.append(item)
        return True

    def buckets(self) -> list[tuple[Predicate, list[T]]]:
        """``(predicate, items)`` pairs; the engine tests each predicate once per event."""
        return [(b.predicate, b.items) for b in self._buckets.values()]

    def __iter__(self) -> Iterator[T]:
        for bucket in self._buckets.values():
            yield from bucket.items
