"""The hash-chained audit log: appends, refuses in-place edits, and `soc audit verify`
detects an edited, a removed and a reordered entry."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from soc.audit import AuditLog
from soc.pipeline.engine import DataDir
from soc.state import StateStore


def _fill(data_dir: Path, n: int = 5) -> None:
    state = StateStore(DataDir(data_dir).state)
    log = AuditLog(state)
    for i in range(n):
        log.record(
            actor="lan.nguyen",
            role="soc_analyst",
            source="10.10.0.5",
            action="alert.status",
            target_type="alert",
            target_id=f"a{i}",
            before={"status": "new"},
            after={"status": "acknowledged"},
        )
    state.close()


def _soc(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "soc.cli.main", "audit", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _tamper(data_dir: Path, *statements: str) -> None:
    conn = sqlite3.connect(DataDir(data_dir).state)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_chain_links_entries_and_keeps_values(tmp_path: Path) -> None:
    _fill(tmp_path, 3)
    state = StateStore(DataDir(tmp_path).state)
    entries = AuditLog(state).entries()
    assert [e.target_id for e in entries] == ["a0", "a1", "a2"]
    assert entries[0].prev_hash == "0" * 64
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash
    assert entries[2].before == {"status": "new"} and entries[2].after == {"status": "acknowledged"}
    assert AuditLog(state).verify().ok
    state.close()


def test_engine_refuses_update_and_delete(tmp_path: Path) -> None:
    _fill(tmp_path, 1)
    state = StateStore(DataDir(tmp_path).state)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), state.transaction() as conn:
        conn.execute("UPDATE audit_log SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), state.transaction() as conn:
        conn.execute("DELETE FROM audit_log")
    assert AuditLog(state).entries()[0].actor == "lan.nguyen"
    state.close()


def test_verify_cli_intact(tmp_path: Path) -> None:
    _fill(tmp_path)
    done = _soc(tmp_path, "verify", "--json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout) == {"ok": True, "entries": 5, "broken_seq": None, "reason": None}


@pytest.mark.parametrize(
    ("statements", "broken_seq", "reason"),
    [
        (['UPDATE audit_log SET after = \'{"status":"closed"}\' WHERE seq = 3'], 3, "edited"),
        (["DELETE FROM audit_log WHERE seq = 2"], 3, "removed"),
        (
            [
                "UPDATE audit_log SET seq = 100 WHERE seq = 2",
                "UPDATE audit_log SET seq = 2 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = 100",
            ],
            2,
            "reordered",
        ),
    ],
    ids=["edited", "removed", "reordered"],
)
def test_verify_cli_names_the_first_broken_entry(
    tmp_path: Path, statements: list[str], broken_seq: int, reason: str
) -> None:
    _fill(tmp_path)
    _tamper(tmp_path, *statements)
    done = _soc(tmp_path, "verify", "--json")
    assert done.returncode == 1, done.stdout
    result = orjson.loads(done.stdout)
    assert result["ok"] is False and result["broken_seq"] == broken_seq
    assert reason in result["reason"]
    human = _soc(tmp_path, "verify")
    assert human.returncode == 1 and f"TAMPERED at entry {broken_seq}" in human.stdout


def test_list_cli_filters_by_target(tmp_path: Path) -> None:
    _fill(tmp_path, 4)
    done = _soc(tmp_path, "list", "--target-id", "a2", "--json")
    assert done.returncode == 0, done.stderr
    entries = orjson.loads(done.stdout)["entries"]
    assert [(e["seq"], e["actor"], e["source"]) for e in entries] == [(3, "lan.nguyen", "10.10.0.5")]
