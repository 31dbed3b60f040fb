"""The engine in process: store outages, refused events and unparseable lines lose
nothing; enrichment; alerts from the pipeline."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from collectors.inputs.base import MemoryCheckpoints
from collectors.parsers import PARSERS
from collectors.parsers.linux_auth import LinuxAuthParser
from soc.config import LoadedConfig, load_config
from soc.event import Event, RawRecord
from soc.pipeline.engine import Engine
from soc.store import MemoryStore, Query, StoreError, WriteResult
from tests.helpers_engine import write_config

LINES = [
    "Nov 27 10:00:01 web01 sshd[100]: Accepted publickey for ops from 10.10.1.5 port 40001 ssh2",
    "Nov 27 10:00:02 portal01 sshd[101]: Invalid user admin from 203.0.113.9 port 40002",
    "Nov 27 10:00:03 db01 sudo: ops : TTY=pts/0 ; PWD=/root ; USER=root ; COMMAND=/bin/ls",
]


class FlakyStore(MemoryStore):
    """A real MemoryStore whose first ``failures`` writes fail as an outage would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    def write(self, events: Sequence[Event]) -> WriteResult:
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise StoreError("connection refused (simulated outage)", retryable=True)
        return super().write(events)


def records(lines: list[str], source: str = "file:/var/log/auth.log") -> list[RawRecord]:
    out, offset = [], 0
    for line in lines:
        raw = line.encode()
        out.append(
            RawRecord(raw=raw, source=source, position=offset, meta={"input": "file", "path": source[5:]})
        )
        offset += len(raw) + 1
    return out


@pytest.fixture
def config(tmp_path: Path) -> LoadedConfig:
    agencies = [
        {"id": "so-tttt", "name": "Sở Thông tin và Truyền thông", "hosts": ["web01"]},
        {
            "id": "ubnd-tinh",
            "name": "Văn phòng UBND tỉnh",
            "networks": ["203.0.113.0/24"],
            "hosts": ["portal01"],
        },
    ]
    path = write_config(tmp_path / "soc.yaml", store={"backend": "memory"}, agencies=agencies)
    return load_config(path, environ={})


def run_engine(
    config: LoadedConfig, data_dir: Path, store: MemoryStore, batches: list[list[RawRecord]]
) -> Engine:
    engine = Engine(
        config, data_dir, inputs=[], serve_api=False, checkpoints=MemoryCheckpoints(), store=store
    )
    engine.start()
    for batch in batches:
        engine.accept(batch, "test")
    assert engine.wait_drained(60), "the pipeline did not drain"
    return engine


def test_store_outage_is_retried_and_nothing_is_lost(config: LoadedConfig, data_dir: Path) -> None:
    store = FlakyStore(failures=3)
    engine = run_engine(config, data_dir, store, [records(LINES)])
    try:
        assert store.count() == 3
        assert store.attempts >= 4
        assert engine.counters.store_errors == 3
        assert engine.spool.backlog() == (0, 0)
    finally:
        engine.stop()


def test_unacknowledged_records_are_processed_after_restart(config: LoadedConfig, data_dir: Path) -> None:
    store = FlakyStore(failures=10**6)  # the store never comes back during the first run
    engine = Engine(
        config, data_dir, inputs=[], serve_api=False, checkpoints=MemoryCheckpoints(), store=store
    )
    engine.start()
    engine.accept(records(LINES), "test")
    threading.Event().wait(1.0)
    engine.stop(drain_timeout_s=0.5)
    assert store.count() == 0
    healthy = MemoryStore()
    engine = run_engine(config, data_dir, healthy, [])
    try:
        assert healthy.count() == 3
    finally:
        engine.stop()


def test_unparseable_lines_and_refused_events_become_dead_letters(
    config: LoadedConfig, data_dir: Path
) -> None:
    class BadPortParser(LinuxAuthParser):
        """A parser plugin that emits a source.port the store must refuse."""

        name = "badport"

        def parse(self, record: RawRecord) -> list[Event]:
            events = super().parse(record)
            for event in events:
                event.setdefault("source", {})["port"] = "ssh"
            return events

    PARSERS["badport"] = BadPortParser
    try:
        bad = records([LINES[1]], source="file:/var/log/other.log")
        bad[0].meta["format"] = "badport"
        garbage = records(["\x00\x01 not a log line"], source="file:/var/log/garbage.log")
        store = MemoryStore()
        engine = run_engine(config, data_dir, store, [records(LINES) + bad + garbage])
        try:
            assert store.count() == 3
            letters = {d["source"]: d for d in engine.dead_letters.list()}
            assert letters["file:/var/log/garbage.log"]["stage"] == "parse"
            assert "source.port" in letters["file:/var/log/other.log"]["reason"]
            assert letters["file:/var/log/other.log"]["raw"] == LINES[1]
            assert engine.counters.dead_letters == 2
        finally:
            engine.stop()
    finally:
        del PARSERS["badport"]


def test_events_are_normalized_enriched_and_alerted(config: LoadedConfig, data_dir: Path) -> None:
    store = MemoryStore()
    engine = run_engine(config, data_dir, store, [records(LINES)])
    try:
        events = {e["host"]["name"]: e for e in store.search(Query(), size=10).events}
        web = events["web01"]
        assert web["organization"] == {"id": "so-tttt", "name": "Sở Thông tin và Truyền thông"}
        assert web["log"]["offset"] == 0 and web["log"]["file"]["path"] == "/var/log/auth.log"
        assert web["event"]["original"] == LINES[0] and web["ecs"]["version"]
        assert "organization" not in events["db01"]
        assert events["portal01"]["organization"]["id"] == "ubnd-tinh"
        alerts, _ = engine.alerts.list()
        assert [a.rule_title for a in alerts if a.source_ip == "203.0.113.9"], alerts
    finally:
        engine.stop()


def test_replay_after_a_parser_fix_stores_the_record_with_its_original_id(
    config: LoadedConfig, data_dir: Path
) -> None:
    from soc.event import make_event_id
    from soc.pipeline.deadletter import replay_dead_letters

    record = records([LINES[0]], source="file:/var/log/appliance.log")[0]
    record.meta["format"] = "appliance"  # a parser that does not exist yet
    store = MemoryStore()
    engine = run_engine(config, data_dir, store, [[record]])
    try:
        assert store.count() == 0
        (letter,) = engine.dead_letters.list()
        assert letter["parser"] == "appliance" and "appliance" in letter["reason"]

        class ApplianceParser(LinuxAuthParser):  # the fix: the parser now exists
            name = "appliance"

        PARSERS["appliance"] = ApplianceParser
        try:
            result = replay_dead_letters(engine.dead_letters, engine.accept, engine.wait_drained)
        finally:
            del PARSERS["appliance"]
        assert (result.replayed, result.resolved) == (1, 1)
        assert engine.dead_letters.count() == 0
        (event,) = store.search(Query()).events
        assert event["event"]["id"] == make_event_id("file:/var/log/appliance.log", 0, LINES[0].encode())
        assert event["log"]["file"]["path"] == "/var/log/appliance.log"
    finally:
        engine.stop()
