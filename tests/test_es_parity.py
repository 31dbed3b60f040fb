"""Parity: real dataset lines parsed once and stored in DuckDB and in Elasticsearch
give the same answers to the same queries; any difference fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.parsers import get_parser
from soc.event import RawRecord
from soc.pipeline.normalize import finish_event
from soc.store import DuckDBStore, FieldFilter, Query, Sort

pytestmark = pytest.mark.elasticsearch

QUERIES = [
    Query(),
    Query(filters=[FieldFilter("event.outcome", "eq", "failure")]),
    Query(filters=[FieldFilter("user.name", "exists"), FieldFilter("source.ip", "prefix", "1")]),
    Query(text="password"),
    Query(filters=[FieldFilter("event.category", "ne", "authentication")]),
]
FIELDS = ["user.name", "source.ip", "event.action", "host.hostname", "process.name", "event.category"]


def _events(datasets: Path) -> list[dict]:
    path = datasets / "logs/endpoint/linux_auth/elastic-beats/secure-rhel7.log"
    parser = get_parser("linux_auth")
    out, offset = [], 0
    for line in path.read_bytes().splitlines():
        record = RawRecord(
            raw=line,
            source=f"file:{path}",
            position=offset,
            meta={"input": "file", "path": str(path), "timezone": "UTC"},
        )
        offset += len(line) + 1
        try:
            parsed = parser.parse(record)
        except Exception:  # unparseable lines are dead letters, not part of parity
            continue
        for i, event in enumerate(parsed):
            out.append(
                finish_event(event, record, i, keep_original=True, ingested="2024-01-01T00:00:00.000Z")
            )
    return out


def test_duckdb_and_elasticsearch_agree_on_a_real_dataset(datasets: Path, tmp_path: Path) -> None:
    from tests.helpers_es import open_es_store

    events = _events(datasets)
    assert len(events) > 500
    duck = DuckDBStore(tmp_path / "events.duckdb")
    es = open_es_store(str(tmp_path))
    try:
        assert duck.write(events).stored == es.write(events).stored == len({e["event"]["id"] for e in events})
        for query in QUERIES:
            assert es.count(query) == duck.count(query), query
            assert es.histogram(query, 3600) == duck.histogram(query, 3600), query
            for field in FIELDS:
                assert es.count_by(query, field, size=7) == duck.count_by(query, field, size=7), (
                    query,
                    field,
                )
                assert es.distinct_count(query, field) == duck.distinct_count(query, field), (query, field)
            for sort in (Sort(), Sort("user.name", False)):
                a_after = b_after = None
                for _ in range(4):
                    a = es.search(query, size=50, sort=sort, after=a_after)
                    b = duck.search(query, size=50, sort=sort, after=b_after)
                    assert (a.events, a.total) == (b.events, b.total), (query, sort)
                    if b.cursor is None:
                        assert a.cursor is None
                        break
                    a_after, b_after = a.cursor, b.cursor
    finally:
        duck.close()
        es.close()
