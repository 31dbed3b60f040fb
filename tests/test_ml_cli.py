"""``soc ml train|score|status|evaluate --json`` over a real DuckDB data directory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.ml.synthetic import BenignGenerator
from soc.cli.main import main
from soc.event import format_ts
from soc.store import DuckDBStore
from tests.helpers_ml import auth

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
END = T0 + timedelta(hours=12)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    store = DuckDBStore(tmp_path / "events.duckdb")
    for batch in BenignGenerator(seed=5, hosts=5, users=5, rate=0.3).hours(T0, 12):
        store.write(batch)
    store.write(
        [auth(END + timedelta(seconds=i), f"u{i % 9}", "45.9.20.1", ok=False, n=i) for i in range(30)]
    )
    store.close()
    monkeypatch.setenv("SOC__DETECTION__ML__BASELINE_WINDOWS", "72")
    monkeypatch.setenv("SOC__DETECTION__ML__MIN_BASELINE_WINDOWS", "60")
    monkeypatch.setenv("SOC__DETECTION__ML__DETECTORS", "[bruteforce_source, scan, anomaly_source]")
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_train_status_score_evaluate(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ["--data-dir", str(data), "--json"]
    code, trained = _run(capsys, "ml", "train", *d, "--until", format_ts(END))
    assert code == 0
    assert {m["detector"] for m in trained["models"]} == {"bruteforce_source", "scan", "anomaly_source"}
    assert all(
        m["version"] == 1 and m["baseline_windows"] == 72 and not m["cold_start"] for m in trained["models"]
    )

    code, status = _run(capsys, "ml", "status", *d)
    assert code == 0
    rows = {r["detector"]: r for r in status["detectors"]}
    assert rows["scan"]["state"] == "active" and rows["scan"]["features"][0] == "failed_dst_ports"
    assert rows["bruteforce_source"]["train_end"].startswith("2026-03-02T12:00:00")

    until = format_ts(END + timedelta(minutes=10))
    code, scored = _run(capsys, "ml", "score", *d, "--since", format_ts(END), "--until", until)
    assert code == 0 and scored["windows"] == 1
    brute = [f for f in scored["findings"] if f["rule_id"] == "ml.bruteforce_source"]
    assert [f["entity"] for f in brute] == ["45.9.20.1"]
    assert brute[0]["events"] == 20 and brute[0]["explanation"]["vi"]
    assert scored["alerts_created"] >= 1

    code, evaluated = _run(capsys, "ml", "evaluate", *d, "--since", format_ts(END), "--until", until,
                           "--positive", "45.9.20.1")  # fmt: skip
    assert code == 0
    rows = {r["detector"]: r for r in evaluated["detectors"]}
    assert rows["bruteforce_source"]["recall"] == 1.0 and rows["bruteforce_source"]["positives"] == 1


def test_cold_status_and_bad_arguments(data: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("SOC__DETECTION__ML__MIN_BASELINE_WINDOWS", "500")
    d = ["--data-dir", str(data), "--json"]
    assert _run(capsys, "ml", "train", *d, "--until", format_ts(END))[0] == 0
    _, status = _run(capsys, "ml", "status", *d)
    assert {r["state"] for r in status["detectors"]} == {"cold_start"}
    assert "72 of 500 windows" in status["detectors"][0]["reason"]
    code, scored = _run(capsys, "ml", "score", *d, "--since", format_ts(END),
                        "--until", format_ts(END + timedelta(minutes=10)))  # fmt: skip
    assert code == 0 and scored["findings"] == [] and "cold start" in scored["cold"]["bruteforce_source"]
    assert main(["ml", "score", *d, "--detectors", "nope"]) == 2
    assert main(["ml", "train", "--data-dir", str(data / "empty"), "--json"]) == 3


@pytest.mark.parametrize(
    "command", [["ml"], ["ml", "train"], ["ml", "score"], ["ml", "status"], ["ml", "evaluate"]]
)
def test_ml_commands_have_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: soc ml" in capsys.readouterr().out
