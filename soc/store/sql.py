"""Translate the query model into DuckDB SQL over the ``events`` table.

Each filter becomes a boolean expression with the same meaning as
:mod:`soc.store.match`. A field in a hot column is tested on that column when the
column can answer exactly; any other field is read from the JSON document with a
JSON pointer, and its elements (list items, or the value itself) are tested one by one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from soc.store.base import FieldFilter, Query
from soc.store.fields import HOT_BY_PATH, HotField
from soc.store.match import COMPARE

_SQL_CMP = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_JSON_NUM = "json_type({x}) IN ('BIGINT','UBIGINT','DOUBLE')"
_JSON_TEXT = "json_type({x}) IN ('VARCHAR','BIGINT','UBIGINT')"
_JSON_SCALAR = "('VARCHAR','BIGINT','UBIGINT','DOUBLE','BOOLEAN')"


def json_pointer(path: str) -> str:
    """A quoted SQL literal of the RFC 6901 pointer for a dotted path."""
    parts = (p.replace("~", "~0").replace("/", "~1") for p in path.split("."))
    pointer = "/" + "/".join(parts)
    return "'" + pointer.replace("'", "''") + "'"


def json_value(path: str) -> str:
    return f"json_extract(doc, {json_pointer(path)})"


def json_elements(path: str) -> str:
    """SQL list of the JSON elements of a field (NULL element when absent)."""
    v = json_value(path)
    return f"(CASE WHEN json_type({v}) = 'ARRAY' THEN json_extract({v}, '$[*]') ELSE [{v}] END)"


class Params:
    """Positional parameters collected while building SQL."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return "?"


def _eq(kind: str, value: Any, p: Params, x: str = "x") -> str:
    """SQL for ``x = value`` on one element ``x`` of the given kind."""
    if isinstance(value, bool):
        if kind == "json":
            return f"(json_type({x}) = 'BOOLEAN' AND {x}->>'$' = {p('true' if value else 'false')})"
        return "FALSE"
    if isinstance(value, datetime):
        if kind == "json":
            return f"(json_type({x}) = 'VARCHAR' AND TRY_CAST({x}->>'$' AS TIMESTAMPTZ) = {p(value)})"
        if kind == "str":
            return f"(TRY_CAST({x} AS TIMESTAMPTZ) = {p(value)})"
        if kind == "ts":
            return f"({x} = {p(value)})"
        return "FALSE"
    if isinstance(value, str):
        if kind == "json":
            return f"({_JSON_TEXT.format(x=x)} AND {x}->>'$' = {p(value)})"
        if kind == "int":
            return f"(CAST({x} AS VARCHAR) = {p(value)})"
        return f"({x} = {p(value)})"
    if isinstance(value, int):
        if kind == "json":
            return (f"((json_type({x}) IN ('VARCHAR','BIGINT','UBIGINT') AND {x}->>'$' = {p(str(value))})"
                    f" OR (json_type({x}) = 'DOUBLE' AND TRY_CAST({x} AS DOUBLE) = {p(float(value))}))")
        if kind == "str":
            return f"({x} = {p(str(value))})"
        return f"({x} = {p(value)})"
    # float
    if kind == "json":
        return f"({_JSON_NUM.format(x=x)} AND TRY_CAST({x} AS DOUBLE) = {p(value)})"
    if kind == "int":
        return f"({x} = {p(value)})"
    return "FALSE"


def _positive(kind: str, f: FieldFilter, p: Params, x: str = "x") -> str:
    """SQL testing one element ``x`` against ``eq``/``in``/``prefix``/``contains``/compare."""
    if f.op == "eq":
        return _eq(kind, f.value, p, x)
    if f.op == "in":
        return "(" + " OR ".join(_eq(kind, v, p, x) for v in f.value) + ")" if f.value else "FALSE"
    if f.op in ("prefix", "contains"):
        fn = "starts_with" if f.op == "prefix" else "contains"
        needle = p(f.value.lower())
        if kind == "json":
            return f"({_JSON_TEXT.format(x=x)} AND {fn}(lower({x}->>'$'), {needle}))"
        if kind == "int":
            return f"{fn}(CAST({x} AS VARCHAR), {needle})"
        return f"{fn}(lower({x}), {needle})"
    op = _SQL_CMP[f.op]
    assert f.op in COMPARE
    if isinstance(f.value, datetime):
        if kind == "json":
            return f"(json_type({x}) = 'VARCHAR' AND TRY_CAST({x}->>'$' AS TIMESTAMPTZ) {op} {p(f.value)})"
        if kind == "str":
            return f"(TRY_CAST({x} AS TIMESTAMPTZ) {op} {p(f.value)})"
        if kind == "ts":
            return f"({x} {op} {p(f.value)})"
        return "FALSE"
    if kind == "json":
        return f"({_JSON_NUM.format(x=x)} AND TRY_CAST({x} AS DOUBLE) {op} {p(f.value)})"
    if kind == "int":
        return f"({x} {op} {p(f.value)})"
    return "FALSE"


def _ts_native(f: FieldFilter) -> bool:
    """Whether a TIMESTAMPTZ column answers the filter exactly (datetime values only)."""
    if f.op == "exists":
        return True
    values = f.value if f.op == "in" else (f.value,)
    return f.op not in ("prefix", "contains") and all(isinstance(v, datetime) for v in values)


def _any(hot: HotField | None, f: FieldFilter, positive: FieldFilter, p: Params) -> str:
    """SQL: any element of the field satisfies ``positive``."""
    if hot is None or (hot.kind == "ts" and not _ts_native(f)):
        body = _positive("json", positive, p)
        return f"COALESCE(len(list_filter({json_elements(f.field)}, lambda x: {body})) > 0, FALSE)"
    if hot.kind == "strlist":
        body = _positive("str", positive, p)
        return f"COALESCE(len(list_filter({hot.column}, lambda x: {body})) > 0, FALSE)"
    return f"COALESCE({_positive(hot.kind, positive, p, hot.column)}, FALSE)"


def filter_sql(f: FieldFilter, p: Params) -> str:
    """SQL for one validated filter."""
    hot = HOT_BY_PATH.get(f.field)
    if f.op == "exists":
        if hot is None:
            v = json_value(f.field)
            return f"({v} IS NOT NULL AND CAST({v} AS VARCHAR) NOT IN ('null', '[]', '{{}}'))"
        if hot.kind == "strlist":
            return f"({hot.column} IS NOT NULL AND len({hot.column}) > 0)"
        return f"({hot.column} IS NOT NULL)"
    if f.op == "ne":
        return f"(NOT {_any(hot, f, FieldFilter(f.field, 'eq', f.value), p)})"
    return _any(hot, f, f, p)


def where_sql(query: Query, p: Params) -> str:
    """The WHERE body for a validated query (``TRUE`` when it has no conditions)."""
    parts = []
    if query.start is not None:
        parts.append(f"ts >= {p(query.start)}")
    if query.end is not None:
        parts.append(f"ts < {p(query.end)}")
    if query.text is not None:
        parts.append(f"contains(lower(message), {p(query.text.lower())})")
    parts.extend(filter_sql(f, p) for f in query.filters)
    return " AND ".join(parts) if parts else "TRUE"


def key_elements(field: str) -> tuple[str, bool]:
    """SQL yielding one row per distinct element of ``field`` per event, for ``count_by``
    and ``distinct_count``: ``(expression to unnest or select, is_json)``."""
    hot = HOT_BY_PATH.get(field)
    if hot is None or hot.kind == "ts":
        return f"unnest(list_distinct({json_elements(field)}))", True
    if hot.kind == "strlist":
        return f"unnest(list_distinct({hot.column}))", False
    return hot.column, False


JSON_SCALAR_TYPES = _JSON_SCALAR
JSON_RANK = "(CASE json_type(k) WHEN 'BOOLEAN' THEN 2 WHEN 'VARCHAR' THEN 1 ELSE 0 END)"
JSON_NUM = "(CASE WHEN json_type(k) IN ('BIGINT','UBIGINT','DOUBLE') THEN TRY_CAST(k AS DOUBLE) ELSE 0 END)"
JSON_TEXT = "(CASE WHEN json_type(k) IN ('BIGINT','UBIGINT','DOUBLE') THEN '' ELSE k->>'$' END)"
