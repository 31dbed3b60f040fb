"""The store contract: every registered backend gives the same answers.

Parametrized over ``soc.store.STORES``, so registering a backend (e.g. Elasticsearch)
puts it under this suite. Expected values are computed here in plain Python from
the generated events; a hypothesis test compares each backend with MemoryStore.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soc.event import Event, parse_ts
from soc.store import STORES, FieldFilter, MemoryStore, Query, Sort, Store, StoreError
from tests.helpers_store import BASE_TIME, HOSTS, SOURCE_IPS, USERS, auth_events, open_test_store

EVENTS = auth_events(400)
BACKENDS = sorted(STORES)
PERSISTENT = [b for b in BACKENDS if b != "memory"]
SERVER_BACKENDS = {"elasticsearch"}
"""Backends on a server; their cases carry the ``elasticsearch`` marker (``pytest -m elasticsearch``)."""


def params(backends: list[str]) -> list[Any]:
    return [pytest.param(b, marks=pytest.mark.elasticsearch) if b in SERVER_BACKENDS else b for b in backends]


def g(e: Event, path: str) -> Any:
    node: Any = e
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def elems(v: Any) -> list[Any]:
    return [] if v is None else v if isinstance(v, list) else [v]


def ts(e: Event) -> datetime:
    return parse_ts(e["@timestamp"])


def ids(events: list[Event]) -> set[str]:
    return {e["event"]["id"] for e in events}


@pytest.fixture(params=params(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_test_store(request.param, tmp_path)
    assert s.write(EVENTS).stored == len(EVENTS)
    yield s
    s.close()


def all_matching(store: Store, query: Query) -> list[Event]:
    out: list[Event] = []
    after = None
    while True:
        page = store.search(query, size=97, after=after)
        out.extend(page.events)
        if page.cursor is None:
            return out
        after = page.cursor


# -- writes ---------------------------------------------------------------------------------


def test_writes_are_idempotent_on_event_id(store: Store) -> None:
    again = store.write(EVENTS[:50] + EVENTS[:5])
    assert (again.stored, again.duplicates) == (0, 55)
    extra = auth_events(3, seed=99, start=BASE_TIME + timedelta(days=1))
    res = store.write(extra + extra[:1] + EVENTS[10:12])
    assert (res.stored, res.duplicates) == (3, 3)
    assert store.count() == len(EVENTS) + 3


def test_get_round_trips_exact_documents(store: Store) -> None:
    want = [EVENTS[17], EVENTS[3], EVENTS[200]]
    got = store.get([e["event"]["id"] for e in want] + ["no-such-id"])
    assert got == want
    assert isinstance(got[0]["log"]["offset"], int) and isinstance(got[0]["observer"]["ip"], list)
    assert store.get([]) == []


def test_bad_events_are_refused_with_place_and_field(store: Store) -> None:
    bad = dict(EVENTS[0], destination={"ip": "10.0.0.1", "port": "ssh"})
    with pytest.raises(StoreError, match=r"event 1 .*destination.port must be an integer"):
        store.write([EVENTS[1], bad])
    with pytest.raises(StoreError, match=r"event 0 .*@timestamp is missing"):
        store.write([{"event": {"id": "x1"}, "message": "no time"}])
    with pytest.raises(StoreError, match=r"event\.id is missing"):
        store.write([{"@timestamp": "2024-03-01T00:00:00.000Z"}])


# -- filters --------------------------------------------------------------------------------

T0 = BASE_TIME + timedelta(minutes=3)
FILTER_CASES: list[tuple[FieldFilter, Any]] = [
    (FieldFilter("event.category", "eq", "session"), lambda e: "session" in elems(g(e, "event.category"))),
    (FieldFilter("event.category", "ne", "authentication"),
     lambda e: "authentication" not in elems(g(e, "event.category"))),
    (FieldFilter("user.name", "eq", "admin"), lambda e: g(e, "user.name") == "admin"),
    (FieldFilter("user.name", "in", ["root", "Admin"]), lambda e: g(e, "user.name") in ("root", "Admin")),
    (FieldFilter("host.name", "prefix", "WEB"), lambda e: g(e, "host.name").lower().startswith("web")),
    (FieldFilter("message", "contains", "FOR ROOT"), lambda e: "for root" in e["message"].lower()),
    (FieldFilter("source.ip", "exists"), lambda e: g(e, "source.ip") is not None),
    (FieldFilter("destination.port", "eq", 22), lambda e: g(e, "destination.port") == 22),
    (FieldFilter("destination.port", "eq", "22"), lambda e: g(e, "destination.port") == 22),
    (FieldFilter("source.port", "gte", 40000), lambda e: (g(e, "source.port") or 0) >= 40000),
    (FieldFilter("source.port", "prefix", "4"), lambda e: str(g(e, "source.port")).startswith("4")),
    (FieldFilter("@timestamp", "lt", T0), lambda e: ts(e) < T0),
    (FieldFilter("event.ingested", "gt", T0), lambda e: parse_ts(g(e, "event.ingested")) > T0),
    (FieldFilter("labels.tags", "eq", "a"), lambda e: "a" in g(e, "labels.tags")),
    (FieldFilter("labels.tags", "exists"), lambda e: g(e, "labels.tags") != []),
    (FieldFilter("labels.tags", "ne", "b"), lambda e: "b" not in g(e, "labels.tags")),
    (FieldFilter("custom.score", "gt", 1), lambda e: (g(e, "custom.score") or 0) > 1),
    (FieldFilter("custom.score", "eq", 2), lambda e: g(e, "custom.score") == 2),
    (FieldFilter("custom.flag", "eq", True), lambda e: g(e, "custom.flag") is True),
    (FieldFilter("custom_text", "eq", 22), lambda e: g(e, "custom_text") == "22"),
    (FieldFilter("custom_text", "gte", BASE_TIME),
     lambda e: g(e, "custom_text") == "2024-03-01T08:00:00.000Z"),
    (FieldFilter("event.severity", "lte", 3), lambda e: g(e, "event.severity") <= 3),
    (FieldFilter("process.pid", "in", [1000, 1001]), lambda e: g(e, "process.pid") in (1000, 1001)),
    (FieldFilter("related.user", "contains", "OB"), lambda e: "ob" in g(e, "related.user")[0].lower()),
    (FieldFilter("no.such.field", "ne", "x"), lambda e: True),
    (FieldFilter("no.such.field", "exists"), lambda e: False),
    (FieldFilter("observer.ip", "eq", "10.9.0.2"), lambda e: "10.9.0.2" in g(e, "observer.ip")),
]


@pytest.mark.parametrize(("flt", "pred"), FILTER_CASES, ids=[f"{f.field}-{f.op}" for f, _ in FILTER_CASES])
def test_filter(store: Store, flt: FieldFilter, pred: Any) -> None:
    expected = [e for e in EVENTS if pred(e)]
    assert 0 < len(expected) < len(EVENTS) or flt.field == "no.such.field"
    q = Query(filters=[flt])
    assert store.count(q) == len(expected)
    assert ids(all_matching(store, q)) == ids(expected)


def test_time_range_text_and_filters_combine(store: Store) -> None:
    start, end = BASE_TIME + timedelta(minutes=1), BASE_TIME + timedelta(minutes=6)
    q = Query(filters=[FieldFilter("event.outcome", "eq", "failure")], start=start, end=end, text="SSHD")
    expected = [e for e in EVENTS if start <= ts(e) < end and e["event"]["outcome"] == "failure"]
    assert store.count(q) == len(expected) > 0
    edge = ts(EVENTS[100])
    assert store.count(Query(start=edge)) == sum(ts(e) >= edge for e in EVENTS)
    assert store.count(Query(end=edge)) == sum(ts(e) < edge for e in EVENTS)


def test_bad_queries_raise_clear_errors(store: Store) -> None:
    with pytest.raises(ValueError, match=r"filter 1 .*'gt' needs a number"):
        store.count(Query(filters=[FieldFilter("a", "exists"), FieldFilter("source.port", "gt", "x")]))
    with pytest.raises(ValueError, match="unknown op 'like'"):
        store.count(Query(filters=[FieldFilter("a", "like", "x")]))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive datetime"):
        store.count(Query(start=datetime(2024, 1, 1)))
    with pytest.raises(ValueError, match=r"cannot sort on 'labels\.env'"):
        store.search(Query(), sort=Sort("labels.env"))


# -- aggregations ---------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["event.category", "user.name", "destination.port", "labels.tags",
                                   "custom.score", "related.ip", "source.port"])
def test_count_by(store: Store, field: str) -> None:
    counts: Counter[Any] = Counter()
    for e in EVENTS:
        counts.update(set(elems(g(e, field))))
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], isinstance(kv[0], str), kv[0]))[:5]
    got = store.count_by(Query(), field, size=5)
    assert [(b.key, b.count) for b in got] == expected
    assert all(type(b.key) is type(k) for b, (k, _) in zip(got, expected, strict=True))


def test_count_by_respects_query(store: Store) -> None:
    q = Query(filters=[FieldFilter("event.outcome", "eq", "failure")])
    counts = Counter(e["user"]["name"] for e in EVENTS if e["event"]["outcome"] == "failure")
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(b.key, b.count) for b in store.count_by(q, "user.name", size=100)] == top


def test_histogram(store: Store) -> None:
    width = 90
    counts = Counter(int(ts(e).timestamp()) // width * width for e in EVENTS)
    expected = [(datetime.fromtimestamp(k, UTC), n) for k, n in sorted(counts.items())]
    got = store.histogram(Query(), width)
    assert [(b.key, b.count) for b in got] == expected
    assert all(b.key.tzinfo is not None for b in got)


@pytest.mark.parametrize("field", ["user.name", "source.ip", "labels.tags", "source.port", "custom.score"])
def test_distinct_count(store: Store, field: str) -> None:
    values = {v for e in EVENTS for v in elems(g(e, field))}
    assert store.distinct_count(Query(), field) == len(values)


# -- search and pagination ------------------------------------------------------------------


@pytest.mark.parametrize(("sort", "size"), [(Sort(), 7), (Sort("@timestamp", False), 13),
                                            (Sort("source.port", False), 50), (Sort("user.name"), 33)])
def test_pagination_never_repeats_or_skips(store: Store, sort: Sort, size: int) -> None:
    assert len({e["@timestamp"] for e in EVENTS}) < len(EVENTS) * 0.8  # many equal timestamps

    def key(e: Event) -> Any:
        v = g(e, sort.field)
        return parse_ts(v) if sort.field == "@timestamp" else v

    present = sorted((e for e in EVENTS if key(e) is not None), key=lambda e: (key(e), e["event"]["id"]),
                     reverse=sort.descending)
    missing = sorted((e for e in EVENTS if key(e) is None), key=lambda e: e["event"]["id"],
                     reverse=sort.descending)
    expected = [e["event"]["id"] for e in present + missing]
    got: list[str] = []
    after = None
    while True:
        page = store.search(Query(), size=size, sort=sort, after=after)
        assert page.total == len(EVENTS)
        got.extend(e["event"]["id"] for e in page.events)
        if page.cursor is None:
            break
        after = page.cursor
    assert got == expected


def test_search_returns_exact_documents_and_rejects_foreign_cursor(store: Store) -> None:
    page = store.search(Query(filters=[FieldFilter("custom.flag", "exists")]), size=3)
    by_id = {e["event"]["id"]: e for e in EVENTS}
    assert page.events == [by_id[e["event"]["id"]] for e in page.events]
    assert page.cursor is not None
    with pytest.raises(ValueError, match="cursor was made for sort"):
        store.search(Query(), sort=Sort("user.name"), after=page.cursor)
    with pytest.raises(ValueError, match="malformed search cursor"):
        store.search(Query(), after="not-a-cursor")


# -- retention and stats --------------------------------------------------------------------


def test_delete_before_and_stats(store: Store) -> None:
    stats = store.stats()
    assert stats.events == len(EVENTS)
    assert stats.oldest == min(ts(e) for e in EVENTS) and stats.newest == max(ts(e) for e in EVENTS)
    cutoff = ts(EVENTS[150])
    old = sum(ts(e) < cutoff for e in EVENTS)
    assert store.delete_before(cutoff) == old > 0
    assert store.count() == len(EVENTS) - old
    assert store.stats().oldest == cutoff
    assert store.delete_before(cutoff) == 0


# -- persistence ----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", params(PERSISTENT))
def test_reopen_keeps_data_and_read_only_open_works(backend: str, tmp_path: Path) -> None:
    s = open_test_store(backend, tmp_path)
    s.write(EVENTS[:100])
    s.close()
    s = open_test_store(backend, tmp_path)
    assert s.count() == 100
    assert s.write(EVENTS[:120]).duplicates == 100
    s.close()
    ro = open_test_store(backend, tmp_path, read_only=True)
    assert ro.count() == 120 and ro.get([EVENTS[5]["event"]["id"]]) == [EVENTS[5]]
    with pytest.raises(StoreError, match="read-only"):
        ro.write(EVENTS[:1])
    ro.close()


# -- random queries against the reference store ---------------------------------------------

TEXT = st.sampled_from(USERS + HOSTS + SOURCE_IPS + ["session", "authentication", "a", "b", "ssh", "WEB",
                                                     "22", "x", "10.9", "org-a", "prod", "sshd", "", "1"])
NUM = st.sampled_from([0, 1, 2, 3, 5, 7, 22, 0.5, 1.5, 1000, 40000, 1010])
DT = st.integers(-60, 800).map(lambda s: BASE_TIME + timedelta(seconds=s))
SCALAR = st.one_of(TEXT, NUM, st.booleans(), DT)
FIELDS = st.sampled_from([
    "event.category", "user.name", "source.ip", "source.port", "destination.port", "event.outcome",
    "@timestamp", "event.ingested", "labels.tags", "labels.env", "custom.score", "custom.flag", "custom_text",
    "process.pid", "event.severity", "related.user", "observer.ip", "message", "host.name", "missing.x",
    "log.offset", "organization.id", "destination",
])


@st.composite
def field_filters(draw: st.DrawFn) -> FieldFilter:
    field = draw(FIELDS)
    op = draw(st.sampled_from(["eq", "ne", "in", "prefix", "contains", "exists", "gt", "gte", "lt", "lte"]))
    if op == "exists":
        return FieldFilter(field, op)
    if op == "in":
        return FieldFilter(field, op, draw(st.lists(SCALAR, max_size=3)))
    if op in ("prefix", "contains"):
        return FieldFilter(field, op, draw(TEXT))
    if op in ("gt", "gte", "lt", "lte"):
        return FieldFilter(field, op, draw(st.one_of(NUM, DT)))
    return FieldFilter(field, op, draw(SCALAR))


QUERIES = st.builds(
    Query,
    filters=st.lists(field_filters(), max_size=3),
    start=st.one_of(st.none(), DT),
    end=st.one_of(st.none(), DT),
    text=st.one_of(st.none(), TEXT),
)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    made: dict[str, Store] = {}
    for backend in BACKENDS:
        made[backend] = open_test_store(backend, tmp_path_factory.mktemp(backend))
        made[backend].write(EVENTS)
    yield made
    for s in made.values():
        s.close()


@pytest.mark.parametrize("backend", params([b for b in BACKENDS if b != "memory"]))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=QUERIES, field=FIELDS, sort_desc=st.booleans())
def test_random_queries_agree_with_memory_store(
    stores: dict[str, Store], backend: str, query: Query, field: str, sort_desc: bool
) -> None:
    ref: MemoryStore = stores["memory"]  # type: ignore[assignment]
    other = stores[backend]
    assert other.count(query) == ref.count(query)
    sort = Sort("@timestamp", sort_desc)
    a, b = other.search(query, size=15, sort=sort), ref.search(query, size=15, sort=sort)
    assert (a.events, a.total) == (b.events, b.total)
    if a.cursor is not None:
        assert other.search(query, size=15, sort=sort, after=a.cursor).events == ref.search(
            query, size=15, sort=sort, after=b.cursor).events
    assert other.count_by(query, field, size=4) == ref.count_by(query, field, size=4)
    assert other.distinct_count(query, field) == ref.distinct_count(query, field)
    assert other.histogram(query, 300) == ref.histogram(query, 300)
