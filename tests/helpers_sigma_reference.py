"""Reference matcher for the Sigma parity test: the compiler as it was before the fast paths.

A frozen copy of ``detectors/sigma/compiler.py`` (closures per condition node, no per-event
field cache, no code index, no prefilter). ``tests/test_sigma_parity.py`` runs the corpus
through it and through :class:`SigmaDetector` and asserts identical matches. Do not
optimise this file: its job is to stay obviously equal to the Sigma semantics.
"""


from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
    TimestampPart,
)

from detectors.sigma.fieldmap import FieldMap, Getter
from soc.event import Event, parse_ts

Matcher = Callable[[Event], bool]
ValueTest = Callable[[Any], bool]

DEFAULT_KEYWORD_FIELDS = ("message", "event.original")


class CompileError(Exception):
    """A rule uses something the compiler does not support (or pySigma rejects it)."""

    def __init__(self, rule_id: str | None, reason: str) -> None:
        super().__init__(f"rule {rule_id or '<unknown id>'}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


class _Unsupported(Exception):
    """Internal: raised deep in compilation, turned into CompileError with the rule id."""


# --------------------------------------------------------------------------- value tests


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _string_shape(s: SigmaString) -> tuple[str, str] | None:
    """Classify a SigmaString as (kind, literal) for kinds eq/contains/startswith/endswith."""
    parts = list(s.iter_parts())
    names = [p.name for p in parts if isinstance(p, Placeholder)]
    if names:
        raise _Unsupported(f"unresolved placeholder %{names[0]}% (expand modifier needs a placeholder list)")
    star = SpecialChars.WILDCARD_MULTI
    if not parts:
        return ("eq", "")
    if all(isinstance(p, str) for p in parts):
        return ("eq", "".join(parts))  # type: ignore[arg-type]
    if len(parts) == 1 and parts[0] is star:
        return ("any", "")
    if len(parts) == 2 and parts[0] is star and isinstance(parts[1], str):
        return ("endswith", parts[1])
    if len(parts) == 2 and parts[1] is star and isinstance(parts[0], str):
        return ("startswith", parts[0])
    if len(parts) == 3 and parts[0] is star and parts[2] is star and isinstance(parts[1], str):
        return ("contains", parts[1])
    return None


def _wildcard_regex(s: SigmaString, cased: bool) -> re.Pattern[str]:
    out: list[str] = []
    for part in s.iter_parts():
        if part is SpecialChars.WILDCARD_MULTI:
            out.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            out.append(".")
        else:
            out.append(re.escape(str(part)))
    flags = re.DOTALL | (0 if cased else re.IGNORECASE)
    return re.compile("".join(out) + r"\Z", flags)


def _string_test(s: SigmaString, keyword: bool = False) -> ValueTest:
    cased = isinstance(s, SigmaCasedString)
    shape = _string_shape(s)
    if shape is not None and keyword and shape[0] == "eq":
        shape = ("contains", shape[1])
    if shape is None:
        rx = _wildcard_regex(s, cased)
        match = rx.match

        def test_rx(v: Any) -> bool:
            t = _as_text(v)
            return t is not None and match(t) is not None

        return test_rx
    kind, lit = shape
    if kind == "any":
        return lambda v: _as_text(v) is not None
    if cased:
        if kind == "eq":
            return lambda v: _as_text(v) == lit
        if kind == "contains":
            return lambda v: (t := _as_text(v)) is not None and lit in t
        if kind == "startswith":
            return lambda v: (t := _as_text(v)) is not None and t.startswith(lit)
        return lambda v: (t := _as_text(v)) is not None and t.endswith(lit)
    low = lit.lower()
    if kind == "eq":

        def test_eq(v: Any) -> bool:
            if isinstance(v, str):
                return v.lower() == low
            t = _as_text(v)
            return t is not None and t.lower() == low

        return test_eq
    if kind == "contains":

        def test_contains(v: Any) -> bool:
            if isinstance(v, str):
                return low in v.lower()
            t = _as_text(v)
            return t is not None and low in t.lower()

        return test_contains
    if kind == "startswith":
        return lambda v: (t := _as_text(v)) is not None and t.lower().startswith(low)
    return lambda v: (t := _as_text(v)) is not None and t.lower().endswith(low)


def _regex_test(value: SigmaRegularExpression) -> ValueTest:
    flags = 0
    for flag in value.flags:
        flags |= SigmaRegularExpression.sigma_to_python_flags[flag]
    if any(isinstance(p, Placeholder) for p in value.regexp.iter_parts()):
        raise _Unsupported("unresolved placeholder in regular expression")
    try:
        search = re.compile(str(value.regexp), flags).search
    except re.error as e:
        raise _Unsupported(f"invalid regular expression {str(value.regexp)!r}: {e}") from e

    def test(v: Any) -> bool:
        t = _as_text(v)
        return t is not None and search(t) is not None

    return test


@lru_cache(maxsize=65536)
def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _cidr_test(value: SigmaCIDRExpression) -> ValueTest:
    network = value.network  # parsed once by pySigma

    def test(v: Any) -> bool:
        if not isinstance(v, str):
            return False
        ip = _parse_ip(v)
        return ip is not None and ip.version == network.version and ip in network

    return test


def _number_test(value: SigmaNumber) -> ValueTest:
    n = value.number

    def test(v: Any) -> bool:
        x = _as_number(v)
        return x is not None and x == n

    return test


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def _compare_test(value: SigmaCompareExpression) -> ValueTest:
    op = _COMPARE[value.op]
    n = value.number.number

    def test(v: Any) -> bool:
        x = _as_number(v)
        return x is not None and op(x, n)

    return test


def _bool_test(value: SigmaBool) -> ValueTest:
    b = value.boolean
    text = "true" if b else "false"
    return lambda v: v is b if isinstance(v, bool) else (isinstance(v, str) and v.lower() == text)


def _timestamp_part(ts: datetime, part: TimestampPart) -> int:
    if part is TimestampPart.MINUTE:
        return ts.minute
    if part is TimestampPart.HOUR:
        return ts.hour
    if part is TimestampPart.DAY:
        return ts.day
    if part is TimestampPart.WEEK:
        return ts.isocalendar().week
    if part is TimestampPart.MONTH:
        return ts.month
    return ts.year


def _timestamp_test(value: SigmaTimestampPart) -> ValueTest:
    part, n = value.timestamp_part, value.number

    def test(v: Any) -> bool:
        try:
            ts = v if isinstance(v, datetime) else parse_ts(str(v))
        except ValueError:
            return False
        return _timestamp_part(ts, part) == n

    return test


def value_test(value: Any, keyword: bool = False) -> ValueTest:
    """A test of one scalar event value against one pySigma value (not null/exists/fieldref)."""
    if isinstance(value, SigmaTimestampPart):  # subclass of SigmaNumber: check first
        return _timestamp_test(value)
    if isinstance(value, SigmaString):
        return _string_test(value, keyword)
    if isinstance(value, SigmaRegularExpression):
        return _regex_test(value)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_test(value)
    if isinstance(value, SigmaNumber):
        return _number_test(value)
    if isinstance(value, SigmaCompareExpression):
        return _compare_test(value)
    if isinstance(value, SigmaBool):
        return _bool_test(value)
    if isinstance(value, SigmaExpansion):
        tests = [value_test(v, keyword) for v in value.values]
        return lambda v: any(t(v) for t in tests)
    raise _Unsupported(f"unsupported value type {type(value).__name__}")


# --------------------------------------------------------------------------- field leaves


def _any_getter(getters: Sequence[Getter], test: ValueTest) -> Matcher:
    """Field matcher: any mapped path, any list element, passes ``test``."""

    def on_value(value: Any) -> bool:
        if value is None:
            return False
        if isinstance(value, list):
            return any(test(x) for x in value if x is not None)
        return test(value)

    if len(getters) == 1:
        get = getters[0]
        return lambda e: on_value(get(e))
    return lambda e: any(on_value(g(e)) for g in getters)


def _null_matcher(getters: Sequence[Getter]) -> Matcher:
    def is_null(value: Any) -> bool:
        return value is None or value == "" or value == []

    return lambda e: all(is_null(g(e)) for g in getters)


def _exists_matcher(getters: Sequence[Getter], exists: bool) -> Matcher:
    if exists:
        return lambda e: any(g(e) is not None for g in getters)
    return lambda e: all(g(e) is None for g in getters)


def _fieldref_matcher(getters: Sequence[Getter], ref: SigmaFieldReference, fields: FieldMap) -> Matcher:
    other = fields.getters(ref.field)

    def text(v: Any) -> str | None:
        t = _as_text(v)
        return t.lower() if t is not None else None

    def test(e: Event) -> bool:
        for g in getters:
            a = text(g(e))
            if a is None:
                continue
            for o in other:
                b = text(o(e))
                if b is None:
                    continue
                if (ref.starts_with and a.startswith(b)) or (ref.ends_with and a.endswith(b)):
                    return True
                if not ref.starts_with and not ref.ends_with and a == b:
                    return True
        return False

    return test


def _fast_or(getters: Sequence[Getter], values: list[Any], keyword: bool = False) -> Matcher | None:
    """One field read for an OR of plain case-insensitive strings (set/tuple lookups)."""
    eqs: set[str] = set()
    starts: list[str] = []
    ends: list[str] = []
    contains: list[str] = []
    for v in values:
        if type(v) is not SigmaString:
            return None
        shape = _string_shape(v)
        if shape is None or shape[0] == "any":
            return None
        kind, lit = shape
        if keyword and kind == "eq":
            kind = "contains"
        {"eq": eqs.add, "startswith": starts.append, "endswith": ends.append, "contains": contains.append}[
            kind
        ](lit.lower())
    st, en, co = tuple(starts), tuple(ends), tuple(contains)

    def test(v: Any) -> bool:
        t = v if isinstance(v, str) else _as_text(v)
        if t is None:
            return False
        t = t.lower()
        return (
            t in eqs
            or (bool(st) and t.startswith(st))
            or (bool(en) and t.endswith(en))
            or any(c in t for c in co)
        )

    return _any_getter(getters, test)


# --------------------------------------------------------------------------- tree


def expand_placeholders(value: Any, placeholders: Mapping[str, Sequence[str]]) -> Any:
    """A SigmaString with ``%name%`` placeholders as a SigmaExpansion of the configured values.

    Values are Sigma strings (``*`` and ``?`` are wildcards), as in pySigma's
    ``ValueListPlaceholderTransformation``. An unknown name raises ``_Unsupported``.
    """
    if not isinstance(value, SigmaString) or not value.contains_placeholder():
        return value

    def values_of(p: Placeholder) -> list[SigmaString]:
        if p.name not in placeholders:
            raise _Unsupported(
                f"unknown placeholder %{p.name}% (add it to 'placeholders' in configs/sigma.yaml)"
            )
        return [SigmaString(str(v)) for v in placeholders[p.name]]

    expanded = value.replace_placeholders(lambda p: iter(values_of(p)))
    if not expanded:
        raise _Unsupported("placeholder expands to no values")
    return expanded[0] if len(expanded) == 1 else SigmaExpansion(expanded)


class _Compiler:
    def __init__(
        self,
        fields: FieldMap,
        keyword_fields: Sequence[str],
        placeholders: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.fields = fields
        self.keyword_getters = tuple(g for f in keyword_fields for g in fields.getters(f))
        self.placeholders = placeholders or {}

    def leaf(self, node: ConditionFieldEqualsValueExpression) -> Matcher:
        getters = self.fields.getters(node.field)
        value = expand_placeholders(node.value, self.placeholders)
        if isinstance(value, SigmaNull):
            return _null_matcher(getters)
        if isinstance(value, SigmaExists):
            return _exists_matcher(getters, value.exists)
        if isinstance(value, SigmaFieldReference):
            return _fieldref_matcher(getters, value, self.fields)
        return _any_getter(getters, value_test(value))

    def keyword(self, node: ConditionValueExpression) -> Matcher:
        if isinstance(node.value, (SigmaNull, SigmaExists, SigmaFieldReference)):
            raise _Unsupported(f"{type(node.value).__name__} needs a field")
        value = expand_placeholders(node.value, self.placeholders)
        return _any_getter(self.keyword_getters, value_test(value, keyword=True))

    def node(self, node: Any) -> Matcher:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.leaf(node)
        if isinstance(node, ConditionValueExpression):
            return self.keyword(node)
        if isinstance(node, ConditionNOT):
            inner = self.node(node.args[0])
            return lambda e: not inner(e)
        if isinstance(node, ConditionOR):
            fast = self._same_field_or(node)
            if fast is not None:
                return fast
            return _or([self.node(a) for a in node.args])
        if isinstance(node, ConditionAND):
            return _and([self.node(a) for a in node.args])
        if isinstance(node, ConditionItem):
            raise _Unsupported(f"unsupported condition element {type(node).__name__}")
        raise _Unsupported(f"unexpected condition node {type(node).__name__}")

    def _same_field_or(self, node: ConditionOR) -> Matcher | None:
        args = node.args
        if len(args) >= 2 and all(isinstance(a, ConditionValueExpression) for a in args):
            return _fast_or(self.keyword_getters, self._values(args), keyword=True)
        if len(args) < 2 or not all(isinstance(a, ConditionFieldEqualsValueExpression) for a in args):
            return None
        names = {a.field for a in args}  # type: ignore[union-attr]
        if len(names) != 1:
            return None
        return _fast_or(self.fields.getters(names.pop()), self._values(args))

    def _values(self, args: Sequence[Any]) -> list[Any]:
        out: list[Any] = []
        for a in args:
            v = expand_placeholders(a.value, self.placeholders)
            out.extend(v.values if isinstance(v, SigmaExpansion) else [v])
        return out


def _or(ms: list[Matcher]) -> Matcher:
    if len(ms) == 1:
        return ms[0]
    if len(ms) == 2:
        a, b = ms
        return lambda e: a(e) or b(e)
    return lambda e: any(m(e) for m in ms)


def _and(ms: list[Matcher]) -> Matcher:
    if len(ms) == 1:
        return ms[0]
    if len(ms) == 2:
        a, b = ms
        return lambda e: a(e) and b(e)
    return lambda e: all(m(e) for m in ms)


def condition_trees(rule: SigmaRule) -> list[Any]:
    """The rule's parsed condition trees, parsed once and kept on the rule (pySigma re-parses
    on every access; the kept trees are also pickled by the parse cache)."""
    trees = rule.__dict__.get("_soc_trees")
    if trees is None:
        trees = [condition.parsed for condition in rule.detection.parsed_condition]
        rule.__dict__["_soc_trees"] = trees
    return trees


def compile_rule(
    rule: SigmaRule,
    fields: FieldMap | None = None,
    keyword_fields: Sequence[str] = DEFAULT_KEYWORD_FIELDS,
    placeholders: Mapping[str, Sequence[str]] | None = None,
) -> Matcher:
    """Compile ``rule``'s detection into one matcher; raises :class:`CompileError`.

    ``placeholders`` gives the values of ``%name%`` placeholders (``|expand``).
    """
    rule_id = str(rule.id) if rule.id else rule.name
    compiler = _Compiler(fields or FieldMap(), keyword_fields, placeholders)
    try:
        matchers = []
        for tree in condition_trees(rule):
            if tree is None:
                raise _Unsupported("condition is empty after parsing")
            matchers.append(compiler.node(tree))
    except _Unsupported as e:
        raise CompileError(rule_id, str(e)) from None
    except SigmaError as e:
        raise CompileError(rule_id, str(e.args[0]) if e.args else type(e).__name__) from None
    except RecursionError:
        raise CompileError(rule_id, "condition nests too deeply") from None
    if not matchers:
        raise CompileError(rule_id, "rule has no condition")
    return _or(matchers)


__all__ = ["CompileError", "Matcher", "compile_rule", "expand_placeholders", "value_test"]
