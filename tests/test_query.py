"""The search query language: parse_query and parse_since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from soc.query import QuerySyntaxError, parse_query, parse_since
from soc.store.base import FieldFilter, Query
from soc.store.memory import MemoryStore
from tests.helpers_api import make_event


def filters(text: str) -> list[FieldFilter]:
    return list(parse_query(text).filters)


def test_empty_query_matches_everything() -> None:
    assert parse_query("") == Query()
    assert parse_query("   ") == Query()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event.action:ssh_login", FieldFilter("event.action", "eq", "ssh_login")),
        ('host.name:"web 01"', FieldFilter("host.name", "eq", "web 01")),
        ('host.name:"a \\"b\\" *"', FieldFilter("host.name", "eq", 'a "b" *')),
        ("source.ip:10.0.*", FieldFilter("source.ip", "prefix", "10.0.")),
        ("process.name:*ssh*", FieldFilter("process.name", "contains", "ssh")),
        ("user.name:*", FieldFilter("user.name", "exists", None)),
        ("-user.name:root", FieldFilter("user.name", "ne", "root")),
        ("NOT user.name:root", FieldFilter("user.name", "ne", "root")),
        ("network.bytes:>1000", FieldFilter("network.bytes", "gt", 1000)),
        ("network.bytes:>=1.5", FieldFilter("network.bytes", "gte", 1.5)),
        ("custom.n:<5", FieldFilter("custom.n", "lt", 5)),
        ("custom.n:<=-5", FieldFilter("custom.n", "lte", -5)),
        ("destination.port:22", FieldFilter("destination.port", "eq", 22)),
        ("event.code:4625", FieldFilter("event.code", "eq", "4625")),
        ("_exists_:user.name", FieldFilter("user.name", "exists", None)),
        ("source.ip:fe80::1", FieldFilter("source.ip", "eq", "fe80::1")),
        (
            'user.name:(alice OR "bob smith" OR carol)',
            FieldFilter("user.name", "in", ("alice", "bob smith", "carol")),
        ),
        ("destination.port:(22 OR 3389)", FieldFilter("destination.port", "in", (22, 3389))),
    ],
)
def test_single_terms(text: str, expected: FieldFilter) -> None:
    assert filters(text) == [expected]


def test_timestamp_comparison_is_an_aware_datetime() -> None:
    (flt,) = filters("@timestamp:>=2024-05-01T10:00:00Z")
    assert flt.op == "gte"
    assert flt.value == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_negated_in_becomes_several_ne() -> None:
    assert filters("-user.name:(root OR admin)") == [
        FieldFilter("user.name", "ne", "root"),
        FieldFilter("user.name", "ne", "admin"),
    ]


def test_terms_are_anded_and_bare_words_join_into_one_phrase() -> None:
    query = parse_query('failed event.outcome:failure AND password "for alice" source.port:>1024')
    assert query.text == "failed password for alice"
    assert list(query.filters) == [
        FieldFilter("event.outcome", "eq", "failure"),
        FieldFilter("source.port", "gt", 1024),
    ]


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ('host.name:"web', 10, "unterminated quote"),
        ("a b:", 2, "missing value"),
        ("x:*exe", 0, "suffix wildcard"),
        ("ok:1 x:a*b", 5, "wildcard inside"),
        ("x:>abc", 0, "neither a number"),
        ("destination.port:ssh", 0, "is numeric"),
        ("-failed", 0, "negated full-text"),
        ("x:1 OR y:2", 4, "OR"),
        ("-x:>5", 0, "negated comparison"),
        ("-x:a*", 0, "negated wildcard"),
        ("-_exists_:x", 0, "negated _exists_"),
        ("x:(a OR", 0, "missing ')'"),
        ("x:(a b)", 0, "expected OR"),
        ("x:(a OR )", 0, "dangling OR"),
        (":value", 0, "missing field name"),
    ],
)
def test_errors_name_term_and_position(text: str, position: int, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(text)
    assert info.value.position == position
    assert fragment in str(info.value)
    assert f"position {position}" in str(info.value)


def test_parsed_queries_select_the_right_events_in_a_store() -> None:
    store = MemoryStore()
    store.write(
        [
            make_event(1, user="alice", port=22, outcome="failure"),
            make_event(2, user="bob", port=2222, outcome="success"),
            make_event(3, user=None, port=3389, outcome="failure", message="Accepted publickey"),
        ]
    )

    def hits(text: str) -> set[str]:
        page = store.search(parse_query(text), size=100)
        return {e["user"]["name"] if "user" in e else "-" for e in page.events}

    assert hits("event.outcome:failure") == {"alice", "-"}
    assert hits("-user.name:alice") == {"bob", "-"}
    assert hits("source.port:(22 OR 3389)") == {"alice", "-"}
    assert hits("source.port:>=2222") == {"bob", "-"}
    assert hits("_exists_:user.name") == {"alice", "bob"}
    assert hits("user.name:b*") == {"bob"}
    assert hits("accepted PUBLICKEY") == {"-"}
    assert hits("failed password user.name:*lic*") == {"alice"}


def test_parse_since_relative_and_absolute() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert parse_since("15m", now=now) == now - timedelta(minutes=15)
    assert parse_since("2h", now=now) == now - timedelta(hours=2)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("1w", now=now) == now - timedelta(weeks=1)
    assert parse_since("now", now=now) == now
    assert parse_since("2024-05-01T10:00:00Z") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_since("2024-05-01T17:00:00+07:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    naive = parse_since("2024-05-01T10:00:00")
    assert naive == datetime(2024, 5, 1, 10, tzinfo=UTC) and naive.tzinfo is not None
    assert abs(parse_since("1h") - (datetime.now(UTC) - timedelta(hours=1))) < timedelta(seconds=5)


@pytest.mark.parametrize("text", ["yesterday", "15x", "-5m", ""])
def test_parse_since_rejects_garbage(text: str) -> None:
    with pytest.raises(QuerySyntaxError, match="invalid time"):
        parse_since(text)
