"""Log-source health: flatline rules for every configured input and every device seen from
it fire for a silent source or device and not for a live one; they run in the scheduler and
their state survives a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from detectors.health import LogSource, LogSourceSilentRule
from soc.alerts import AlertFilter, AlertRepository
from soc.config import SocConfig
from soc.scheduling import RuleScheduler, repository_sink
from soc.scheduling.health import log_source_rules, source_of
from soc.state import StateStore
from soc.store import DuckDBStore, FieldFilter
from tests.helpers_scheduler import T0, Clock, event

SETTINGS = SocConfig.model_validate(
    {
        "inputs": [
            {"type": "syslog", "name": "fw-udp", "protocol": "udp"},
            {"type": "syslog", "name": "fw-tcp", "protocol": "tcp"},
            {"type": "file", "name": "auth", "paths": ["/var/log/auth.log"]},
        ],
        "agencies": [{"id": "so-tttt", "name": "Sở Thông tin và Truyền thông", "hosts": ["fw02"]}],
        "detection": {"scheduler": {"log_source_health": {"timeframe_s": 1800, "run_every_s": 300}}},
    }
)


def syslog_event(n: int, minutes: float, device: str) -> dict:
    return event(n, T0 + timedelta(minutes=minutes), action="deny",
                 input__type="syslog-udp", observer__hostname=device)


def test_sources_and_filters() -> None:
    udp, tcp, auth = (source_of(i) for i in SETTINGS.inputs)
    assert udp.filters == (FieldFilter("input.type", "eq", "syslog-udp"),)
    assert tcp.device_field == "observer.hostname"
    assert auth.filters[1] == FieldFilter("log.file.path", "in", ["/var/log/auth.log"])
    assert auth.device_field == "host.name"


def test_silent_source_and_device_alert_live_ones_do_not(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    # fw01 speaks every 5 minutes for 3 hours; fw02 stops after 2 hours
    events = [syslog_event(i, 5 * i, "fw01") for i in range(36)]
    events += [syslog_event(100 + i, 5 * i + 1, "fw02") for i in range(24)]
    events += [event(500 + i, T0 + timedelta(minutes=10 * i), action="login", input__type="file",
                     log__file__path="/var/log/auth.log", host__name="web01") for i in range(18)]
    store.write(events)
    now = Clock(T0 + timedelta(hours=2))
    health = SETTINGS.detection.scheduler.log_source_health
    rules = log_source_rules(SETTINGS.inputs, store, health, agencies=SETTINGS.agencies,
                             query_delay=timedelta(0), now=now())
    ids = sorted(r.rule.id for r in rules)
    assert ids == [
        "soc.health.silent:auth", "soc.health.silent:auth:web01", "soc.health.silent:fw-tcp",
        "soc.health.silent:fw-udp", "soc.health.silent:fw-udp:fw01", "soc.health.silent:fw-udp:fw02",
    ]
    state = StateStore(tmp_path / "state.db")
    alerts = AlertRepository(state)
    scheduler = RuleScheduler(store, state, repository_sink(alerts), now=now)
    scheduler.add(rules)
    scheduler.run_all()  # [1:55, 2:00) and the 25 minutes before it: fw-tcp never spoke
    devices = [r for r in rules if r.source.device and r.source.name == "fw-udp"]
    assert devices[0].counts is devices[1].counts and devices[0].counts.queries == 2  # seed + window
    assert [a.rule_id for a in alerts.list(limit=50)[0]] == ["soc.health.silent:fw-tcp"]
    for _ in range(12):  # one more hour, window by window: fw02 falls silent
        now.advance(minutes=5)
        scheduler.run_all()
    fired = {a.rule_id: a for a in alerts.list(limit=50)[0]}
    assert sorted(fired) == ["soc.health.silent:fw-tcp", "soc.health.silent:fw-udp:fw02"]
    fw02 = fired["soc.health.silent:fw-udp:fw02"]
    assert fw02.rule_title == "Log source silent / Nguồn log im lặng"
    assert fw02.severity == "high" and fw02.host == "fw02"
    assert fw02.details["agency_id"] == "so-tttt" and fw02.details["source"] == "fw-udp"
    assert fw02.details["last_event"] == "2026-12-01T01:56:00.000Z"
    assert alerts.get(fw02.id).evidence == ["ev000123"]  # the last event the device sent
    assert fired["soc.health.silent:fw-tcp"].details["last_event"] is None
    # later runs do not raise the same silence again
    now.advance(minutes=10)
    scheduler.run_all()
    assert len(alerts.list(limit=50)[0]) == 2
    state.close()
    store.close()


def test_a_device_coming_back_and_falling_silent_again(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    state = StateStore(tmp_path / "state.db")
    alerts = AlertRepository(state, dedup_window=timedelta(0))
    clock = Clock(T0 + timedelta(minutes=31))
    udp = (FieldFilter("input.type", "eq", "syslog-udp"),)
    source = LogSource("fw-udp", udp, "observer.hostname", "fw09")
    rule = LogSourceSilentRule(source, timeframe=timedelta(minutes=30), run_every=timedelta(minutes=5),
                               query_delay=timedelta(0))
    scheduler = RuleScheduler(store, state, repository_sink(alerts), now=clock)
    scheduler.add([rule])
    scheduler.run_all()  # window [25m, 30m) plus the 25 minutes before it: silent
    assert len(alerts.list(AlertFilter(rule_id=rule.rule.id))[0]) == 1
    store.write([syslog_event(1, 36, "fw09")])
    clock.advance(minutes=10)
    scheduler.run_all()  # it spoke: no alert, armed again
    assert rule.snapshot()["alerted"] is False
    clock.advance(minutes=40)
    state.close()  # restart in the middle
    state = StateStore(tmp_path / "state.db")
    alerts = AlertRepository(state, dedup_window=timedelta(0))
    again = LogSourceSilentRule(source, timeframe=timedelta(minutes=30), run_every=timedelta(minutes=5),
                                query_delay=timedelta(0))
    scheduler = RuleScheduler(store, state, repository_sink(alerts), now=clock)
    scheduler.add([again])
    scheduler.run_all()
    found = alerts.list(AlertFilter(rule_id=rule.rule.id))[0]
    assert len(found) == 2 and alerts.get(found[0].id).evidence == ["ev000001"]
    state.close()
    store.close()
