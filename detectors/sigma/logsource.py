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


def _condition_fields(conditions: Any) -> list[str]:
    alts = conditions if isinstance(conditions, list) else [conditions]
    return [str(k) for alt in alts for k in alt]


def compile_conditions(conditions: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Predicate:
    """Closure testing ECS field equalities (list value = any of; list field = any element).

    ``conditions`` is one mapping (all must hold) or a list of mappings (any must hold).
    """
    if isinstance(conditions, list):
        alts = [compile_conditions(c) for c in conditions]
        if not alts:
            return _always
        return lambda e: any(p(e) for p in alts)
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
    fields: tuple[str, ...] = ()  # the ECS fields its conditions read

    def accepts(self, logsource: SigmaLogSource) -> bool:
        rule_key = (logsource.product, logsource.category, logsource.service)
        return all(want == "*" or want == have for want, have in zip(self.key, rule_key, strict=True))


class LogsourceMap:
    """The configured log sources, looked up by a rule's ``logsource``."""

    def __init__(self, entries: Sequence[Mapping[str, Any]] = ()) -> None:
        self.entries: list[LogsourceEntry] = []
        self._looked_up: dict[tuple[str | None, str | None, str | None], LogsourceEntry | None] = {}
        for i, raw in enumerate(entries):
            ls = raw.get("logsource") if isinstance(raw, Mapping) else None
            if not isinstance(ls, Mapping) or not set(ls) <= set(LOGSOURCE_KEYS) or not ls:
                raise LogsourceConfigError(
                    f"logsources[{i}]: 'logsource' must map some of {LOGSOURCE_KEYS} to values"
                )
            conditions = raw.get("conditions", {})
            alts = conditions if isinstance(conditions, list) else [conditions]
            if not all(isinstance(c, Mapping) for c in alts):
                raise LogsourceConfigError(
                    f"logsources[{i}]: 'conditions' must be a mapping or a list of mappings"
                )
            key = tuple(None if ls.get(k) is None else str(ls[k]) for k in LOGSOURCE_KEYS)
            label = ",".join(f"{k}={v}" for k, v in zip(LOGSOURCE_KEYS, key, strict=True) if v)
            self.entries.append(
                LogsourceEntry(
                    key,
                    compile_conditions(conditions),
                    label,  # type: ignore[arg-type]
                    tuple(dict.fromkeys(_condition_fields(conditions))),
                )
            )

    def lookup(self, logsource: SigmaLogSource) -> LogsourceEntry | None:
        """The first entry that accepts the rule's log source, or ``None``."""
        key = (logsource.product, logsource.category, logsource.service)
        if key in self._looked_up:
            return self._looked_up[key]
        found = next((entry for entry in self.entries if entry.accepts(logsource)), None)
        self._looked_up[key] = found
        return found


@dataclass(slots=True)
class _Bucket(Generic[T]):
    label: str
    predicate: Predicate
    fields: tuple[str, ...]
    items: list[T] = field(default_factory=list)
    runner: Any = None  # what the engine runs for this bucket (its prefiltered rule set)


_UNCACHEABLE = object()


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, (dict, set)):
        return _UNCACHEABLE
    return value


class RuleIndex(Generic[T]):
    """Items (compiled rules) grouped by log source, with the unmapped policy applied.

    :meth:`dispatch` finds an event's buckets in O(1) of the number of log sources: it
    reads the few ECS fields that any log source condition uses (``winlog.channel``,
    ``event.code``, ``event.dataset``, ...) once, and looks the tuple of their values up
    in a cache of bucket lists (filled by testing every predicate on a miss).
    """

    CACHE_SIZE = 4096

    def __init__(self, logsources: LogsourceMap, unmapped: str = "none") -> None:
        if unmapped not in UNMAPPED_POLICIES:
            raise LogsourceConfigError(
                f"unmapped_logsource must be one of {UNMAPPED_POLICIES}, not {unmapped!r}"
            )
        self._logsources = logsources
        self._unmapped = unmapped
        self._buckets: dict[str, _Bucket[T]] = {}
        self.inactive: list[T] = []
        self._cache: dict[tuple[Any, ...], list[_Bucket[T]]] = {}
        self._getters: tuple[Callable[[Event], Any], ...] = ()
        self._always: list[_Bucket[T]] = []
        self._frozen = False

    def entry_for(self, logsource: SigmaLogSource) -> LogsourceEntry | None:
        """The configured log source of a rule (``None``: unmapped)."""
        return self._logsources.lookup(logsource)

    def add(self, logsource: SigmaLogSource, item: T) -> bool:
        """File ``item`` under its log source; returns False when it will never be tested."""
        entry = self._logsources.lookup(logsource)
        if entry is None:
            if self._unmapped == "none":
                self.inactive.append(item)
                return False
            bucket = self._buckets.setdefault("*unmapped*", _Bucket("*unmapped*", _always, ()))
        else:
            bucket = self._buckets.setdefault(
                entry.label, _Bucket(entry.label, entry.predicate, entry.fields)
            )
        bucket.items.append(item)
        self._frozen = False
        return True

    def _freeze(self) -> None:
        paths = tuple(dict.fromkeys(f for b in self._buckets.values() for f in b.fields))
        self._getters = tuple(make_getter(p) for p in paths)
        self._always = [b for b in self._buckets.values() if not b.fields]
        self._cache = {}
        self._frozen = True

    def dispatch(self, event: Event) -> list[_Bucket[T]]:
        """The buckets whose log source accepts ``event``."""
        if not self._frozen:
            self._freeze()
        key = tuple([v if type(v) is str else _hashable(v) for v in [g(event) for g in self._getters]])
        hit = self._cache.get(key)
        if hit is None:
            hit = self._always + [b for b in self._buckets.values() if b.fields and b.predicate(event)]
            if _UNCACHEABLE not in key:
                if len(self._cache) >= self.CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = hit
        return hit

    def all_buckets(self) -> list[_Bucket[T]]:
        """Every bucket in use."""
        return list(self._buckets.values())

    def buckets(self) -> list[tuple[Predicate, list[T]]]:
        """``(predicate, items)`` pairs (one per configured log source in use)."""
        return [(b.predicate, b.items) for b in self._buckets.values()]

    def labelled(self) -> list[tuple[str, list[T]]]:
        """``(label, items)`` pairs, for reports and benches."""
        return [(b.label, b.items) for b in self._buckets.values()]

    def __iter__(self) -> Iterator[T]:
        for bucket in self._buckets.values():
            yield from bucket.items
