"""`soc alerts ack|assign|comment|close|reopen|escalate|suppress|...` on a real state
store: exit codes, --json, id prefixes, and the actor in the audit log."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from detectors.base import Match
from soc.alerts import AlertRepository
from soc.audit import AuditLog
from soc.cli.main import main
from soc.event import parse_ts
from soc.pipeline.engine import DataDir
from soc.state import StateStore
from soc.store import open_store
from tests.helpers_api import make_event, make_rule, record_alert


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, list[str]]:
    data = tmp_path / "data"
    state = StateStore(DataDir(data).state)
    repo = AlertRepository(state)
    events = [make_event(i, source_ip=f"198.51.100.{i}") for i in range(3)]
    ids = [record_alert(repo, [ev]).alert.id for ev in events]
    state.close()
    store = open_store("duckdb", data)
    store.write(events)
    store.close()
    return data, ids


def soc(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, dict]:
    code = main(["alerts", *args, "--data-dir", str(data), "--json"])
    out = capsys.readouterr().out
    return code, orjson.loads(out) if out.strip() else {}


def test_ack_assign_comment_close_reopen(
    seeded: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, ids = seeded
    a = ids[0]
    code, out = soc(capsys, data, "ack", a[:10], "--as", "lan")
    assert code == 0 and out["results"] == [{"id": a, "ok": True, "code": None, "error": None}]
    assert soc(capsys, data, "assign", a, "--to", "minh", "--as", "lan")[0] == 0
    assert soc(capsys, data, "comment", a, "-m", "Kiểm tra máy chủ web01", "--as", "lan")[0] == 0
    assert soc(capsys, data, "close", a, "--resolution", "benign", "--as", "lan")[0] == 0
    code, out = soc(capsys, data, "ack", a, "--as", "lan")
    assert code == 1 and "cannot go from closed to acknowledged" in out["results"][0]["error"]
    assert (
        soc(capsys, data, "reopen", a, "--reason", "seen again", "--to", "in_progress", "--as", "lan")[0] == 0
    )
    with pytest.raises(SystemExit) as usage:  # --reason is required
        main(["alerts", "reopen", a, "--data-dir", str(data)])
    assert usage.value.code == 2
    capsys.readouterr()
    code, shown = soc(capsys, data, "show", a)
    assert code == 0 and shown["status"] == "in_progress" and shown["assignee"] == "minh"
    assert [c["body"] for c in shown["comments"]] == ["Kiểm tra máy chủ web01", "seen again"]
    state = StateStore(DataDir(data).state)
    entries = AuditLog(state).entries(target_id=a)
    assert [e.action for e in entries] == [
        "alert.status",
        "alert.assign",
        "alert.comment",
        "alert.status",
        "alert.reopen",
    ]
    assert {e.actor for e in entries} == {"lan"} and entries[0].source.startswith("cli:")
    assert AuditLog(state).verify().ok
    state.close()


def test_many_ids_partial_failure_and_not_found(
    seeded: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, ids = seeded
    code, out = soc(capsys, data, "escalate", ids[1], "nonexistent-id", ids[2], "--reason", "ransomware")
    assert code == 1 and (out["ok"], out["failed"]) == (2, 1)
    assert out["results"][1] == {
        "id": "nonexistent-id",
        "ok": False,
        "code": "not_found",
        "error": "no alert 'nonexistent-id'",
    }
    assert soc(capsys, data, "ack", "ffffffffffff")[0] == 4


def test_list_filters_and_show_human(
    seeded: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, ids = seeded
    soc(capsys, data, "assign", ids[2], "--to", "minh")
    code, out = soc(capsys, data, "list", "--assignee", "minh", "--sort", "risk")
    assert code == 0 and [a["id"] for a in out["alerts"]] == [ids[2]]
    code, out = soc(capsys, data, "list", "--assignee", "-", "--incident-type", "unauthorized_access")
    assert sorted(a["id"] for a in out["alerts"]) == sorted(ids[:2])
    assert main(["alerts", "list", "--status", "open", "--data-dir", str(data)]) == 2
    capsys.readouterr()
    assert main(["alerts", "show", ids[0], "--data-dir", str(data)]) == 0
    text = capsys.readouterr().out
    assert (
        "Tấn công truy cập trái phép, chiếm quyền điều khiển" in text and "risk:" in text and "T1110" in text
    )


def test_suppress_list_unsuppress(seeded: tuple[Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    data, _ = seeded
    code, created = soc(
        capsys,
        data,
        "suppress",
        "--rule",
        "r-ssh-bf",
        "--where",
        "ip=198.51.100.0/24",
        "--reason",
        "scanner",
        "--expires",
        "7d",
        "--as",
        "lan",
    )
    assert code == 0 and created["conditions"] == {"ip": "198.51.100.0/24"} and created["creator"] == "lan"
    state = StateStore(DataDir(data).state)
    repo = AlertRepository(state)
    ev = make_event(50, source_ip="198.51.100.77")
    assert repo.record(Match(rule=make_rule(), events=[ev], timestamp=parse_ts(ev["@timestamp"]))) is None
    state.close()
    code, listed = soc(capsys, data, "suppressions")
    assert code == 0 and listed["suppressions"][0]["hits"] == 1
    assert main(["alerts", "suppress", "--where", "ip", "--reason", "x", "--data-dir", str(data)]) == 2
    assert (
        main(
            [
                "alerts",
                "suppress",
                "--rule",
                "r",
                "--reason",
                "x",
                "--expires",
                "later",
                "--data-dir",
                str(data),
            ]
        )
        == 2
    )
    capsys.readouterr()
    assert soc(capsys, data, "unsuppress", created["id"], "--as", "minh")[0] == 0
    assert main(["alerts", "unsuppress", created["id"], "--data-dir", str(data)]) == 4
    code, listed = soc(capsys, data, "suppressions")
    assert listed["suppressions"] == []


@pytest.mark.parametrize(
    "command",
    [
        ["alerts", name]
        for name in (
            "list", "show", "ack", "start", "assign", "comment", "close", "reopen", "escalate", "tag",
            "incident-type", "suppress", "suppressions", "unsuppress",
        )
    ]
    + [["assets", name] for name in ("import", "list", "systems", "unknown")],
)  # fmt: skip
def test_commands_have_help_and_json(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith(f"usage: soc {' '.join(command)}") and "--json" in out
