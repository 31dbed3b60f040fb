"""The query model (:class:`~soc.store.base.Query`) in Elasticsearch query DSL.

Filters test the ``soc_q`` query fields (:mod:`soc.store.es.shadow`), so each one
means exactly what :mod:`soc.store.match` says; the ECS fields themselves are
typed for Kibana and for Lucene from Sigma (:meth:`search_lucene`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from soc.event import format_ts
from soc.store.base import FieldFilter, Query, Sort
from soc.store.es.shadow import SHADOW
from soc.store.fields import HOT_BY_PATH

MATCH_NONE: dict[str, Any] = {"match_none": {}}
MATCH_ALL: dict[str, Any] = {"match_all": {}}
_RANGE = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte"}


def q(kind: str, path: str) -> str:
    """The query field of ``path`` for one kind of element (``s``, ``i``, ``n``, ``t``, ``b``)."""
    return f"{SHADOW}.{kind}.{path.replace('.', '/')}"


def _should(clauses: list[dict[str, Any]]) -> dict[str, Any]:
    if not clauses:
        return MATCH_NONE
    if len(clauses) == 1:
        return clauses[0]
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _eq(path: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"term": {q("b", path): value}}
    if isinstance(value, datetime):
        return {"term": {q("t", path): format_ts(value)}}
    if isinstance(value, str):
        return _should([{"term": {q("s", path): value}}, {"term": {q("i", path): value}}])
    if isinstance(value, int):
        return _should([{"term": {q("s", path): str(value)}}, {"term": {q("n", path): value}}])
    return {"term": {q("n", path): value}}


def _wildcard_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def filter_dsl(f: FieldFilter) -> dict[str, Any]:
    """One validated filter as a query clause."""
    path = f.field
    if f.op == "exists":
        return {"term": {f"{SHADOW}.x": path}}
    if f.op == "eq":
        return _eq(path, f.value)
    if f.op == "ne":
        return {"bool": {"must_not": [_eq(path, f.value)]}}
    if f.op == "in":
        return _should([_eq(path, v) for v in f.value])
    if f.op in ("prefix", "contains"):
        needle = f.value.lower()
        if f.op == "prefix":
            return _should(
                [{"prefix": {q("s", path) + ".lower": needle}}, {"prefix": {q("i", path): needle}}]
            )
        pattern = f"*{_wildcard_escape(needle)}*"
        return _should(
            [
                {"wildcard": {q("s", path) + ".lower": {"value": pattern}}},
                {"wildcard": {q("i", path): {"value": pattern}}},
            ]
        )
    if isinstance(f.value, datetime):
        return {"range": {q("t", path): {_RANGE[f.op]: format_ts(f.value)}}}
    return {"range": {q("n", path): {_RANGE[f.op]: f.value}}}


def query_dsl(query: Query) -> dict[str, Any]:
    """A validated query (:func:`soc.store.match.check_query`) as a ``bool`` filter."""
    clauses: list[dict[str, Any]] = []
    if query.start is not None or query.end is not None:
        rng: dict[str, str] = {}
        if query.start is not None:
            rng["gte"] = format_ts(query.start)
        if query.end is not None:
            rng["lt"] = format_ts(query.end)
        clauses.append({"range": {q("t", "@timestamp"): rng}})
    if query.text is not None:
        pattern = f"*{_wildcard_escape(query.text.lower())}*"
        clauses.append({"wildcard": {q("s", "message") + ".lower": {"value": pattern}}})
    clauses.extend(filter_dsl(f) for f in query.filters)
    if not clauses:
        return MATCH_ALL
    return {"bool": {"filter": clauses}}


def sort_field(sort: Sort) -> tuple[str, str]:
    """``(field to sort on, unmapped_type)`` for a sortable hot field."""
    kind = HOT_BY_PATH[sort.field].kind
    if kind == "ts":
        return q("t", sort.field), "date_nanos"
    if kind == "int":
        return q("n", sort.field), "double"
    return q("s", sort.field), "keyword"


def sort_dsl(sort: Sort, *, with_field: bool = True) -> list[dict[str, Any]]:
    order = "desc" if sort.descending else "asc"
    clauses: list[dict[str, Any]] = []
    if with_field:
        name, unmapped = sort_field(sort)
        clauses.append({name: {"order": order, "missing": "_last", "unmapped_type": unmapped}})
    clauses.append({"event.id": {"order": order, "unmapped_type": "keyword"}})
    return clauses
