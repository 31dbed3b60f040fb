"""Events of a time range as a pandas frame of the fields the features need, read
through the store interface (:class:`soc.store.base.Store`).

A store that can hand over columns (``select_fields``: the DuckDB store, one columnar
scan with the filters and time range pushed into SQL) is asked for them; any other
store (Elasticsearch, memory) is paged through with ``search`` in ``@timestamp`` order.
Either way the frame has one column per dotted field, ``@timestamp`` as aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import pandas as pd

from soc.store.base import Query, Sort
from soc.store.fields import lookup

PAGE_SIZE = 5000
NUMERIC_FIELDS = frozenset(
    {"destination.port", "source.port", "source.bytes", "destination.bytes", "network.bytes",
     "event.code", "winlog.event_id"}
)  # fmt: skip
LIST_FIELDS = frozenset({"event.category", "event.type"})


def load_frame(
    store: Any, query: Query, fields: Sequence[str], *, page_size: int = PAGE_SIZE
) -> pd.DataFrame:
    """The events matching ``query``, one row each, with ``@timestamp``, ``event.id``
    and ``fields`` as columns (missing values are NaN/None)."""
    wanted = list(dict.fromkeys(["@timestamp", "event.id", *fields]))
    select = getattr(store, "select_fields", None)
    if callable(select):
        frame = select(query, wanted).to_pandas()
        frame["@timestamp"] = pd.to_datetime(frame["@timestamp"], unit="us", utc=True)
    else:
        frame = _paged(store, query, wanted, page_size)
    for name in wanted:
        if name in NUMERIC_FIELDS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce")
        elif name in LIST_FIELDS:
            frame[name] = frame[name].map(_as_text_list)
    return frame


def _paged(store: Any, query: Query, wanted: list[str], page_size: int) -> pd.DataFrame:
    columns: dict[str, list[Any]] = {name: [] for name in wanted}
    cursor = None
    sort = Sort("@timestamp", descending=False)
    while True:
        page = store.search(query, size=page_size, sort=sort, after=cursor)
        for event in page.events:
            for name in wanted:
                columns[name].append(lookup(event, name))
        cursor = page.cursor
        if cursor is None:
            break
    frame = pd.DataFrame(columns)
    frame["@timestamp"] = pd.to_datetime(frame["@timestamp"], utc=True, format="ISO8601")
    return frame


def _as_text_list(value: Any) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ()
    if isinstance(value, str):
        if value.startswith("["):  # a JSON array read as text from a document
            parsed = orjson.loads(value)
            return tuple(str(v) for v in parsed) if isinstance(parsed, list) else (value,)
        return (value,)
    return tuple(str(v) for v in value)


def window_starts(ts: pd.Series, window_seconds: int) -> pd.Series:
    """The start (aware UTC) of the epoch-aligned window of each timestamp."""
    return ts.dt.floor(f"{int(window_seconds)}s")


def time_query(start: datetime, end: datetime, filters: Sequence[Any] = ()) -> Query:
    return Query(filters=tuple(filters), start=start, end=end)
