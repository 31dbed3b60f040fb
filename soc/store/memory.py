"""MemoryStore: the in-process reference store, a dict keyed by ``event.id``.

It evaluates the filter contract of :mod:`soc.store.match` directly and is the
oracle the contract suite checks other stores against. Events are copied through
JSON on write, so what comes back is exactly what a persistent store returns.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from soc.event import Event, ensure_utc, parse_ts
from soc.store.base import Bucket, Page, Query, Sort, StoreError, StoreStats, WriteResult
from soc.store.cursor import DEFAULT_SORT, check_sort, decode_cursor, encode_cursor, is_time_field
from soc.store.fields import check_event, lookup
from soc.store.match import ALL, bucket_key, check_query, elements, query_matches

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def epoch_us(ts: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (ts - EPOCH) // _US


def from_epoch_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


class MemoryStore:
    """A :class:`~soc.store.base.Store` held in a dict; nothing persists."""

    def __init__(self) -> None:
        self._events: dict[str, Event] = {}
        self._lock = threading.RLock()

    def write(self, events: Sequence[Event]) -> WriteResult:
        copies = []
        for i, event in enumerate(events):
            event_id = check_event(event, i)[0]
            try:
                copies.append((event_id, orjson.loads(orjson.dumps(event))))
            except TypeError as exc:
                raise StoreError(f"event {i} (id {event_id!r}): not JSON-serialisable: {exc}",
                                 retryable=False) from None
        result = WriteResult()
        with self._lock:
            for event_id, doc in copies:
                if event_id in self._events:
                    result.duplicates += 1
                else:
                    self._events[event_id] = doc
                    result.stored += 1
        return result

    def flush(self) -> None:
        """Nothing to make durable."""

    def get(self, event_ids: Sequence[str]) -> list[Event]:
        with self._lock:
            return [_copy(self._events[i]) for i in dict.fromkeys(event_ids) if i in self._events]

    def _matching(self, query: Query) -> list[Event]:
        query = check_query(query)
        with self._lock:
            return [e for e in self._events.values() if query_matches(e, query)]

    def search(
        self, query: Query, *, size: int = 100, sort: Sort = DEFAULT_SORT, after: str | None = None
    ) -> Page:
        check_sort(sort)
        if size < 1:
            raise ValueError(f"search size must be >= 1, got {size}")
        hits = self._matching(query)
        total = len(hits)
        desc = sort.descending

        def value(e: Event) -> Any:
            v = lookup(e, sort.field)
            return epoch_us(parse_ts(v)) if v is not None and is_time_field(sort.field) else v

        keyed = [(value(e), e["event"]["id"], e) for e in hits]
        present = sorted((k for k in keyed if k[0] is not None), key=lambda k: (k[0], k[1]), reverse=desc)
        missing = sorted((k for k in keyed if k[0] is None), key=lambda k: k[1], reverse=desc)
        ordered = present + missing
        if after is not None:
            cv, cid = decode_cursor(after, sort)
            ordered = [k for k in ordered if _is_after(k[0], k[1], cv, cid, desc)]
        page = ordered[:size]
        cursor = None
        if len(ordered) > size:
            last = page[-1]
            cursor = encode_cursor(sort, last[0], last[1])
        return Page(events=[_copy(k[2]) for k in page], cursor=cursor, total=total)

    def count(self, query: Query = ALL) -> int:
        return len(self._matching(query))

    def count_by(self, query: Query, field: str, *, size: int = 10) -> list[Bucket]:
        counts: Counter[tuple[int, float, str]] = Counter()
        keys: dict[tuple[int, float, str], Any] = {}
        for event in self._matching(query):
            seen = set()
            for elem in elements(lookup(event, field)):
                k = bucket_key(elem)
                if k is not None and k not in seen:
                    seen.add(k)
                    keys.setdefault(k, elem)
                    counts[k] += 1
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:size]
        return [Bucket(key=keys[k], count=n) for k, n in ranked]

    def histogram(self, query: Query, interval_seconds: int) -> list[Bucket]:
        if interval_seconds < 1:
            raise ValueError(f"histogram interval must be >= 1 second, got {interval_seconds}")
        width = interval_seconds * 1_000_000
        counts: Counter[int] = Counter()
        for event in self._matching(query):
            counts[epoch_us(parse_ts(event["@timestamp"])) // width * width] += 1
        return [Bucket(key=from_epoch_us(k), count=n) for k, n in sorted(counts.items())]

    def distinct_count(self, query: Query, field: str) -> int:
        seen = set()
        for event in self._matching(query):
            for elem in elements(lookup(event, field)):
                k = bucket_key(elem)
                if k is not None:
                    seen.add(k)
        return len(seen)

    def delete_before(self, cutoff: datetime) -> int:
        cutoff = ensure_utc(cutoff)
        with self._lock:
            old = [i for i, e in self._events.items() if parse_ts(e["@timestamp"]) < cutoff]
            for i in old:
                del self._events[i]
        return len(old)

    def stats(self) -> StoreStats:
        with self._lock:
            times = [parse_ts(e["@timestamp"]) for e in self._events.values()]
        return StoreStats(
            events=len(times),
            oldest=min(times) if times else None,
            newest=max(times) if times else None,
            bytes_on_disk=None,
        )

    def close(self) -> None:
        """Nothing to release; the events stay readable."""


def _copy(event: Event) -> Event:
    return orjson.loads(orjson.dumps(event))


def _is_after(v: Any, event_id: str, cv: Any, cid: str, desc: bool) -> bool:
    """Whether ``(v, event_id)`` comes after the cursor ``(cv, cid)`` (missing values last)."""
    if cv is None:
        return v is None and (event_id < cid if desc else event_id > cid)
    if v is None:
        return True
    return (v, event_id) < (cv, cid) if desc else (v, event_id) > (cv, cid)
