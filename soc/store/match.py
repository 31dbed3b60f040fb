"""Filter semantics shared by every store, written out in Python.

This is the contract the DuckDB SQL (and later the Elasticsearch query) must agree
with; :class:`~soc.store.memory.MemoryStore` evaluates it directly.

* A field's *elements*: the value itself, or each item when it is a list
  (Elasticsearch semantics). Nulls, nested lists and objects never match.
* ``eq``: same kind and equal. Strings compare case-sensitively; a string value
  also matches an integer whose decimal text is equal (``"22"`` ~ ``22``), as a
  keyword field would; a datetime value matches timestamp text at the same instant.
* ``ne``: no element is ``eq`` (events without the field match).
* ``in``: any value is ``eq`` to any element.
* ``prefix`` / ``contains``: case-insensitive on the text of string and integer elements.
* ``exists``: the field is present, not null, not ``[]`` and not ``{}``.
* ``gt``/``gte``/``lt``/``lte``: a number compares with number elements; an aware
  datetime compares with elements that are ISO 8601 timestamp text.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from soc.event import Event, ensure_utc, parse_ts
from soc.store.base import FieldFilter, Query
from soc.store.fields import lookup

OPS = ("eq", "ne", "in", "prefix", "contains", "exists", "gt", "gte", "lt", "lte")
ALL = Query()
"""The query matching every event."""

COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _scalar_ok(v: Any) -> bool:
    return isinstance(v, str | bool | datetime) or _is_number(v)


def check_filter(f: FieldFilter, index: int) -> FieldFilter:
    """Validate one filter; return it with datetimes normalised to UTC.

    Raises ``ValueError`` naming the filter's place and field.
    """
    where = f"filter {index} ({f.field!r})"
    if not isinstance(f.field, str) or not f.field or any(not p for p in f.field.split(".")):
        raise ValueError(f"{where}: field must be a dotted ECS path")
    if f.op not in OPS:
        raise ValueError(f"{where}: unknown op {f.op!r}; known: {', '.join(OPS)}")
    value = f.value
    if f.op == "exists":
        return f
    if f.op == "in":
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | set | frozenset):
            raise ValueError(f"{where}: 'in' needs a list of values, got {value!r:.80}")
        values = [_norm_scalar(v, where) for v in value]
        return FieldFilter(f.field, "in", tuple(values))
    if f.op in ("prefix", "contains"):
        if not isinstance(value, str):
            raise ValueError(f"{where}: {f.op!r} needs a string, got {value!r:.80}")
        return f
    if f.op in COMPARE and not (_is_number(value) or isinstance(value, datetime)):
        raise ValueError(f"{where}: {f.op!r} needs a number or an aware datetime, got {value!r:.80}")
    return FieldFilter(f.field, f.op, _norm_scalar(value, where))


def _norm_scalar(value: Any, where: str) -> Any:
    if not _scalar_ok(value):
        raise ValueError(
            f"{where}: value must be a string, number, bool or aware datetime, got {value!r:.80}"
            + (" (use op 'exists' to test presence)" if value is None else "")
        )
    if isinstance(value, datetime):
        try:
            return ensure_utc(value)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
    return value


def check_query(query: Query) -> Query:
    """Validate a query; return it normalised (UTC datetimes, empty text dropped)."""
    filters = tuple(check_filter(f, i) for i, f in enumerate(query.filters))
    start = _utc(query.start, "start")
    end = _utc(query.end, "end")
    if query.text is not None and not isinstance(query.text, str):
        raise ValueError(f"query text must be a string, got {query.text!r:.80}")
    return Query(filters=filters, start=start, end=end, text=query.text or None)


def _utc(ts: datetime | None, name: str) -> datetime | None:
    if ts is None:
        return None
    if not isinstance(ts, datetime):
        raise TypeError(f"query {name} must be an aware datetime, got {ts!r:.80}")
    try:
        return ensure_utc(ts)
    except ValueError as exc:
        raise ValueError(f"query {name}: {exc}") from None


def elements(value: Any) -> list[Any]:
    """The elements of a field value: the items of a list, else the value itself."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _as_ts(v: Any) -> datetime | None:
    if not isinstance(v, str):
        return None
    try:
        return parse_ts(v)
    except ValueError:
        return None


def element_eq(elem: Any, value: Any) -> bool:
    """``eq`` of one element against one (validated) filter value."""
    if isinstance(value, bool):
        return isinstance(elem, bool) and elem == value
    if isinstance(value, str):
        if isinstance(elem, str):
            return elem == value
        return isinstance(elem, int) and not isinstance(elem, bool) and str(elem) == value
    if isinstance(value, int):
        if isinstance(elem, str):
            return elem == str(value)
        return _is_number(elem) and elem == value
    if isinstance(value, float):
        return _is_number(elem) and elem == value
    if isinstance(value, datetime):
        ts = _as_ts(elem)
        return ts is not None and ts == value
    return False


def _text(elem: Any) -> str | None:
    if isinstance(elem, str):
        return elem
    if isinstance(elem, int) and not isinstance(elem, bool):
        return str(elem)
    return None


def element_matches(elem: Any, f: FieldFilter) -> bool:
    """Whether one element satisfies a positive filter (not ``ne``/``exists``)."""
    op = f.op
    if op == "eq":
        return element_eq(elem, f.value)
    if op == "in":
        return any(element_eq(elem, v) for v in f.value)
    if op in ("prefix", "contains"):
        text = _text(elem)
        if text is None:
            return False
        text, needle = text.lower(), f.value.lower()
        return text.startswith(needle) if op == "prefix" else needle in text
    cmp = COMPARE[op]
    if isinstance(f.value, datetime):
        ts = _as_ts(elem)
        return ts is not None and cmp(ts, f.value)
    return _is_number(elem) and cmp(elem, f.value)


def filter_matches(event: Event, f: FieldFilter) -> bool:
    """Whether an event satisfies one validated filter."""
    value = lookup(event, f.field)
    if f.op == "exists":
        return value is not None and value != [] and value != {}
    if f.op == "ne":
        return not any(element_eq(e, f.value) for e in elements(value))
    return any(element_matches(e, f) for e in elements(value))


def query_matches(event: Event, query: Query) -> bool:
    """Whether an event satisfies a validated query (see :func:`check_query`)."""
    if query.start is not None or query.end is not None:
        ts = parse_ts(event["@timestamp"])
        if query.start is not None and ts < query.start:
            return False
        if query.end is not None and ts >= query.end:
            return False
    if query.text is not None:
        message = lookup(event, "message")
        if not isinstance(message, str) or query.text.lower() not in message.lower():
            return False
    return all(filter_matches(event, f) for f in query.filters)


def bucket_key(elem: Any) -> tuple[int, float, str] | None:
    """Ordering key for ``count_by`` ties (numbers, then strings, then bools);
    ``None`` for elements that are not counted (null, lists, objects)."""
    if isinstance(elem, bool):
        return (2, 0.0, "true" if elem else "false")
    if _is_number(elem):
        return (0, float(elem), "")
    if isinstance(elem, str):
        return (1, 0.0, elem)
    return None
