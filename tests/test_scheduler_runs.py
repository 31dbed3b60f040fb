"""RuleScheduler on the embedded DuckDB store, driven by a clock the test moves: windows are
consecutive and recorded, a restart resumes after the last committed window, an outage of
the store is caught up in order, the horizon skips loudly, and the dead-man's switch fires."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from pathlib import Path

import pytest

from soc.alerts import AlertFilter, AlertRepository
from soc.metrics import Metrics
from soc.scheduling import RuleScheduler, RunLog, SchedulerError, SelfMonitor, plan_windows, repository_sink
from soc.scheduling.status import rule_status
from soc.scheduling.windows import align_down
from soc.state import StateStore
from soc.store import DuckDBStore
from tests.helpers_scheduler import T0, Clock, CountRule, CuttableDuckDB, event

MINUTE = timedelta(minutes=1)


def make_scheduler(store, state: StateStore, clock: Clock, **kwargs) -> tuple[RuleScheduler, AlertRepository]:
    alerts = AlertRepository(state, dedup_window=timedelta(0))
    sink = repository_sink(alerts)
    kwargs.setdefault("monitor", SelfMonitor(sink, store_unreachable_after=timedelta(minutes=3),
                                             rule_failures=3, hostname="soc-test"))
    return RuleScheduler(store, state, sink, now=clock, **kwargs), alerts


def test_plan_windows_first_then_consecutive_then_horizon() -> None:
    first = plan_windows(None, T0 + timedelta(seconds=150), length=MINUTE, delay=timedelta(seconds=20),
                         horizon=timedelta(hours=1), limit=100)
    assert [(w.start, w.end) for w in first.windows] == [(T0 + MINUTE, T0 + 2 * MINUTE)]
    later = plan_windows(T0 + 2 * MINUTE, T0 + timedelta(minutes=5, seconds=30), length=MINUTE,
                         delay=timedelta(seconds=20), horizon=timedelta(hours=1), limit=100)
    assert [w.start for w in later.windows] == [T0 + 2 * MINUTE, T0 + 3 * MINUTE, T0 + 4 * MINUTE]
    assert later.skipped is None
    old = plan_windows(T0, T0 + timedelta(hours=3), length=MINUTE, delay=timedelta(0),
                       horizon=timedelta(hours=1), limit=1000)
    assert old.skipped is not None and (old.skipped.start, old.skipped.end) == (T0, T0 + timedelta(hours=2))
    assert old.windows[0].start == T0 + timedelta(hours=2) and len(old.windows) == 60
    assert align_down(T0 + timedelta(seconds=59), MINUTE) == T0


def test_windows_are_consecutive_and_recorded(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.write([event(i, T0 + timedelta(seconds=20 * i)) for i in range(30)])  # 10 minutes, 3 a minute
    state = StateStore(tmp_path / "state.db")
    clock = Clock(T0 + timedelta(seconds=65))
    scheduler, alerts = make_scheduler(store, state, clock)
    rule = CountRule()
    scheduler.add([rule])
    scheduler.run_rule(rule.rule.id)  # first run: the newest complete window [T0, T0+1m)
    for _ in range(9):
        clock.advance(minutes=1)
        scheduler.run_rule(rule.rule.id)
    runs = RunLog(state).runs(rule.rule.id)
    assert [r.status for r in runs] == ["ok"] * 10
    assert runs[0].window_start == T0
    for prev, nxt in itertools.pairwise(runs):
        assert nxt.window_start == prev.window_end  # no gap, no overlap
    assert [r.hits for r in runs] == [3] * 10
    assert sum(r.alerts for r in runs) == 30 == len(alerts.list(limit=100)[0])
    assert rule.total == 30
    row = rule_status(RunLog(state), now=clock())[0]
    assert row["state"] == "ok" and row["hits"] == 30 and row["runs"] == 10 and row["errors"] == 0
    assert row["window_end"] == "2026-12-01T00:10:00.000Z" and row["lag_s"] == 5.0
    store.close()
    state.close()


def test_restart_resumes_after_last_committed_window(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.write([event(i, T0 + timedelta(seconds=30 * i)) for i in range(20)])
    clock = Clock(T0 + timedelta(seconds=61))
    state = StateStore(tmp_path / "state.db")
    scheduler, _ = make_scheduler(store, state, clock)
    first = CountRule()
    scheduler.add([first])
    for _ in range(4):
        scheduler.run_rule(first.rule.id)
        clock.advance(minutes=1)
    assert first.total == 8
    state.close()  # the engine stops (or dies) here; 3 more minutes pass
    clock.advance(minutes=3)
    state = StateStore(tmp_path / "state.db")
    scheduler, _ = make_scheduler(store, state, clock)
    second = CountRule()
    scheduler.add([second])
    assert second.total == 8  # state restored from the last committed window
    summary = scheduler.run_rule(second.rule.id)
    assert summary.windows[0].start == T0 + 4 * MINUTE  # resumes exactly where it ended
    assert second.evaluated[0] == (T0 + 4 * MINUTE, T0 + 5 * MINUTE)
    assert len(summary.windows) == 4 and second.total == 16
    runs = RunLog(state).runs(second.rule.id)
    starts = [r.window_start for r in runs]
    assert starts == sorted(set(starts))  # no window evaluated twice
    assert starts == [T0 + i * MINUTE for i in range(8)]
    store.close()
    state.close()


def test_store_outage_is_caught_up_in_order(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    writer = DuckDBStore(path)
    writer.write([event(i, T0 + timedelta(seconds=15 * i)) for i in range(40)])  # 10 minutes, 4 a minute
    writer.close()
    store = CuttableDuckDB(path)
    state = StateStore(tmp_path / "state.db")
    clock = Clock(T0 + timedelta(seconds=61))
    scheduler, alerts = make_scheduler(store, state, clock)
    rule = CountRule()
    scheduler.add([rule])
    scheduler.run_rule(rule.rule.id)
    assert rule.total == 4
    store.cut()  # the store is unreachable for 5 intervals
    for _ in range(5):
        clock.advance(minutes=1)
        summary = scheduler.run_rule(rule.rule.id)
        assert summary.error and "StoreError" in summary.error and not summary.windows
    errors = RunLog(state).runs(rule.rule.id, status="error")
    assert len(errors) == 5 and {r.window_start for r in errors} == {T0 + MINUTE}  # retried, not skipped
    status = rule_status(RunLog(state), now=clock())[0]
    assert status["state"] == "failing" and status["consecutive_failures"] == 5
    assert "no event store here" in status["last_error"]
    engine_alerts = {a.rule_id for a in alerts.list(AlertFilter(min_severity="high"), limit=100)[0]}
    assert {"soc.engine.rule_failing", "soc.engine.store_unreachable"} <= engine_alerts
    assert rule.total == 4  # the failed runs did not leak into the rule's state
    store.restore()
    clock.advance(minutes=4)
    summary = scheduler.run_rule(rule.rule.id)
    assert summary.error is None
    assert [w.start for w in summary.windows] == [T0 + i * MINUTE for i in range(1, 10)]
    ok = RunLog(state).runs(rule.rule.id, status="ok")
    assert [r.window_start for r in ok] == [T0 + i * MINUTE for i in range(10)]
    assert rule.total == 40  # every event of the outage arrived, late but complete
    rule_alerts = alerts.list(AlertFilter(rule_id=rule.rule.id), limit=100)[0]
    assert len(rule_alerts) == 40
    assert rule_status(RunLog(state), now=clock())[0]["state"] == "ok"
    store.close()
    state.close()


def test_windows_beyond_the_horizon_are_skipped_loudly(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    state = StateStore(tmp_path / "state.db")
    clock = Clock(T0 + timedelta(seconds=61))
    scheduler, alerts = make_scheduler(store, state, clock, catchup_horizon=timedelta(minutes=30))
    rule = CountRule()
    scheduler.add([rule])
    scheduler.run_rule(rule.rule.id)
    clock.advance(hours=2)  # down for two hours, horizon 30 minutes
    summary = scheduler.run_rule(rule.rule.id)
    assert summary.skipped is not None
    assert (summary.skipped.start, summary.skipped.end) == (T0 + MINUTE, T0 + timedelta(minutes=91))
    assert len(summary.windows) == 30 and summary.windows[0].start == T0 + timedelta(minutes=91)
    skipped = RunLog(state).runs(rule.rule.id, status="skipped")
    assert len(skipped) == 1 and "catch-up horizon" in (skipped[0].error or "")
    engine = alerts.list(AlertFilter(rule_id="soc.engine.windows_skipped"), limit=10)[0]
    assert len(engine) == 1 and engine[0].severity == "high"
    assert engine[0].details["window_start"] == "2026-12-01T00:01:00.000Z"
    assert rule_status(RunLog(state), now=clock())[0]["skipped"] == 1
    store.close()
    state.close()


def test_metrics_and_bad_rules(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "events.duckdb")
    store.write([event(i, T0 + timedelta(seconds=10 * i)) for i in range(6)])
    state = StateStore(tmp_path / "state.db")
    clock = Clock(T0 + timedelta(seconds=60))
    metrics = Metrics()
    scheduler, _ = make_scheduler(store, state, clock, metrics=metrics)
    rule = CountRule("test.metrics")
    scheduler.add([rule])
    scheduler.run_rule(rule.rule.id)
    body = metrics.render()[0].decode()
    assert 'soc_rule_runs_total{rule="test.metrics",status="ok"} 1.0' in body
    assert 'soc_rule_hits_total{rule="test.metrics"} 6.0' in body
    assert 'soc_rule_run_seconds_count{rule="test.metrics"} 1.0' in body
    assert 'soc_rule_lag_seconds{rule="test.metrics"} 0.0' in body
    bad = CountRule("test.bad")
    bad.buffer_time = timedelta(0)
    with pytest.raises(SchedulerError, match=r"test\.bad: run_every and buffer_time must be positive"):
        scheduler.add([bad])
    store.close()
    state.close()


def test_apscheduler_fires_rules_on_their_interval(tmp_path: Path) -> None:
    """The real clock and APScheduler: 1-second windows, two workers, three rules."""
    store = DuckDBStore(tmp_path / "events.duckdb")
    state = StateStore(tmp_path / "state.db")
    alerts = AlertRepository(state)
    scheduler = RuleScheduler(store, state, repository_sink(alerts), max_workers=2)
    rules = [CountRule(f"test.live{i}", every_s=1) for i in range(3)]
    scheduler.providers.append(lambda _store: rules)
    scheduler.start()
    assert scheduler.wait_ready(10)
    time.sleep(3.6)
    scheduler.stop()
    for rule in rules:
        runs = RunLog(state).runs(rule.rule.id)
        assert len(runs) >= 1 and all(r.status == "ok" for r in runs)
        for prev, nxt in itertools.pairwise(runs):
            assert nxt.window_start == prev.window_end
    assert sum(len(RunLog(state).runs(r.rule.id)) for r in rules) >= 5
    store.close()
    state.close()


def test_probe_raises_store_unreachable_once_per_outage(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    DuckDBStore(path).close()
    store = CuttableDuckDB(path)
    state = StateStore(tmp_path / "state.db")
    alerts = AlertRepository(state, dedup_window=timedelta(0))
    monitor = SelfMonitor(repository_sink(alerts), store_unreachable_after=timedelta(minutes=5), hostname="h")
    clock = Clock(T0)
    assert monitor.probe(store, clock())
    store.cut()
    for _ in range(12):  # probed every 30 s for 6 minutes
        assert not monitor.probe(store, clock.advance(seconds=30))
    raised = alerts.list(AlertFilter(rule_id="soc.engine.store_unreachable"))[0]
    assert len(raised) == 1 and raised[0].details["down_since"] == "2026-12-01T00:00:30.000Z"
    assert "no event store here" in raised[0].details["error"]
    store.restore()
    assert monitor.probe(store, clock.advance(seconds=30)) and monitor.store_down_since is None
    store.close()
    state.close()
