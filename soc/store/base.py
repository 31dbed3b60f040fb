"""The event store interface every backend implements, and the query model.

Every later stage (detectors, alerts, API, reports) speaks only this interface, so
the embedded DuckDB store, the in-memory store and the Elasticsearch store are
interchangeable and must give the same answers (a contract suite checks it).

Field names are ECS dotted paths (``source.ip``). Times are aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from soc.event import Event

FilterOp = Literal["eq", "ne", "in", "prefix", "contains", "exists", "gt", "gte", "lt", "lte"]


class StoreError(Exception):
    """The store failed; ``retryable`` says whether the same write may succeed later."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """One condition on one field.

    ``eq``/``ne`` compare exactly (strings case-sensitively, as keyword fields do);
    ``in`` takes a sequence; ``prefix`` and ``contains`` are case-insensitive
    substring tests on the text of the value; ``exists`` ignores ``value``;
    ``gt``..``lte`` compare numbers, or timestamps given as aware datetimes.
    """

    field: str
    op: FilterOp = "eq"
    value: Any = None


@dataclass(frozen=True, slots=True)
class Query:
    """Which events: every filter AND-ed, a half-open time range ``[start, end)``
    on ``@timestamp``, and ``text``, a case-insensitive substring of ``message``."""

    filters: Sequence[FieldFilter] = ()
    start: datetime | None = None
    end: datetime | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Sort:
    field: str = "@timestamp"
    descending: bool = True


@dataclass(slots=True)
class Page:
    """One page of events, newest first by default.

    ``cursor`` is opaque; pass it back as ``after`` to get the next page. It is
    ``None`` on the last page. Ties on the sort field are broken by ``event.id``.
    """

    events: list[Event]
    cursor: str | None
    total: int | None = None


@dataclass(slots=True)
class WriteResult:
    """``stored``: new events written; ``duplicates``: events whose ``event.id``
    was already stored (ignored, not overwritten); ``rejected``: events the backend
    refused for good (e.g. a bulk item's mapping error), each with the server's
    reason. The engine sends rejected events to the dead-letter store; a failure that
    may succeed later must raise a retryable :class:`StoreError` instead."""

    stored: int = 0
    duplicates: int = 0
    rejected: list[tuple[Event, str]] = field(default_factory=list)


@dataclass(slots=True)
class Bucket:
    key: Any
    count: int


@dataclass(slots=True)
class StoreStats:
    events: int
    oldest: datetime | None
    newest: datetime | None
    bytes_on_disk: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Store(Protocol):
    """An event store. Implementations: ``DuckDBStore``, ``MemoryStore`` (and later
    ``ElasticsearchStore``). ``write`` is idempotent on ``event.id``."""

    def write(self, events: Sequence[Event]) -> WriteResult: ...

    def flush(self) -> None:
        """Make everything written so far durable (checkpoint)."""

    def get(self, event_ids: Sequence[str]) -> list[Event]: ...

    def search(
        self, query: Query, *, size: int = 100, sort: Sort = Sort(), after: str | None = None
    ) -> Page: ...

    def count(self, query: Query = Query()) -> int: ...

    def count_by(self, query: Query, field: str, *, size: int = 10) -> list[Bucket]:
        """Top ``size`` values of ``field`` by count, descending (ties by key)."""

    def histogram(self, query: Query, interval_seconds: int) -> list[Bucket]:
        """Counts per time bucket of ``@timestamp``; keys are the bucket start
        (aware UTC datetime, aligned to the epoch), ascending, empty buckets omitted."""

    def distinct_count(self, query: Query, field: str) -> int: ...

    def delete_before(self, cutoff: datetime) -> int:
        """Retention: delete events with ``@timestamp`` before ``cutoff``; returns how many."""

    def stats(self) -> StoreStats: ...

    def close(self) -> None: ...
