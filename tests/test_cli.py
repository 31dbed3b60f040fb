"""The CLI without a running engine: demo, ingest (idempotent), parse, search,
alerts, config check; --help and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers_engine import auth_lines, run_soc, write_config


def test_demo_json_prints_brute_force_alert_with_entities(data_dir: Path) -> None:
    out = run_soc(["demo", "--json"], data_dir)
    result = json.loads(out.stdout)
    assert result["dead_letters"] == 0
    assert result["events_stored"] >= result["lines"] > 300
    alerts = result["alerts"]
    assert alerts, "the demo must raise alerts"
    for alert in alerts:
        assert alert["rule_title"] and alert["severity"] in ("low", "medium", "high", "critical")
    brute = [a for a in alerts if "brute" in a["rule_title"].lower()]
    assert brute, [a["rule_title"] for a in alerts]
    assert any(
        a["source_ip"] == result["attacker_ip"] and a["host"] == result["target_host"] and a["user"]
        for a in brute
    )
    assert any(a["severity"] == "critical" and a["source_ip"] == result["attacker_ip"] for a in alerts), (
        "a successful login after the brute force must be critical"
    )


def test_ingest_twice_stores_each_line_once_then_search_and_alerts(tmp_path: Path, data_dir: Path) -> None:
    log = tmp_path / "auth.log"
    lines = auth_lines(3000)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config(tmp_path / "soc.yaml")
    first = json.loads(run_soc(["ingest", str(log), "--config", str(config), "--json"], data_dir).stdout)
    assert first["stored"] == 3000 and first["duplicates"] == 0
    second = json.loads(run_soc(["ingest", str(log), "--config", str(config), "--json"], data_dir).stdout)
    assert second["stored"] == 0 and second["duplicates"] == 3000
    count = run_soc(["search", "--count", "--config", str(config)], data_dir)
    assert count.stdout.strip() == "3000"
    failures = json.loads(
        run_soc(
            ["search", "event.outcome:failure", "--count", "--json", "--config", str(config)], data_dir
        ).stdout
    )
    assert failures == {"count": sum(1 for i in range(3000) if i % 3 == 1)}
    page = json.loads(
        run_soc(
            ["search", "process.name:sudo", "--size", "5", "--json", "--config", str(config)], data_dir
        ).stdout
    )
    assert len(page["events"]) == 5 and all(e["process"]["name"] == "sudo" for e in page["events"])
    assert all(e["log"]["file"]["path"] == str(log) for e in page["events"])


def test_parse_prints_ndjson_with_offsets(tmp_path: Path, data_dir: Path) -> None:
    log = tmp_path / "auth.log"
    lines = [*auth_lines(10), "this is not syslog at all"]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = run_soc(["parse", str(log)], data_dir, check=False)
    assert out.returncode == 1  # one line could not be parsed
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(events) == 10
    offsets = [0]
    for line in lines[:-1]:
        offsets.append(offsets[-1] + len(line.encode()) + 1)
    assert [e["log"]["offset"] for e in events] == offsets[:10]
    assert "linux_auth" in out.stderr
    assert f"offset {offsets[10]}" in out.stderr


def test_search_and_alerts_on_empty_data_dir_exit_3(data_dir: Path) -> None:
    assert run_soc(["search", "--count"], data_dir / "nothing", check=False).returncode == 3


def test_alerts_show_unknown_is_4_and_bad_query_is_2(tmp_path: Path, data_dir: Path) -> None:
    run_soc(["demo", "--data-dir", str(data_dir)], data_dir)
    assert run_soc(["alerts", "show", "f" * 32], data_dir, check=False).returncode == 4
    listed = json.loads(run_soc(["alerts", "list", "--json"], data_dir).stdout)["alerts"]
    shown = json.loads(run_soc(["alerts", "show", listed[0]["id"], "--json"], data_dir).stdout)
    assert shown["id"] == listed[0]["id"] and shown["events"]
    assert run_soc(["search", "source.port:>", "--count"], data_dir, check=False).returncode == 2


def test_config_check(tmp_path: Path, data_dir: Path) -> None:
    ok = run_soc(["config", "check", "--json"], data_dir)
    assert json.loads(ok.stdout)["valid"] is True
    bad = tmp_path / "bad.yaml"
    bad.write_text("store: {backend: mongo}\napi: {port: -1}\n")
    out = run_soc(["config", "check", "--config", str(bad), "--json"], data_dir, check=False)
    assert out.returncode == 2
    keys = {p["key"] for p in json.loads(out.stdout)["problems"]}
    assert {"store.backend", "api.port"} <= keys


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["demo"],
        ["ingest"],
        ["parse"],
        ["search"],
        ["alerts", "list"],
        ["alerts", "show"],
        ["config", "check"],
    ],
)
def test_every_command_has_help(command: list[str], data_dir: Path) -> None:
    out = run_soc([*command, "--help"], data_dir)
    assert "usage: soc" in out.stdout


def test_deadletter_list_and_replay_after_a_parser_fix(tmp_path: Path, data_dir: Path) -> None:
    """A line ingested with the wrong forced format is a dead letter; replayed with
    the format it really has (the "fix"), it is stored and leaves the dead letters."""
    log = tmp_path / "mixed.log"
    lines = auth_lines(5)
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config(tmp_path / "soc.yaml")
    out = run_soc(["ingest", str(log), "--format", "linux_auth", "--config", str(config), "--json"], data_dir)
    assert json.loads(out.stdout)["stored"] == 5
    garbage = tmp_path / "garbage.log"
    garbage.write_text("not syslog 1\nnot syslog 2\n", encoding="utf-8")
    failed = run_soc(["ingest", str(garbage), "--config", str(config), "--json"], data_dir, check=False)
    assert failed.returncode == 1 and json.loads(failed.stdout)["dead_letters"] == 2
    listed = json.loads(run_soc(["deadletter", "list", "--json", "--config", str(config)], data_dir).stdout)
    letters = listed["dead_letters"]
    assert {d["raw"] for d in letters} == {"not syslog 1", "not syslog 2"}
    assert all(d["source"] == f"file:{garbage}" and d["stage"] == "parse" and d["reason"] for d in letters)
    assert sorted(d["position"] for d in letters) == [0, 13]
    # nothing changed: the replay fails again and keeps both, exit 1
    again = run_soc(["deadletter", "replay", "--json", "--config", str(config)], data_dir, check=False)
    assert again.returncode == 1
    assert json.loads(again.stdout) == {"replayed": 2, "resolved": 0, "still_failing": 2}
    assert len(json.loads(run_soc(["deadletter", "list", "--json"], data_dir).stdout)["dead_letters"]) == 2
