"""Literal prefilter: which rules of a log source can possibly match an event.

For every rule we derive, from its condition tree, a *need*: a set of ``(paths, kind,
literal)`` atoms at least one of which must hold when the rule matches. ``kind`` says how
``literal`` must occur in the lowercased text of one of ``paths``: ``eq`` (the whole
text), ``start``, ``end`` or ``in`` (anywhere). ``Image|endswith: '\\rundll32.exe'``
needs the text of ``Image`` to end with ``\\rundll32.exe``; a wildcard pattern or a
number needs its longest literal part somewhere (``in``); an OR needs the union of its
children's atoms; an AND needs the needs of its children (a rule keeps its two most
selective *clauses*, both of which must be met); a regular expression needs the literals
:mod:`.regexneed` finds in it; a NOT or a CIDR need nothing (``None``): such rules are
always candidates.

:class:`Prefilter` groups a log source's atoms by field. Per event and field the text is
lowercased once; ``eq`` atoms are one dict lookup, ``start``/``end`` atoms one lookup per
distinct literal length, and ``in`` atoms one Aho-Corasick scan (``pyahocorasick``, when
installed) or a trigram index (:class:`_Literals`), whatever the number of rules; literals
with non-ASCII characters are only looked for in non-ASCII texts. Only the rules
whose need was met are evaluated in full. The prefilter only narrows: a rule it passes is
still run by its compiled matcher, so results are exactly those of the matchers alone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any, Generic, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.rule import SigmaRule
from sigma.types import (
    Placeholder,
    SigmaExpansion,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
)

from detectors.sigma.alternatives import union_of_alternatives
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
Clause = frozenset[Atom]  # holds when any of its atoms holds
Need = tuple[Clause, ...] | None  # every clause must hold (None: no need known)

MAX_CLAUSES = 2  # clauses kept per rule (the most selective ones)

_KIND = {"eq": "eq", "startswith": "start", "endswith": "end", "contains": "in"}


def _literals(value: Any, keyword: bool = False) -> frozenset[Lit] | None:
    """``(kind, literal)`` pairs, one of which a value test needs in the lowercased event text."""
    if isinstance(value, SigmaExpansion):
        return union_of_alternatives(value.values, lambda v: _literals(v, keyword))
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
    if any(isinstance(p, Placeholder) for p in value.regexp.iter_parts()):
        return None  # the compiler rejects the rule
    flags = 0
    for flag in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
    lits = required_literals(str(value.regexp), flags)
    return None if lits is None else frozenset(("in", lit) for lit in lits)


def _quality(clause: Clause) -> tuple[int, int]:
    return (min(len(lit) + (8 if kind == "eq" else 0) for _, kind, lit in clause), -len(clause))


def _best(clauses: list[Clause], n: int) -> list[Clause]:
    return sorted(set(clauses), key=_quality, reverse=True)[:n]


class _NeedBuilder:
    """A condition tree to clauses that all hold when it matches (a conjunctive normal form
    kept small: an AND concatenates its children's clauses, an OR unites the best clause
    of each child into one, a NOT or an item without literals gives none)."""

    def __init__(self, fields: FieldMap, keyword_paths: tuple[str, ...], placeholders: Mapping[str, Any]):
        self.fields = fields
        self.keyword_paths = keyword_paths
        self.placeholders = placeholders

    def node(self, node: Any) -> list[Clause]:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            lits = _literals(self._expand(node.value))
            if lits is None:
                return []
            paths = self.fields.paths(node.field)
            return [frozenset((paths, kind, lit) for kind, lit in lits)]
        if isinstance(node, ConditionValueExpression):
            lits = _literals(self._expand(node.value), keyword=True)
            return [] if lits is None else [frozenset((self.keyword_paths, kind, lit) for kind, lit in lits)]
        if isinstance(node, ConditionOR):
            return self.any_of(node.args)
        if isinstance(node, ConditionAND):
            out: list[Clause] = []
            for arg in node.args:
                out.extend(self.node(arg))
            return _best(out, MAX_CLAUSES)
        return []  # NOT, or anything else: no need known

    def any_of(self, nodes: Sequence[Any]) -> list[Clause]:
        if len(nodes) == 1:
            return self.node(nodes[0])
        union: set[Atom] = set()
        for arg in nodes:
            clauses = self.node(arg)
            if not clauses:
                return []
            union |= _best(clauses, 1)[0]
        return [frozenset(union)] if union else []

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
    try:
        clauses = builder.any_of(condition_trees(rule))
    except Exception:  # anything odd: no prefilter for this rule
        return None
    return tuple(clauses) or None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


@lru_cache(maxsize=65536)
def _trigrams(lit: str) -> frozenset[tuple[str, ...]]:
    return frozenset(zip(lit, lit[1:], lit[2:], strict=False))


_GRAM_MIN_LITERALS = 64  # below this, testing each literal (in C) is cheaper than the gram set


class _Literals:
    """Which of many literals occur in a text (no automaton needed).

    Many literals: each literal of 3 or more characters is filed under one of its
    trigrams (the one shared by the fewest literals), so a text only tests the literals
    filed under trigrams it contains, picked by a C-level ``zip`` of the text and one set
    intersection; shorter literals are tested one by one. Few literals: each is tested,
    in a C-level ``filter``.
    """

    def __init__(self, contains: dict[str, tuple[int, ...]]) -> None:
        self.contains = contains
        self.indexed = len(contains) > _GRAM_MIN_LITERALS
        self.short = [lit for lit in contains if len(lit) < 3 or not self.indexed]
        grams_of = {lit: _trigrams(lit) for lit in contains if len(lit) >= 3 and self.indexed}
        freq = Counter(chain.from_iterable(grams_of.values()))
        self.by_gram: dict[tuple[str, ...], list[str]] = {}
        for lit, grams in grams_of.items():
            self.by_gram.setdefault(min(grams, key=freq.__getitem__), []).append(lit)
        self.keys = frozenset(self.by_gram)

    def scan(self, t: str, hits: set[int]) -> None:
        contains = self.contains
        for lit in filter(t.__contains__, self.short):
            hits.update(contains[lit])
        if not self.keys or len(t) < 3:
            return
        by_gram = self.by_gram
        for gram in self.keys.intersection(zip(t, t[1:], t[2:], strict=False)):
            for lit in filter(t.__contains__, by_gram[gram]):
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
        # suffixes with a backslash (``\\rundll32.exe``), by what follows their last one: a
        # text ending with such a suffix has the same last path segment, one dict lookup
        self.end_by_tail: dict[str, list[tuple[str, tuple[int, ...]]]] = {}
        for lit in [lit for lit in self.end if "\\" in lit]:
            tail = lit[lit.rfind("\\") + 1 :]
            self.end_by_tail.setdefault(tail, []).append((lit, self.end.pop(lit)))
        self.start_lengths = tuple(sorted({len(lit) for lit in self.start}))
        self.end_lengths = tuple(sorted({len(lit) for lit in self.end}))
        self.contains = contains
        self.automaton: Any = None
        # literals with non-ASCII characters (emoji lists) cannot occur in an ASCII text
        self.ascii: _Literals | None = None
        self.wide: _Literals | None = None
        if ahocorasick is not None and contains:
            automaton = ahocorasick.Automaton()
            for lit, idx in contains.items():
                automaton.add_word(lit, idx)
            automaton.make_automaton()
            self.automaton = automaton
        elif contains:
            ascii_ = {lit: idx for lit, idx in contains.items() if lit.isascii()}
            wide = {lit: idx for lit, idx in contains.items() if not lit.isascii()}
            self.ascii = _Literals(ascii_) if ascii_ else None
            self.wide = _Literals(wide) if wide else None

    def scan(self, value: Any, hits: set[int]) -> None:
        if type(value) is str:  # the usual case, without a call
            if not value:
                return
            t = value.lower()
        else:
            if isinstance(value, list):
                for v in value:
                    self.scan(v, hits) if not isinstance(v, list) else None
                return
            text = _text(value)
            if not text:
                return
            t = text.lower()
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
        if self.end_by_tail:
            tails = self.end_by_tail.get(t[t.rfind("\\") + 1 :])
            if tails is not None:
                for lit, idx in tails:
                    if t.endswith(lit):
                        hits.update(idx)
        if self.automaton is not None:
            for _, idx in self.automaton.iter(t):
                hits.update(idx)
        else:
            if self.ascii is not None:
                self.ascii.scan(t, hits)
            if self.wide is not None and not t.isascii():
                self.wide.scan(t, hits)


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
        per_path: dict[str, dict[Lit, set[int]]] = {}  # literals -> clause ids
        rule_of: list[int] = []  # clause id -> rule index
        partner: list[int] = []  # clause id -> the rule's other clause id (-1: none)
        for i, need in enumerate(needs):
            if not need:
                always.append(i)
                continue
            clauses = (need,) if isinstance(need, frozenset) else need
            first = len(rule_of)
            for clause in clauses:
                for paths, kind, lit in clause:
                    for path in paths:
                        per_path.setdefault(path, {}).setdefault((kind, lit), set()).add(len(rule_of))
                rule_of.append(i)
                partner.append(-1)
            if len(clauses) == 2:
                partner[first], partner[first + 1] = first + 1, first
            elif len(clauses) > 2:
                raise ValueError(f"a need has at most 2 clauses, not {len(clauses)}")
        self._rule_of = rule_of
        self._partner = partner
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
        top: dict[str, _Scanner] = {}  # top-level keys: one pass over the event's own keys
        for path, table in per_path.items():
            if "." in path:
                single.append((make_getter(path), _Scanner(table), path))
            else:
                top[path] = _Scanner(table)
        self._parents = [(make_getter(parent), keys, parent) for parent, keys in parents.items()]
        self._single = single
        self._top = top

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
        top = self._top
        if top:
            if len(event) <= len(top):
                for key, value in event.items():
                    scanner = top.get(key)
                    if scanner is not None and value is not None:
                        scanner.scan(value, hits)
            else:
                for key, scanner in top.items():
                    value = event.get(key)
                    if value is not None:
                        scanner.scan(value, hits)
        if not hits:
            return self._always_items
        rule_of, partner = self._rule_of, self._partner
        met = {rule_of[j] for j in hits if partner[j] < 0 or partner[j] in hits}
        if not met:
            return self._always_items
        met |= self.always
        items = self.items
        return [items[i] for i in sorted(met)]


def build_prefilter(items: Sequence[T], needs: Sequence[Need]) -> Prefilter[T]:
    """A :class:`Prefilter` over ``items`` (their needs in the same order)."""
    return Prefilter(items, needs)


__all__ = ["Need", "Prefilter", "build_prefilter", "rule_need"]
