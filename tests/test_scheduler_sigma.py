"""Sigma rules in scheduled query mode give the streaming detector's answers on the same
events: the repository's Linux rules over parsed auth lines, window by window, on the
embedded store (SQL) and the in-memory store (scan); the engine runs them from the config."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.base import Match
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config as load_sigma_config
from detectors.sigma.query.scheduled import load_scheduled_sigma
from soc.alerts import AlertFilter
from soc.config import ConfigError, load_config
from soc.event import RawRecord, format_ts, get_field
from soc.pipeline.engine import Engine
from soc.pipeline.processor import ParserSet, Processor
from soc.scheduling import RuleScheduler, RunLog
from soc.scheduling.windows import align_down
from soc.state import StateStore
from soc.store import DuckDBStore, MemoryStore
from tests.helpers_engine import write_config
from tests.helpers_scheduler import Clock

REPO = Path(__file__).resolve().parents[1]
RULES = [REPO / "rules" / "linux"]
SIGMA_CONFIG = load_sigma_config(REPO / "configs" / "sigma.yaml")
START = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=10)

LINES = [
    "sshd[100]: Invalid user admin from 203.0.113.7 port 4022",
    "sshd[101]: Failed password for invalid user admin from 203.0.113.7 port 4022 ssh2",
    "sshd[102]: Accepted password for root from 203.0.113.7 port 4023 ssh2",
    "sudo: bob : TTY=pts/0 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/bash",
    "useradd[200]: new user: name=backdoor, UID=1001, GID=1001, home=/home/backdoor, shell=/bin/bash",
    "sudo: eve : TTY=pts/1 ; PWD=/home/eve ; USER=root ; COMMAND=/usr/bin/journalctl --vacuum-time=1s",
    "sshd[103]: Accepted publickey for alice from 10.10.0.5 port 5000 ssh2",
    "sshd[104]: Failed password for root from 198.51.100.9 port 6000 ssh2",
]


def parsed_events() -> tuple[list[dict[str, Any]], list[Match]]:
    """Auth lines (3 a second for 40 s) parsed as the pipeline does, and the streaming
    detector's matches on them."""
    records = []
    for i in range(120):
        at = START + timedelta(seconds=i / 3)
        line = f"{at:%b %d %H:%M:%S} srv{i % 4:02d} {LINES[i % len(LINES)]}"
        records.append(
            RawRecord(
                line.encode(),
                "file:/var/log/auth.log",
                i * 200,
                received=at,
                meta={"input": "file", "path": "/var/log/auth.log", "timezone": "UTC"},
            )
        )
    streaming = SigmaDetector(RULES, config=SIGMA_CONFIG)
    result = Processor(ParserSet(timezone="UTC"), detectors=[streaming], keep_original=True).process(records)
    assert not result.dead_letters
    return result.events, result.matches


def pairs(matches: list[Match]) -> set[tuple[str, str]]:
    return {(m.rule.id, str(get_field(m.events[0], "event.id"))) for m in matches if m.events}


def scheduled_matches(store: Any, tmp_path: Path) -> tuple[list[Match], RunLog]:
    rules, errors = load_scheduled_sigma(
        RULES, SIGMA_CONFIG, store, run_every=WINDOW, buffer_time=WINDOW, query_delay=timedelta(seconds=2)
    )
    assert all("correlation" in e.reason for e in errors), errors
    got: list[Match] = []

    def sink(matches: Any) -> int:
        got.extend(matches)
        return len(matches)

    state = StateStore(tmp_path / f"state-{type(store).__name__}.db")
    clock = Clock(START + WINDOW + timedelta(seconds=2))  # the first window is [START, START+10s)
    scheduler = RuleScheduler(store, state, sink, now=clock)
    scheduler.add(rules)
    for _ in range(5):
        scheduler.run_all()
        clock.advance(seconds=10)
    return got, RunLog(state)


def test_scheduled_sigma_equals_streaming_on_duckdb_and_memory(tmp_path: Path) -> None:
    events, streaming = parsed_events()
    expected = pairs([m for m in streaming if m.rule.type == "sigma"])
    assert len({rule for rule, _ in expected}) >= 3, expected  # several rules fire
    duck = DuckDBStore(tmp_path / "events.duckdb")
    memory = MemoryStore()
    for store in (duck, memory):
        store.write(events)
        got, runlog = scheduled_matches(store, tmp_path)
        assert pairs(got) == expected, type(store).__name__
        assert len(got) == len(expected)  # each event once: windows never overlap
        rows = runlog.schedule_rows()
        assert all(r["window_end"] == "2026-11-27T03:00:50.000Z" for r in rows)
    duck.close()


def test_engine_runs_sigma_rules_scheduled_from_config(tmp_path: Path) -> None:
    """``detection.sigma.mode: scheduled``: no streaming detector; the scheduler loads the
    rules, runs them on APScheduler, records their windows, and the alerts arrive through the
    engine's alert path. New rules start with the newest complete window, so the events are
    moved into it."""
    events, streaming = parsed_events()
    block = timedelta(minutes=5)  # the rules' window length
    now = datetime.now(UTC)
    if align_down(now + timedelta(seconds=60), block) != align_down(now, block):
        time.sleep((align_down(now, block) + block - now).total_seconds() + 1)  # a margin of 60 s
        now = datetime.now(UTC)
    minute = align_down(now, block) - block  # the newest complete window when the rules first run
    for i, event in enumerate(events):
        event["@timestamp"] = format_ts(minute + timedelta(seconds=i / 3))
    config = write_config(
        tmp_path / "soc.yaml",
        detection={
            "sigma": {
                "paths": [str(RULES[0])],
                "mappings": str(REPO / "configs" / "sigma.yaml"),
                "mode": "scheduled",
            },
            "scheduler": {"run_every_s": 1, "buffer_time_s": 300, "query_delay_s": 0},
        },
    )
    seed = DuckDBStore(tmp_path / "data" / "events.duckdb")  # stored before the rules' first window
    seed.write(events)
    seed.close()
    engine = Engine(load_config(config), tmp_path / "data", serve_api=False)
    engine.start()
    wanted = {m.rule.id for m in streaming if m.rule.type == "sigma" and m.rule.severity != "informational"}
    try:
        assert [d.name for d in engine.detectors if d.name == "sigma"] == []  # not at ingest
        assert engine.scheduler is not None and engine.scheduler.wait_ready(30)
        assert len(engine.scheduler.rules) >= 5
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if {a.rule_id for a in engine.alerts.list(AlertFilter(), limit=500)[0]} >= wanted:
                break
            time.sleep(0.2)
        assert {a.rule_id for a in engine.alerts.list(AlertFilter(), limit=500)[0]} >= wanted
        assert "eec1d094-db7f-467f-b065-66c2d3d5c411" not in wanted  # informational: no alert
        status = engine.rule_status()
        assert len(status) == len(engine.scheduler.rules)
        assert all(r["errors"] == 0 and r["runs"] >= 1 for r in status)
        assert {r["window_end"] for r in status} == {format_ts(minute + block)}
    finally:
        engine.stop()


def test_per_rule_schedule_attribute(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    folder.mkdir()
    head = (
        "logsource: {product: linux, service: sshd}\n"
        "detection:\n  sel: {process.name: sshd}\n  condition: sel\n"
    )
    (folder / "own.yml").write_text(
        f"title: own timing\nid: 11111111-0000-4000-8000-000000000001\n{head}"
        "schedule: {run_every: 5m, buffer_time: 300, query_delay: 30s}\n"
    )
    (folder / "bad.yml").write_text(
        f"title: bad timing\nid: 11111111-0000-4000-8000-000000000002\n{head}schedule: {{run_every: soon}}\n"
    )
    (folder / "plain.yml").write_text(f"title: defaults\nid: 11111111-0000-4000-8000-000000000003\n{head}")
    rules, errors = load_scheduled_sigma(
        [folder], SIGMA_CONFIG, MemoryStore(), run_every=WINDOW, buffer_time=WINDOW, query_delay=timedelta(0)
    )
    by_title = {r.rule.title: r for r in rules}
    own, plain = by_title["own timing"], by_title["defaults"]
    assert (own.run_every, own.buffer_time, own.query_delay) == (
        timedelta(minutes=5),
        timedelta(minutes=5),
        timedelta(seconds=30),
    )
    assert (plain.run_every, plain.buffer_time, plain.query_delay) == (WINDOW, WINDOW, timedelta(0))
    assert len(errors) == 1 and errors[0].rule_id == "11111111-0000-4000-8000-000000000002"
    assert "schedule.run_every: not a duration" in errors[0].reason and errors[0].path.endswith("bad.yml")


def test_scheduled_sigma_without_the_scheduler_is_refused(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "soc.yaml", detection={"sigma": {"mode": "scheduled"}, "scheduler": {"enabled": False}}
    )
    with pytest.raises(ConfigError, match=r"detection: .*need scheduler\.enabled: true"):
        load_config(config)


def test_engine_runs_scheduled_stateful_rules(tmp_path: Path) -> None:
    """A stateful rule with ``mode: scheduled`` is not run at ingest: the engine hands it
    to the scheduler, which finds the brute force in the stored window and raises one alert."""
    rules = tmp_path / "stateful"
    rules.mkdir()
    source = (REPO / "rules" / "stateful" / "ssh_brute_force.yml").read_text(encoding="utf-8")
    (rules / "ssh_brute_force.yml").write_text(
        source + "mode: scheduled\nrun_every: {seconds: 1}\nbuffer_time: {minutes: 5}\n", encoding="utf-8"
    )
    block = timedelta(minutes=5)
    now = datetime.now(UTC)
    if align_down(now + timedelta(seconds=60), block) != align_down(now, block):
        time.sleep((align_down(now, block) + block - now).total_seconds() + 1)
        now = datetime.now(UTC)
    window = align_down(now, block) - block  # the newest complete window when the rule first runs
    events = [
        {
            "@timestamp": format_ts(window + timedelta(seconds=10 * i)),
            "event": {
                "id": f"bf-{i}",
                "action": "ssh_login",
                "outcome": "failure",
                "category": ["authentication"],
            },
            "source": {"ip": "203.0.113.77"},
            "host": {"name": "portal01"},
            "message": f"Failed password for root from 203.0.113.77 port {40000 + i} ssh2",
        }
        for i in range(12)
    ]
    seed = DuckDBStore(tmp_path / "data" / "events.duckdb")
    seed.write(events)
    seed.close()
    config = write_config(
        tmp_path / "soc.yaml",
        detection={
            "sigma": {"enabled": False},
            "stateful": {"paths": [str(rules)]},
            "scheduler": {
                "run_every_s": 1,
                "buffer_time_s": 300,
                "query_delay_s": 0,
                "log_source_health": {"enabled": False},
            },
        },
    )
    engine = Engine(load_config(config), tmp_path / "data", serve_api=False)
    engine.start()
    rule_id = "0812403a-810b-40a0-9171-46f9b3b7187e"
    try:
        assert engine.scheduler is not None and engine.scheduler.wait_ready(30)
        assert rule_id in {r.rule.id for r in engine.scheduler.rules}
        stateful = [d for d in engine.detectors if d.name == "stateful"]
        assert stateful and not stateful[0].observe(events[0])  # not run at ingest
        deadline = time.monotonic() + 20
        alerts: list[Any] = []
        while time.monotonic() < deadline:
            alerts = [a for a in engine.alerts.list(AlertFilter(), limit=50)[0] if a.rule_id == rule_id]
            if alerts:
                break
            time.sleep(0.2)
        assert len(alerts) == 1 and alerts[0].source_ip == "203.0.113.77"
    finally:
        engine.stop()
