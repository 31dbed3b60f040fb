"""Convert a Sigma rule into a DuckDB SQL ``WHERE`` body over the embedded store.

The rule's parsed condition tree (pySigma, modifiers applied) is walked here, like the
streaming compiler walks it, and each node becomes SQL with the compiler's semantics:

* Strings match case-insensitively (``lower(text)``) unless ``|cased``; wildcards become
  ``LIKE`` patterns (``ESCAPE '\\'``); keywords without wildcards are substrings of the
  keyword fields (``message``, ``event.original``).
* A field that is a hot column of type text or integer is tested on the column; any other
  field is read from the JSON document ``doc``, and a list matches if any element matches.
  A field mapped to several ECS paths matches if any path matches.
* ``|re`` uses ``regexp_matches`` (RE2) with the ``i``/``m``/``s`` flags inline; a pattern
  RE2 refuses (look-around, back references) makes the rule fail with that reason.
* ``|cidr``: IPv4 ranges are an exact integer range test on dotted-quad text; IPv6 ranges
  are prefix tests on the lower-cased text from pySigma's expansion (exact for the
  canonical text form, which is what parsers write).
* Numbers and ``|gt``.. compare numeric values and numeric strings; ``null`` is absent,
  JSON null, ``""`` or ``[]``; ``|exists`` is present and not null.
* The rule's log source becomes the same ECS equalities the streaming index tests.

Every value (strings, patterns, numbers) is a bound parameter; field names become JSON
pointers through :func:`soc.store.sql.json_pointer`, a strict quoting escaper.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
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

from detectors.sigma.compiler import expand_placeholders
from detectors.sigma.fieldmap import FieldMap
from detectors.sigma.query.config import ConversionError, QueryConfig
from soc.store.fields import HOT_BY_PATH
from soc.store.sql import Params, json_pointer, json_value

Kind = str  # "json" (a JSON element), "str" (VARCHAR), "int" (BIGINT)
ElementTest = Callable[[Kind, str, Params], str]
"""SQL testing one element ``x`` (of the given kind) against one rule value."""

_NUMERIC = "('BIGINT','UBIGINT','DOUBLE')"
_SCALAR = "('VARCHAR','BIGINT','UBIGINT','DOUBLE','BOOLEAN')"
_CMP = {
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
    CompareOperators.NEQ: "<>",
}
_TS_PART = {
    TimestampPart.MINUTE: "minute",
    TimestampPart.HOUR: "hour",
    TimestampPart.DAY: "day",
    TimestampPart.WEEK: "week",  # ISO week, as isocalendar()
    TimestampPart.MONTH: "month",
    TimestampPart.YEAR: "year",
}
_IPV4 = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}"


class OrderedParams(Params):
    """Bound parameters that may be created in any order while SQL is assembled.

    Each value is first written as a token (``\\x00<n>\\x00``); :meth:`finish` replaces the
    tokens, in the order they appear in the final text, with ``?`` and returns the values
    in that same order. Field names holding a NUL are refused, so no token is forged.
    """

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"

    def finish(self, sql: str) -> tuple[str, list[Any]]:
        ordered: list[Any] = []

        def take(m: re.Match[str]) -> str:
            ordered.append(self.values[int(m.group(1))])
            return "?"

        return _TOKEN.sub(take, sql), ordered


_TOKEN = re.compile("\x00(\\d+)\x00")


class _Unsupported(Exception):
    """Internal: raised deep in conversion, turned into ConversionError with the rule id."""


@dataclass(frozen=True, slots=True)
class SqlQuery:
    """A rule as SQL: ``where`` with ``?`` placeholders bound to ``params`` in order.

    ``active`` is False when the streaming detector never tests the rule (its log source
    is unmapped and ``unmapped_logsource`` is ``none``); ``where`` is then ``FALSE``.
    """

    rule_id: str
    where: str
    params: list[Any] = field(default_factory=list)
    active: bool = True
    logsource: str = ""


# --------------------------------------------------------------------------- elements


def _text(kind: Kind, x: str) -> str:
    """The element as text (Python ``_as_text``): strings, numbers and booleans; else NULL."""
    if kind == "json":
        return f"(CASE WHEN json_type({x}) IN {_SCALAR} THEN {x}->>'$' END)"
    if kind == "int":
        return f"CAST({x} AS VARCHAR)"
    return x


def _number(kind: Kind, x: str) -> str:
    """The element as a number: numbers, and strings that parse as one; else NULL."""
    if kind == "json":
        return (
            f"(CASE WHEN json_type({x}) IN {_NUMERIC} THEN TRY_CAST({x} AS DOUBLE) "
            f"WHEN json_type({x}) = 'VARCHAR' THEN TRY_CAST(trim({x}->>'$') AS DOUBLE) END)"
        )
    if kind == "int":
        return f"CAST({x} AS DOUBLE)"
    return f"TRY_CAST(trim({x}) AS DOUBLE)"


def _string_only(kind: Kind, x: str) -> str:
    """The element when it is a string (NULL otherwise)."""
    return f"(CASE WHEN json_type({x}) = 'VARCHAR' THEN {x}->>'$' END)" if kind == "json" else x


def like_escape(text: str) -> str:
    """Escape ``LIKE`` metacharacters (``%``, ``_`` and the escape ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _string_parts(s: SigmaString) -> list[str | SpecialChars]:
    parts = list(s.iter_parts())
    names = [p.name for p in parts if isinstance(p, Placeholder)]
    if names:
        raise _Unsupported(f"unresolved placeholder %{names[0]}% (expand modifier needs a placeholder list)")
    return parts  # type: ignore[return-value]


def _string_test(s: SigmaString, keyword: bool) -> ElementTest:
    cased = isinstance(s, SigmaCasedString)
    parts = _string_parts(s)
    plain = all(isinstance(p, str) for p in parts)

    def fold(text: str) -> str:
        return text if cased else text.lower()

    if len(parts) == 1 and parts[0] is SpecialChars.WILDCARD_MULTI:
        return lambda kind, x, p: f"({_text(kind, x)} IS NOT NULL)"
    if plain:
        literal = fold("".join(parts))  # type: ignore[arg-type]
        if keyword:
            return lambda kind, x, p: f"contains({_subject(kind, x, cased)}, {p(literal)})"
        return lambda kind, x, p: f"({_subject(kind, x, cased)} = {p(literal)})"
    pattern = "".join(
        "%"
        if part is SpecialChars.WILDCARD_MULTI
        else "_"
        if part is SpecialChars.WILDCARD_SINGLE
        else like_escape(fold(str(part)))
        for part in parts
    )
    return lambda kind, x, p: f"({_subject(kind, x, cased)} LIKE {p(pattern)} ESCAPE '\\')"


def _subject(kind: Kind, x: str, cased: bool) -> str:
    text = _text(kind, x)
    return text if cased else f"lower({text})"


_RE2 = duckdb.connect(":memory:")


def _check_re2(pattern: str) -> None:
    try:
        _RE2.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as e:
        raise _Unsupported(f"regular expression not supported by RE2 (DuckDB): {pattern!r}: {e}") from None


def _regex_test(value: SigmaRegularExpression) -> ElementTest:
    if any(isinstance(p, Placeholder) for p in value.regexp.iter_parts()):
        raise _Unsupported("unresolved placeholder in regular expression")
    flags = "".join({"IGNORECASE": "i", "MULTILINE": "m", "DOTALL": "s"}.get(f.name, "") for f in value.flags)
    pattern = (f"(?{flags})" if flags else "") + str(value.regexp)
    _check_re2(pattern)
    return lambda kind, x, p: f"regexp_matches({_text(kind, x)}, {p(pattern)})"


def _cidr_test(value: SigmaCIDRExpression) -> ElementTest:
    net = value.network
    if net.version == 4:
        low, high = int(net.network_address), int(net.broadcast_address)

        def ipv4(kind: Kind, x: str, p: Params) -> str:
            if kind == "int":
                return "FALSE"
            t = _string_only(kind, x)
            octets = f"string_split(trim({t}), '.')"
            number = " + ".join(f"CAST({octets}[{i + 1}] AS BIGINT) * {256 ** (3 - i)}" for i in range(4))
            return (
                f"(CASE WHEN regexp_full_match(trim({t}), {p(_IPV4)}) "
                f"THEN ({number}) BETWEEN {p(low)} AND {p(high)} END)"
            )

        return ipv4
    prefixes = [s.lower().rstrip("*") for s in value.expand(wildcard="*")]

    def ipv6(kind: Kind, x: str, p: Params) -> str:
        if kind == "int":
            return "FALSE"
        low = f"lower(trim({_string_only(kind, x)}))"
        tests = " OR ".join(f"starts_with({low}, {p(pre)})" for pre in prefixes)
        return f"(regexp_full_match({low}, {p('[0-9a-f:.]*:[0-9a-f:.]*')}) AND ({tests}))"

    return ipv6


def _number_test(value: SigmaNumber) -> ElementTest:
    n = value.number
    return lambda kind, x, p: f"({_number(kind, x)} = {p(float(n))})"


def _compare_test(value: SigmaCompareExpression) -> ElementTest:
    op = _CMP[value.op]
    n = value.number.number
    return lambda kind, x, p: f"({_number(kind, x)} {op} {p(float(n))})"


def _bool_test(value: SigmaBool) -> ElementTest:
    text = "true" if value.boolean else "false"

    def test(kind: Kind, x: str, p: Params) -> str:
        if kind == "json":
            return (
                f"((json_type({x}) = 'BOOLEAN' AND {x}->>'$' = {p(text)}) OR "
                f"(json_type({x}) = 'VARCHAR' AND lower({x}->>'$') = {p(text)}))"
            )
        if kind == "str":
            return f"(lower({x}) = {p(text)})"
        return "FALSE"

    return test


def _timestamp_test(value: SigmaTimestampPart) -> ElementTest:
    part, n = _TS_PART[value.timestamp_part], value.number

    def test(kind: Kind, x: str, p: Params) -> str:
        if kind == "int":
            return "FALSE"
        t = _string_only(kind, x)
        return f"(date_part('{part}', TRY_CAST({t} AS TIMESTAMPTZ)) = {p(int(n))})"

    return test


def element_test(value: Any, keyword: bool = False) -> ElementTest:
    """The SQL test of one element against one pySigma value (not null/exists/fieldref)."""
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
        tests = [element_test(v, keyword) for v in value.values]
        return lambda kind, x, p: "(" + " OR ".join(t(kind, x, p) for t in tests) + ")"
    raise _Unsupported(f"unsupported value type {type(value).__name__}")


# --------------------------------------------------------------------------- fields


class DocFields:
    """The JSON fields a query reads from ``doc``, parsed once per row.

    Each path becomes ``soc_f[i]``; :meth:`wrap` binds ``soc_f`` to one
    ``json_extract(doc, [pointers])`` (one parse of the document) around the condition.
    Without a registry (``None``), each read is its own ``json_extract``.
    """

    def __init__(self) -> None:
        self.paths: dict[str, int] = {}

    def value(self, path: str) -> str:
        if path not in self.paths:
            self.paths[path] = len(self.paths) + 1
        return f"soc_f[{self.paths[path]}]"

    def wrap(self, where: str) -> str:
        if not self.paths:
            return where
        pointers = ", ".join(json_pointer(path) for path in self.paths)
        return f"COALESCE(list_transform([json_extract(doc, [{pointers}])], lambda soc_f: {where})[1], FALSE)"


def _json(path: str, doc: DocFields | None) -> str:
    return doc.value(path) if doc is not None else json_value(path)


def any_element(path: str, tests: Sequence[ElementTest], p: Params, doc: DocFields | None = None) -> str:
    """SQL: some element of the field at ``path`` passes one of ``tests`` (never NULL)."""
    hot = HOT_BY_PATH.get(path)
    if hot is not None and hot.kind in ("str", "int"):
        body = " OR ".join(t(hot.kind, hot.column, p) for t in tests)
        return f"COALESCE({body}, FALSE)"
    if hot is not None and hot.kind == "strlist":
        body = " OR ".join(t("str", "x", p) for t in tests)
        return f"COALESCE(len(list_filter({hot.column}, lambda x: {body})) > 0, FALSE)"
    v = _json(path, doc)
    body = " OR ".join(t("json", "x", p) for t in tests)
    scalar = " OR ".join(t("json", v, p) for t in tests)
    return (
        f"COALESCE(CASE WHEN json_type({v}) = 'ARRAY' THEN "
        f"len(list_filter(json_extract({v}, '$[*]'), lambda x: {body})) > 0 ELSE {scalar} END, FALSE)"
    )


def _null(path: str, doc: DocFields | None) -> str:
    """SQL: the field is absent, JSON null, ``""`` or ``[]``."""
    hot = HOT_BY_PATH.get(path)
    if hot is not None and hot.kind == "str":
        return f"({hot.column} IS NULL OR {hot.column} = '')"
    if hot is not None and hot.kind == "int":
        return f"({hot.column} IS NULL)"
    v = _json(path, doc)
    return (
        f"COALESCE({v} IS NULL OR json_type({v}) = 'NULL' OR (json_type({v}) = 'VARCHAR' AND {v}->>'$' = '')"
        f" OR (json_type({v}) = 'ARRAY' AND json_array_length({v}) = 0), TRUE)"
    )


def _present(path: str, doc: DocFields | None) -> str:
    """SQL: the field is there and not JSON null."""
    hot = HOT_BY_PATH.get(path)
    if hot is not None and hot.kind in ("str", "int", "strlist"):
        return f"({hot.column} IS NOT NULL)"
    v = _json(path, doc)
    return f"COALESCE(json_type({v}) <> 'NULL', FALSE)"


def _scalar_text(path: str, doc: DocFields | None) -> str:
    """The field's value as lower-case text when it is a scalar (NULL for lists, objects)."""
    hot = HOT_BY_PATH.get(path)
    if hot is not None and hot.kind in ("str", "int"):
        return f"lower({_text(hot.kind, hot.column)})"
    return f"lower({_text('json', _json(path, doc))})"


# --------------------------------------------------------------------------- tree


def _check_name(name: str) -> None:
    if "\x00" in name:
        raise _Unsupported(f"field name {name!r} holds a NUL character")


class _Converter:
    def __init__(self, config: QueryConfig, fields: FieldMap, p: Params, doc: DocFields) -> None:
        self.config = config
        self.doc = doc
        self.fields = fields
        self.p = p
        self.keyword_paths = tuple(path for f in config.keyword_fields for path in fields.paths(f))

    def expand(self, value: Any) -> Any:
        """``%name%`` placeholders replaced by the configured values (as the compiler does)."""
        try:
            return expand_placeholders(value, self.config.placeholders)
        except Exception as e:  # the compiler's own error type is private
            raise _Unsupported(str(e)) from None

    def field_tests(self, name: str, tests: Sequence[ElementTest]) -> str:
        _check_name(name)
        parts = [any_element(path, tests, self.p, self.doc) for path in self.fields.paths(name)]
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def leaf(self, node: ConditionFieldEqualsValueExpression) -> str:
        _check_name(node.field)
        if isinstance(node.value, SigmaFieldReference):
            _check_name(node.value.field)
        paths = self.fields.paths(node.field)
        value = self.expand(node.value)
        if isinstance(value, SigmaNull):
            return "(" + " AND ".join(_null(path, self.doc) for path in paths) + ")"
        if isinstance(value, SigmaExists):
            present = " OR ".join(_present(path, self.doc) for path in paths)
            return f"({present})" if value.exists else f"(NOT ({present}))"
        if isinstance(value, SigmaFieldReference):
            return self.fieldref(paths, value)
        return self.field_tests(node.field, [element_test(value)])

    def fieldref(self, paths: Sequence[str], ref: SigmaFieldReference) -> str:
        pairs = []
        for a_path in paths:
            for b_path in self.fields.paths(ref.field):
                a, b = _scalar_text(a_path, self.doc), _scalar_text(b_path, self.doc)
                tests = []
                if ref.starts_with:
                    tests.append(f"starts_with({a}, {b})")
                if ref.ends_with:
                    tests.append(f"ends_with({a}, {b})")
                if not tests:
                    tests.append(f"{a} = {b}")
                pairs.append("COALESCE(" + " OR ".join(tests) + ", FALSE)")
        return "(" + " OR ".join(pairs) + ")"

    def keyword(self, values: Sequence[Any]) -> str:
        for value in values:
            if isinstance(value, (SigmaNull, SigmaExists, SigmaFieldReference)):
                raise _Unsupported(f"{type(value).__name__} needs a field")
        tests = [element_test(v, keyword=True) for v in values]
        parts = [any_element(path, tests, self.p, self.doc) for path in self.keyword_paths]
        return "(" + " OR ".join(parts) + ")" if parts else "FALSE"

    def node(self, node: Any) -> str:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return self.leaf(node)
        if isinstance(node, ConditionValueExpression):
            return self.keyword([self.expand(node.value)])
        if isinstance(node, ConditionNOT):
            return f"(NOT {self.node(node.args[0])})"
        if isinstance(node, ConditionOR):
            return self.or_node(node)
        if isinstance(node, ConditionAND):
            return "(" + " AND ".join(self.node(a) for a in node.args) + ")"
        raise _Unsupported(f"unexpected condition node {type(node).__name__}")

    def or_node(self, node: ConditionOR) -> str:
        """OR, with the value tests of one field (or of keywords) read in one pass."""
        by_field: dict[str, list[Any]] = {}
        keywords: list[Any] = []
        rest: list[str] = []
        for arg in node.args:
            if isinstance(arg, ConditionValueExpression):
                keywords.append(self.expand(arg.value))
            elif isinstance(arg, ConditionFieldEqualsValueExpression) and not isinstance(
                arg.value, (SigmaNull, SigmaExists, SigmaFieldReference)
            ):
                by_field.setdefault(arg.field, []).append(self.expand(arg.value))
            else:
                rest.append(self.node(arg))
        parts = [
            self.field_tests(name, [element_test(v) for v in values]) for name, values in by_field.items()
        ]
        if keywords:
            parts.append(self.keyword(keywords))
        parts.extend(rest)
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"


def logsource_sql(conditions: list[dict[str, list[Any]]], p: Params, doc: DocFields | None = None) -> str:
    """SQL for log source equalities (exact, case-sensitive, list field = any element):
    any alternative, each with all of its fields."""
    alternatives = []
    for alt in conditions:
        parts = [any_element(path, [_exact_test(v) for v in wanted], p, doc) for path, wanted in alt.items()]
        if not parts:
            return "TRUE"
        alternatives.append("(" + " AND ".join(parts) + ")")
    if not alternatives:
        return "TRUE"
    return alternatives[0] if len(alternatives) == 1 else "(" + " OR ".join(alternatives) + ")"


def _exact_test(value: Any) -> ElementTest:
    """Python equality of an element with a configured value (``"a" == x``, ``1 == x``)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
        return lambda kind, x, p: (
            f"(json_type({x}) = 'BOOLEAN' AND {x}->>'$' = {p(text)})" if kind == "json" else "FALSE"
        )
    if isinstance(value, (int, float)):
        return lambda kind, x, p: (
            f"(json_type({x}) IN {_NUMERIC} AND TRY_CAST({x} AS DOUBLE) = {p(float(value))})"
            if kind == "json"
            else (f"({x} = {p(float(value))})" if kind == "int" else "FALSE")
        )
    text = str(value)
    return lambda kind, x, p: (
        f"(json_type({x}) = 'VARCHAR' AND {x}->>'$' = {p(text)})"
        if kind == "json"
        else (f"({x} = {p(text)})" if kind == "str" else "FALSE")
    )


def logsource_query(rule: SigmaRule, config: QueryConfig) -> SqlQuery:
    """Only the rule's log source condition (to learn whether any stored event has it)."""
    rule_id = str(rule.id) if rule.id else (rule.name or "")
    source = config.logsource(rule.logsource)
    if not source.active:
        return SqlQuery(rule_id, "FALSE", [], active=False, logsource=source.label)
    p, doc = OrderedParams(), DocFields()
    where, params = p.finish(doc.wrap(logsource_sql(source.conditions, p, doc)))
    return SqlQuery(rule_id, where, params, active=True, logsource=source.label)


def rule_to_sql(rule: SigmaRule, config: QueryConfig) -> SqlQuery:
    """The rule (detection AND log source) as a SQL ``WHERE`` body; raises
    :class:`~detectors.sigma.query.config.ConversionError` naming the rule and the reason."""
    rule_id = str(rule.id) if rule.id else (rule.name or "")
    source = config.logsource(rule.logsource)
    if not source.active:
        return SqlQuery(rule_id, "FALSE", [], active=False, logsource=source.label)
    p = OrderedParams()
    doc = DocFields()
    try:
        ls = logsource_sql(source.conditions, p, doc)
        conditions = []
        for condition in rule.detection.parsed_condition:
            tree = condition.parsed
            if tree is None:
                raise _Unsupported("condition is empty after parsing")
            conditions.append(_Converter(config, config.fields_for(rule.logsource), p, doc).node(tree))
    except _Unsupported as e:
        raise ConversionError(rule_id, str(e)) from None
    except SigmaError as e:
        raise ConversionError(rule_id, str(e.args[0]) if e.args else type(e).__name__) from None
    except RecursionError:
        raise ConversionError(rule_id, "condition nests too deeply") from None
    if not conditions:
        raise ConversionError(rule_id, "rule has no condition")
    detection = conditions[0] if len(conditions) == 1 else "(" + " OR ".join(conditions) + ")"
    where, params = p.finish(doc.wrap(detection if ls == "TRUE" else f"{ls} AND {detection}"))
    return SqlQuery(rule_id, where, params, active=True, logsource=source.label)


__all__ = [
    "DocFields",
    "SqlQuery",
    "any_element",
    "element_test",
    "like_escape",
    "logsource_query",
    "logsource_sql",
    "rule_to_sql",
]
