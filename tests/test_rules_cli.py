"""`soc rules check`, `soc rules coverage` and `soc detect` run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers_engine import REPO, env_for

RULES = REPO / "rules"


def _wired(command: str) -> bool:
    from soc.cli.main import build_parser

    return command in build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]


def soc(args: list[str], data_dir: Path) -> subprocess.CompletedProcess:
    """The real command: `soc ...` once wired into soc/cli/main.py, else the module itself."""
    if args[0] == "detect":
        cmd = ["-m", "soc.cli.main"] if _wired("detect") else ["-m", "soc.cli.detect_cmd"]
    else:
        cmd = ["-m", "soc.cli.main", "rules"] if _wired("rules") else ["-m", "soc.cli.rules_tools"]
        args = args[1:]
    return subprocess.run([sys.executable, *cmd, *args], env=env_for(data_dir), capture_output=True,
                          text=True, timeout=300, cwd=REPO)  # fmt: skip


def test_rules_check_our_rules_is_clean(tmp_path: Path) -> None:
    proc = soc(["rules", "check", str(RULES), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["failed"] == 0 and out["errors"] == []
    assert out["compiled"] == out["loaded"] >= 20 and out["correlations"] >= 8


def test_rules_check_reports_broken_rules_with_file_id_and_reason(tmp_path: Path, datasets: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("title: Broken\nid: 11111111-2222-4333-8444-555555555555\nlogsource: {product: linux}\n"
                   "detection:\n  sel: {a|contians: x}\n  condition: sel\n")  # fmt: skip
    corpus = datasets / "sigma" / "rules" / "network"
    proc = soc(["rules", "check", str(corpus), str(bad)], tmp_path)
    assert proc.returncode == 1
    assert f"{bad}: rule 11111111-2222-4333-8444-555555555555" in proc.stdout
    assert "contians" in proc.stdout
    assert "loaded=" in proc.stdout and "time=" in proc.stdout
    allowed = soc(["rules", "check", str(corpus), str(bad), "--allow-failures", "--json"], tmp_path)
    assert allowed.returncode == 0
    out = json.loads(allowed.stdout)
    assert out["loaded"] > 20 and out["failed"] >= 1
    assert any(e["rule_id"] == "11111111-2222-4333-8444-555555555555" for e in out["errors"])


def test_rules_check_missing_path_is_usage_error(tmp_path: Path) -> None:
    proc = soc(["rules", "check", str(tmp_path / "nope")], tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_detect_windows_attack_sample_and_auth_logs(tmp_path: Path, datasets: Path) -> None:
    evtx = datasets / "logs/endpoint/windows/winlogbeat/1102.evtx"
    auth = datasets / "logs/endpoint/linux_auth/elastic-beats/secure-rhel7.log"
    proc = soc(["detect", "--rules", str(RULES), "--input", str(evtx), str(auth), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    summary = lines[-1]["summary"]
    matches = lines[:-1]
    assert summary["events"] == 1001 and summary["matches"] == len(matches) > 0
    assert "events/s" in proc.stderr or "events_per_second=" in proc.stderr
    cleared = [m for m in matches if m["rule.id"] == "dbe78f0f-cd49-4051-9353-1dbf36800837"]
    assert len(cleared) == 1 and cleared[0]["log.file.path"] == str(evtx)
    assert cleared[0]["rule.level"] == "high" and cleared[0]["event.id"]
    brute = [m for m in matches if m["rule.name"] == "SSH Brute Force From Single Source"]
    assert brute and all(m["log.file.path"] == str(auth) and m["group"]["source.ip"] for m in brute)
    for m in matches:
        assert {"rule.id", "rule.name", "rule.level", "event.id", "@timestamp"} <= set(m)


def test_detect_windows_attack_samples_evtx(tmp_path: Path, datasets: Path) -> None:
    evtx = (
        datasets
        / "logs/endpoint/windows/evtx-attack-samples/Defense_Evasion/DE_Fake_ComputerAccount_4720.evtx"
    )
    proc = soc(["detect", "--rules", str(RULES), "--input", str(evtx), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])["summary"]
    assert summary["events"] > 0 and summary["dead_letters"] == 0


def test_detect_missing_input_is_usage_error(tmp_path: Path) -> None:
    proc = soc(["detect", "--rules", str(RULES), "--input", str(tmp_path / "none.log")], tmp_path)
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_coverage_without_data_is_all_not_seen(tmp_path: Path) -> None:
    proc = soc(["rules", "coverage", "--json", "--data-dir", str(tmp_path)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["seen"] == [] and "T1110" in out["not_seen"] and "T1505.003" in out["not_seen"]
    assert out["store_has_data"] is False
