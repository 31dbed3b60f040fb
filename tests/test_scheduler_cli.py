"""``soc rules status [--json]``: from the state store when no engine runs, through the
engine's API (``GET /api/v1/rules/status``) when one does; the same figures in /metrics."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from pathlib import Path

from soc.alerts import AlertRepository
from soc.config import load_config
from soc.pipeline.engine import Engine
from soc.scheduling import RuleScheduler, repository_sink
from soc.state import StateStore
from soc.store import DuckDBStore
from tests.helpers_engine import REPO, run_soc, write_config
from tests.helpers_scheduler import T0, Clock, CountRule, CuttableDuckDB, event


def test_status_from_the_state_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    config = write_config(tmp_path / "soc.yaml")
    assert "usage: soc rules status" in run_soc(["rules", "status", "--help"], data).stdout
    missing = run_soc(["rules", "status", "--json", "--config", str(config)], data, check=False)
    assert missing.returncode == 3 and "no state store" in missing.stderr
    path = tmp_path / "events.duckdb"
    seed = DuckDBStore(path)
    seed.write([event(i, T0 + timedelta(seconds=30 * i)) for i in range(6)])
    seed.close()
    store = CuttableDuckDB(path)
    state = StateStore(data / "state.db")
    clock = Clock(T0 + timedelta(seconds=61))
    scheduler = RuleScheduler(store, state, repository_sink(AlertRepository(state)), now=clock)
    good, bad = CountRule("test.good"), CountRule("test.bad", action="other")
    scheduler.add([good, bad])
    scheduler.run_all()
    clock.advance(minutes=1)
    scheduler.run_rule("test.good")
    store.cut()
    clock.advance(minutes=1)
    scheduler.run_rule("test.bad")
    state.close()
    store.restore()
    store.close()

    proc = run_soc(["rules", "status", "--json", "--config", str(config)], data, check=False)
    assert proc.returncode == 1, proc.stderr  # a failing rule
    doc = json.loads(proc.stdout)
    assert doc["source"] == "state store"
    rows = {r["rule_id"]: r for r in doc["rules"]}
    assert rows["test.good"]["state"] == "catching-up"  # its windows are days behind the real clock
    assert rows["test.good"]["window_start"] == "2026-12-01T00:01:00.000Z"
    assert rows["test.good"]["window_end"] == "2026-12-01T00:02:00.000Z"
    assert rows["test.good"]["hits"] == 4 and rows["test.good"]["alerts"] >= 1
    assert rows["test.good"]["last_duration_ms"] >= 0 and rows["test.good"]["lag_s"] > 0
    assert rows["test.bad"]["state"] == "failing" and rows["test.bad"]["errors"] == 1
    assert "no event store here" in rows["test.bad"]["last_error"]
    text = run_soc(["rules", "status", "--config", str(config), "--rule", "good"], data)
    assert "test.good" in text.stdout and "test.bad" not in text.stdout
    assert "-- 1 scheduled rules" in text.stdout
    none = run_soc(["rules", "status", "--config", str(config), "--rule", "nope"], data, check=False)
    assert none.returncode == 4 and "no scheduled rule id contains 'nope'" in none.stderr


def test_status_through_the_running_engine(tmp_path: Path) -> None:
    # main's engine imports soc.notify only after opening the state store, so its table
    # exists only if something imported it before (the CLI does); do it here too
    import soc.notify  # noqa: F401

    data = tmp_path / "data"
    config = write_config(
        tmp_path / "soc.yaml",
        inputs=[{"type": "syslog", "name": "fw-udp", "protocol": "udp", "port": 0}],
        detection={
            "sigma": {"enabled": False, "mappings": str(REPO / "configs" / "sigma.yaml")},
            "scheduler": {"run_every_s": 1, "buffer_time_s": 1, "query_delay_s": 0,
                          "log_source_health": {"run_every_s": 1, "timeframe_s": 2}},
        },
    )
    engine = Engine(load_config(config), data, api_port=0)
    engine.start()
    try:
        assert engine.scheduler.wait_ready(30)
        proc = run_soc(["rules", "status", "--json", "--config", str(config)], data, check=False)
        doc = json.loads(proc.stdout)
        assert doc["source"] == "engine"
        assert [r["rule_id"] for r in doc["rules"]] == ["soc.health.silent:fw-udp"]
        assert doc["rules"][0]["title"] == "Log source silent / Nguồn log im lặng"
        token = (data / "api.token").read_text().strip()
        req = urllib.request.Request(
            engine.api_url + "/api/v1/rules/status", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["rules"][0]["rule_id"] == "soc.health.silent:fw-udp"
        with urllib.request.urlopen(engine.api_url + "/metrics", timeout=10) as resp:
            body = resp.read().decode()
        assert "soc_rule_runs_total" in body and "soc_rule_lag_seconds" in body
        with urllib.request.urlopen(engine.api_url + "/healthz", timeout=10) as resp:
            facts = json.loads(resp.read())["scheduler"]
        assert facts["rules"] == 1 and facts["failing"] == [] and facts["store_down_since"] is None
    finally:
        engine.stop()


def test_status_route_without_and_with_a_scheduler(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from soc.api import ApiContext, create_app
    from soc.metrics import Metrics
    from soc.scheduling import RunLog
    from soc.scheduling.status import rule_status
    from soc.store import MemoryStore

    state = StateStore(tmp_path / "state.db")
    base = {"store": MemoryStore(), "alerts": AlertRepository(state), "metrics": Metrics(), "token": "t" * 32}
    auth = {"Authorization": "Bearer " + "t" * 32}
    without = TestClient(create_app(ApiContext(**base)))
    assert without.get("/api/v1/rules/status", headers=auth).status_code == 503
    RuleScheduler(MemoryStore(), state, lambda m: 0).add([CountRule("test.api")])
    app = create_app(ApiContext(**base, rule_status=lambda: rule_status(RunLog(state))))
    client = TestClient(app)
    assert client.get("/api/v1/rules/status").status_code == 401
    rows = client.get("/api/v1/rules/status", headers=auth).json()["rules"]
    assert rows[0]["rule_id"] == "test.api" and rows[0]["state"] == "pending" and rows[0]["lag_s"] is None
    state.close()
