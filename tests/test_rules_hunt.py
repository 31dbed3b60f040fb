"""``soc rules hunt`` (directly on a stored DuckDB file) and ``POST /api/v1/rules/hunt``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from soc.alerts import AlertRepository
from soc.api import ApiContext, create_app, routes_rules
from soc.cli.main import build_parser
from soc.cli.rules_cmd import RULES_SUBCOMMANDS, register
from soc.event import Event, format_ts
from soc.metrics import Metrics
from soc.state import StateStore
from soc.store import DuckDBStore, MemoryStore

REPO = Path(__file__).resolve().parents[1]
RULE = REPO / "rules" / "linux" / "ssh_failed_password.yml"
RULE_ID = "f71a9664-2487-4a85-aa2d-3c94c270b53d"
TOKEN = "t" * 32
NOW = datetime.now(UTC)


def sshd_event(n: int, kind: str, user: str = "root") -> Event:
    return {
        "@timestamp": format_ts(NOW - timedelta(hours=n)),
        "event": {"id": f"ev{n:03d}", "dataset": "system.auth"},
        "process": {"name": "sshd"},
        "host": {"name": "web01"},
        "user": {"name": user},
        "source": {"ip": f"10.0.0.{n}"},
        "system": {"auth": {"ssh": {"event": kind, "method": "password"}}},
        "message": f"{kind} password for {user}",
    }


EVENTS = [
    sshd_event(1, "Failed"),
    sshd_event(2, "Accepted"),
    sshd_event(30, "Failed"),
    sshd_event(500, "Failed"),
]


def run_cli(argv: list[str]) -> int:
    parser = build_parser() if _registered() else _own_parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


def _registered() -> bool:
    from soc.cli import main

    return any(getattr(g, "__name__", "").endswith("rules_cmd") for g in main.COMMAND_GROUPS)


def _own_parser() -> Any:
    import argparse

    parser = argparse.ArgumentParser(prog="soc")
    register(parser.add_subparsers(dest="command", required=True))
    return parser


@pytest.fixture
def data_dir_with_events(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    store = DuckDBStore(root / "events.duckdb")
    store.write(EVENTS)
    store.close()
    return root


def test_hunt_by_file_prints_ndjson(data_dir_with_events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(
        ["rules", "hunt", str(RULE), "--since", "7d", "--json", "--data-dir", str(data_dir_with_events)]
    )
    out = capsys.readouterr().out
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["event_id"] for r in rows] == ["ev030", "ev001"]  # 7 days back, oldest first
    assert {r["rule_id"] for r in rows} == {RULE_ID}
    assert rows[0]["host"] == "web01" and rows[0]["user"] == "root" and rows[0]["source_ip"] == "10.0.0.30"


def test_hunt_by_id_prints_a_table(data_dir_with_events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(
        ["rules", "hunt", RULE_ID, "--since", "30d", "--limit", "1", "--data-dir", str(data_dir_with_events)]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "SSH Failed Password Authentication" in out
    assert "ev001" in out and "ev030" not in out  # the newest match only
    assert "+07" in out  # shown in the configured zone (Asia/Ho_Chi_Minh)


def test_unknown_rule_exits_not_found(data_dir_with_events: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_cli(["rules", "hunt", "no-such-rule-id", "--data-dir", str(data_dir_with_events)])
    assert code == 4
    assert "no rule file and no rule with this id" in capsys.readouterr().err


def test_rules_group_is_extensible() -> None:
    assert RULES_SUBCOMMANDS and callable(RULES_SUBCOMMANDS[0])


def test_api_hunt_route(tmp_path: Path) -> None:
    store = MemoryStore()
    store.write(EVENTS)
    state = StateStore(tmp_path / "state.db")
    try:
        ctx = ApiContext(store=store, alerts=AlertRepository(state), metrics=Metrics(), token=TOKEN)
        app: FastAPI = create_app(ctx)
        if not any(getattr(r, "path", "") == "/api/v1/rules/hunt" for r in app.routes):
            app.include_router(routes_rules.router)  # until soc/api/app.py includes it
        client = TestClient(app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        body = {"rules": [str(RULE)], "since": "7d", "limit": 10}
        resp = client.post("/api/v1/rules/hunt", content=orjson.dumps(body), headers=headers)
        assert resp.status_code == 200, resp.text
        data = resp.json()
        assert [m["event_id"] for m in data["matches"]] == ["ev030", "ev001"]
        assert data["mode"] == "scan" and data["rules_run"] == [RULE_ID]
        bad = client.post("/api/v1/rules/hunt", content=b'{"rules": []}', headers=headers)
        assert bad.status_code == 400 and "rules" in bad.json()["detail"]
        assert client.post("/api/v1/rules/hunt", content=orjson.dumps(body)).status_code == 401
    finally:
        state.close()
