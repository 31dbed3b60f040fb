"""Literal prefilter: which rules of a log source can possibly match an event.

For every rule we derive, from its condition tree, a *need*: a set of ``(paths, kind,
literal)`` atoms at least one of which must hold when the rule matches. ``kind`` says how
``literal`` must occur in the lowercased text of one of ``paths``: ``eq`` (the whole
text), ``start``, ``end`` or ``in`` (anywhere). ``Image|endswith: '\\rundll32.exe'``
needs the text of ``Image`` to end with ``\\rundll32.exe``; a wildcard pattern or a
number needs its longest literal part somewhere (``in``); an OR needs the union of its
children's atoms; an AND needs the atoms of its most selective child; a regular
expression needs the literals :mod:`.regexneed` finds in it; a NOT or a CIDR need
nothing (``None``): such rules are always candidates.

:class:`Prefilter` groups a log source's atoms by field. Per event and field the text is
lowercased once; ``eq`` atoms are one dict lookup, ``start``/``end`` atoms one lookup per
distinct literal length, and ``in`` atoms one Aho-Corasick scan (``pyahocorasick``; a plain
substring loop when it is not installed), whatever the number of rules. Only the rules
whose need was met are evaluated in full. The prefilter only narrows: a rule it passes is
still run by its compiled matcher, so results are exactly those of the matchers alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Generic, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
)

from detectors.sigma.compiler import condition_trees, expand_placeholders, string_shape
from detectors.sigma.fieldmap import FieldMap, make_getter
from detectors.sigma.regexneed import required_literals
from soc.event import Event

try:  # C implementation; optional
    import ahocorasick  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - exercised only without the package
    ahocorasick = None

T = TypeVar("T")
Lit = tuple[str, str]  # (kind, lowercased literal); kind: eq, start, end or in
Atom = tuple[tuple[str, ...], str, str]  # (paths, kind, literal)
Need = frozenset[Atom] | None

_KIND = {"eq": "eq", "startswith": "start", "endswith": "end", "contains": "in"}


def _literals(value: Any, keyword: bool = False) -> frozenset[Lit] | None:
    """``(kind, literal)`` pairs, one of which a value test needs in the lowercased event text."""
    if isinstance(value, SigmaExpansion):
        out: set[Lit] = set()
        for v in value.values:
            lits = _literals(v, keyword)
            if lits is None:
                return None
            out |= lits
        return frozenset(out)
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        n = value.number
        # an integer equality: the event text holds its digits ("4624", "04624", "4624.0")
        return frozenset([("in", str(n))]) if isinstance(n, int) and not isinstance(n, bool) else None
    if isinstance(value, SigmaRegularExpression):
        return _regex_literals(value)
    if not isinstance(value, SigmaString):
        return None
    if value.contains_placeholder():
        return None
    shape = string_shape(value)
    if shape is not None and shape[0] != "any" and shape[1]:
        kind = "in" if keyword and shape[0] == "eq" else _KIND[shape[0]]
        return frozenset([(kind, shape[1].lower())])
    best = max((p for p in value.iter_parts() if isinstance(p, str)), key=len, default="")
    return frozenset([("in", best.lower())]) if best else None


def _regex_literals(value: SigmaRegularExpression) -> frozenset[Lit] | None:
    if any(not isinstance(p, str) for p in value.regexp.iter_parts()):
        return None  # placeholders: the compiler rejects the rule
    flags = 0
    for flag in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
    lits = required_literals(str(value.regexp), flags)
    return None if lits is None else frozenset(("in", lit) for lit in lits)


def _quality(need: frozenset[Atom]) -> tuple[int, int]:
    return (min(len(lit) + (8 if kind == "eq" else 0) for _, kind, lit in need), -len(need))


class _NeedBuilder:
    def __init__(self, fields: FieldMap, keyword_paths: tuple[str, ...], placeholders: Mapping[str, Any]):
        self.fields = fields
        self.keyword_paths = keyword_paths
        self.placeholders = placeholders

    def node(self, node: Any) -> Need:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            lits = _literals(self._expand(node.value))
            if lits is None:
                return None
            paths = self.fields.paths(node.field)
            return frozenset((paths, kind, lit) for kind, lit in lits)
        if isinstance(node, ConditionValueExpression):
            lits = _literals(self._expand(node.value), keyword=True)
            return None if lits is None else frozenset((self.keyword_paths, kind, lit) for kind, lit in lits)
        if isinstance(node, ConditionOR):
            out: set[Atom] = set()
            for arg in node.args:
                need = self.node(arg)
                if need is None:
                    return None
                out |= need
            return frozenset(out)
        if isinstance(node, ConditionAND):
            needs = [n for n in (self.node(a) for a in node.args) if n]
            return max(needs, key=_quality) if needs else None
        if isinstance(node, ConditionNOT):
            return None
        return None

    def _expand(self, value: Any) -> Any:
        try:
            return expand_placeholders(value, self.placeholders)
        except Exception:  # the compiler reports it; no need here
            return None


def rule_need(
    rule: SigmaRule,
    fields: FieldMap,
    keyword_fields: Sequence[str],
    placeholders: Mapping[str, Any] | None = None,
) -> Need:
    """The rule's need (``None``: it must always be evaluated)."""
    keyword_paths = tuple(p for f in keyword_fields for p in fields.paths(f))
    builder = _NeedBuilder(fields, keyword_paths, placeholders or {})
    out: set[Atom] = set()
    try:
        for tree in condition_trees(rule):
            need = builder.node(tree)
            if need is None:
                return None
            out |= need
    except Exception:  # anything odd: no prefilter for this rule
        return None
    return frozenset(out) or None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


_GRAM_MIN_LITERALS = 16  # below this, testing each literal is as cheap as the gram set


class _GramIndex:
    """Substring search for many literals without an automaton: each literal of 3 or more
    characters is filed under one of its trigrams (the one shared by the fewest literals),
    so a text only tests the literals filed under trigrams it contains; a C-level
    ``set(zip(...))`` of the text's trigrams and one set intersection pick them."""

    def __init__(self, contains: dict[str, tuple[int, ...]]) -> None:
        self.contains = contains
        self.short = [lit for lit in contains if len(lit) < 3]
        grams_of = {
            lit: {tuple(lit[i : i + 3]) for i in range(len(lit) - 2)} for lit in contains if len(lit) >= 3
        }
        freq: dict[tuple[str, ...], int] = {}
        for grams in grams_of.values():
            for g in grams:
                freq[g] = freq.get(g, 0) + 1
        self.by_gram: dict[tuple[str, ...], list[str]] = {}
        for lit, grams in grams_of.items():
            anchor = min(grams, key=lambda g: (freq[g], g))
            self.by_gram.setdefault(anchor, []).append(lit)
        self.keys = frozenset(self.by_gram)

    def scan(self, t: str, hits: set[int]) -> None:
        contains = self.contains
        for lit in self.short:
            if lit in t:
                hits.update(contains[lit])
        if len(t) < 3:
            return
        by_gram = self.by_gram
        for gram in self.keys.intersection(zip(t, t[1:], t[2:], strict=False)):
            for lit in by_gram[gram]:
                if lit in t:
                    hits.update(contains[lit])


class _Scanner:
    """The atoms of one event path -> rule indices: dict lookups and one automaton."""

    def __init__(self, table: dict[Lit, set[int]]) -> None:
        self.eq: dict[str, tuple[int, ...]] = {}
        self.start: dict[str, tuple[int, ...]] = {}
        self.end: dict[str, tuple[int, ...]] = {}
        contains: dict[str, tuple[int, ...]] = {}
        for (kind, lit), idx in table.items():
            {"eq": self.eq, "start": self.start, "end": self.end, "in": contains}[kind][lit] = tuple(
                sorted(idx)
            )
        self.start_lengths = tuple(sorted({len(lit) for lit in self.start}))
        self.end_lengths = tuple(sorted({len(lit) for lit in self.end}))
        self.contains = contains
        self.automaton: Any = None
        self.grams: _GramIndex | None = None
        if ahocorasick is not None and contains:
            automaton = ahocorasick.Automaton()
            for lit, idx in contains.items():
                automaton.add_word(lit, idx)
            automaton.make_automaton()
            self.automaton = automaton
        elif len(contains) > _GRAM_MIN_LITERALS:
            self.grams = _GramIndex(contains)

    def scan(self, value: Any, hits: set[int]) -> None:
        if isinstance(value, list):
            for v in value:
                self.scan(v, hits) if not isinstance(v, list) else None
            return
        t = _text(value)
        if not t:
            return
        t = t.lower()
        found = self.eq.get(t)
        if found is not None:
            hits.update(found)
        if self.start_lengths:
            start = self.start
            for n in self.start_lengths:
                found = start.get(t[:n])
                if found is not None:
                    hits.update(found)
        if self.end_lengths:
            end = self.end
            for n in self.end_lengths:
                found = end.get(t[-n:])
                if found is not None:
                    hits.update(found)
        if self.automaton is not None:
            for _, idx in self.automaton.iter(t):
                hits.update(idx)
        elif self.grams is not None:
            self.grams.scan(t, hits)
        elif self.contains:
            contains = self.contains
            for lit in filter(t.__contains__, contains):  # the loop runs in C
                hits.update(contains[lit])


class Prefilter(Generic[T]):
    """Rules of one log source with their needs; :meth:`candidates` narrows per event.

    Literals are grouped per event path (an atom on a Sigma field mapped to several paths
    is filed under each). Paths under one object (``winlog.event_data.*``) are read by
    walking that object's keys once, so the cost follows the event's size, not the number
    of fields the rules name.
    """

    def __init__(self, items: Sequence[T], needs: Sequence[Need]) -> None:
        self.items = list(items)
        always: list[int] = []
        per_path: dict[str, dict[Lit, set[int]]] = {}
        for i, need in enumerate(needs):
            if not need:
                always.append(i)
                continue
            for paths, kind, lit in need:
                for path in paths:
                    per_path.setdefault(path, {}).setdefault((kind, lit), set()).add(i)
        self.always = frozenset(always)
        self._always_items = [self.items[i] for i in sorted(always)]
        # paths "a.b.key" with a shared parent "a.b" are scanned by iterating the parent
        parents: dict[str, dict[str, _Scanner]] = {}
        single: list[tuple[Any, _Scanner, str]] = []
        by_parent: dict[str, list[str]] = {}
        for path in per_path:
            parent = path.rpartition(".")[0]
            if parent:
                by_parent.setdefault(parent, []).append(path)
        for parent, paths in by_parent.items():
            if len(paths) >= 4:
                parents[parent] = {p.rpartition(".")[2]: _Scanner(per_path.pop(p)) for p in paths}
        for path, table in per_path.items():
            single.append((make_getter(path), _Scanner(table), path))
        self._parents = [(make_getter(parent), keys, parent) for parent, keys in parents.items()]
        self._single = single

    @property
    def prefiltered(self) -> int:
        """How many rules have a need (are skipped when it is not met)."""
        return len(self.items) - len(self.always)

    def candidates(self, event: Event) -> list[T]:
        """The rules whose need the event meets, and the always-evaluated ones, in order."""
        hits: set[int] = set()
        for get, keys, parent in self._parents:
            node = get(event)
            if isinstance(node, dict):
                for key, value in node.items():
                    scanner = keys.get(key)
                    if scanner is not None and value is not None:
                        scanner.scan(value, hits)
            else:  # flattened input: literal dotted keys
                for key, scanner in keys.items():
                    value = event.get(f"{parent}.{key}")
                    if value is not None:
                        scanner.scan(value, hits)
        for get, scanner, _ in self._single:
            value = get(event)
            if value is not None:
                scanner.scan(value, hits)
        if not hits:
            return self._always_items
        hits |= self.always
        items = self.items
        return [items[i] for i in sorted(hits)]


def build_prefilter(items: Sequence[T], needs: Sequence[Need]) -> Prefilter[T]:
    """A :class:`Prefilter` over ``items`` (their needs in the same order)."""
    return Prefilter(items, needs)


__all__ = ["Need", "Prefilter", "build_prefilter", "rule_need"]
