"""Search sort and cursor rules shared by every store.

A page is ordered by the sort field (missing values last, in either direction),
then by ``event.id`` in the same direction. The cursor is an opaque URL-safe
string holding the sort it was made for, the last event's sort value (timestamps
as integer microseconds since the epoch) and its ``event.id``; the next page
starts strictly after that pair, so pages never repeat or skip an event.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from soc.store.base import Sort
from soc.store.fields import HOT_BY_PATH, SORTABLE

DEFAULT_SORT = Sort()
"""Newest first: ``@timestamp`` descending."""


def check_sort(sort: Sort) -> Sort:
    """Refuse a sort on a field that cannot be sorted (only hot scalar fields can)."""
    if sort.field not in SORTABLE:
        raise ValueError(f"cannot sort on {sort.field!r}; sortable fields: {', '.join(SORTABLE)}")
    return sort


def is_time_field(path: str) -> bool:
    hot = HOT_BY_PATH.get(path)
    return hot is not None and hot.kind == "ts"


def encode_cursor(sort: Sort, value: Any, event_id: str) -> str:
    """The cursor after an event whose sort value is ``value`` (µs for time fields)."""
    raw = orjson.dumps([sort.field, sort.descending, value, event_id])
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, str]:
    """``(sort value, event.id)`` from a cursor; ``ValueError`` if it is malformed
    or was made for a different sort."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        field, descending, value, event_id = orjson.loads(raw)
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        raise ValueError(f"malformed search cursor {cursor[:40]!r}") from None
    if field != sort.field or descending != sort.descending or not isinstance(event_id, str):
        raise ValueError(
            f"cursor was made for sort {field!r} {'desc' if descending else 'asc'}, "
            f"not {sort.field!r} {'desc' if sort.descending else 'asc'}"
        )
    if value is not None and not isinstance(value, str | int):
        raise ValueError(f"malformed search cursor {cursor[:40]!r}")
    return value, event_id
