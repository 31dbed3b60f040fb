"""Event-code sub-index: within a log source, an event meets only the rules that can match its code.

Most Windows rules pin ``EventID`` (mapped to ``event.code``): ``EventID: 4624``, or a
list. From a rule's condition tree we derive the set of codes it can match (``None``: any):
an equality on ``event.code`` gives its values, an AND the intersection of its children
that have a set, an OR the union when every child has one, a NOT nothing. Only integers
and digit strings in canonical form (``"4624"``, no sign, no leading zero) are used, so a
code in an event that is a canonical digit string (or an int) equals a rule's value exactly
when the compiled matcher's numeric or string comparison would. Any other event value
(``"04624"``, a list, a float, missing) falls back to every rule of the log source.

:class:`CodeIndex` runs a :class:`~detectors.sigma.prefilter.Prefilter` per code over the
rules with that code plus the rules without a set, keeping the log source's rule order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaExpansion, SigmaNumber, SigmaString, SigmaTimestampPart

from detectors.sigma.alternatives import union_of_alternatives
from detectors.sigma.compiler import condition_trees
from detectors.sigma.fieldmap import FieldMap, make_getter
from detectors.sigma.prefilter import Need, Prefilter
from soc.event import Event

T = TypeVar("T")
Codes = frozenset[str] | None

CODE_PATH = "event.code"


def canonical_code(value: Any) -> str | None:
    """``value`` as a canonical digit string, or ``None`` when it is anything else."""
    if type(value) is str:
        if value.isdecimal() and value.isascii() and (value[0] != "0" or len(value) == 1):
            return value
        return None
    if type(value) is int and value >= 0:
        return str(value)
    return None


def _value_codes(value: Any) -> Codes:
    if isinstance(value, SigmaExpansion):
        return union_of_alternatives(value.values, _value_codes)
    if isinstance(value, SigmaNumber) and not isinstance(value, SigmaTimestampPart):
        n = value.number
        return frozenset([str(n)]) if type(n) is int and n >= 0 else None
    if isinstance(value, SigmaString):
        parts = list(value.iter_parts())
        if not all(isinstance(p, str) for p in parts):
            return None  # wildcards or placeholders
        code = canonical_code("".join(parts))  # type: ignore[arg-type]
        return None if code is None else frozenset([code])
    return None


def _node_codes(node: Any, fields: FieldMap) -> Codes:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if fields.paths(node.field) != (CODE_PATH,):
            return None
        return _value_codes(node.value)
    if isinstance(node, ConditionOR):
        return union_of_alternatives(node.args, lambda arg: _node_codes(arg, fields))
    if isinstance(node, ConditionAND):
        sets = [c for c in (_node_codes(a, fields) for a in node.args) if c is not None]
        if not sets:
            return None
        return frozenset.intersection(*sets)
    if isinstance(node, ConditionNOT):
        return None
    return None


def rule_codes(rule: SigmaRule, fields: FieldMap) -> Codes:
    """The ``event.code`` values ``rule`` can match (``None``: any event)."""
    try:
        return union_of_alternatives(condition_trees(rule), lambda tree: _node_codes(tree, fields))
    except Exception:  # anything odd: the rule is tried on every code
        return None


class CodeIndex(Generic[T]):
    """A log source's rules split by the codes they can match, each part prefiltered.

    Each rule's literals are indexed once: rules with codes in one prefilter per code,
    the others in one shared prefilter; an event's candidates are the union of its code's
    and the shared ones, in log source order. Events without a canonical code use a
    prefilter over every rule, built on first use.
    """

    def __init__(self, items: Sequence[T], needs: Sequence[Need], codes: Sequence[Codes]) -> None:
        self.items = list(items)
        self._needs = list(needs)
        self._get: Callable[[Event], Any] = make_getter(CODE_PATH)
        self._all: Prefilter[T] | None = None
        per_code: dict[str, list[int]] = {}
        anycode: list[int] = []
        for i, c in enumerate(codes):
            if c is None:
                anycode.append(i)
            else:
                for code in c:
                    per_code.setdefault(code, []).append(i)
        self._other: Prefilter[int] = Prefilter(anycode, [needs[i] for i in anycode])
        self._by_code: dict[str, Prefilter[int]] = {
            code: Prefilter(idx, [needs[i] for i in idx]) for code, idx in per_code.items()
        }

    @property
    def prefiltered(self) -> int:
        """How many rules have a literal need (see :class:`Prefilter`)."""
        return sum(1 for n in self._needs if n)

    def candidates(self, event: Event) -> list[T]:
        """The rules that can match ``event``, in log source order."""
        code = canonical_code(self._get(event))
        if code is None:
            if not self._by_code:  # no rule names a code: the shared prefilter has them all
                items = self.items
                return [items[i] for i in self._other.candidates(event)]
            if self._all is None:
                self._all = Prefilter(self.items, self._needs)
            return self._all.candidates(event)
        items = self.items
        shared = self._other.candidates(event)
        own = self._by_code.get(code)
        if own is None:
            return [items[i] for i in shared]
        mine = own.candidates(event)
        if not mine:
            return [items[i] for i in shared]
        return [items[i] for i in sorted(shared + mine)]


__all__ = ["CodeIndex", "canonical_code", "rule_codes"]
