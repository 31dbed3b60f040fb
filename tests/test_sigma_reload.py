"""Hot reload: changed files swap in, broken edits keep the old version and are reported."""

from __future__ import annotations

import os
from pathlib import Path

from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config

CFG = {**load_config(), "cache_dir": ""}
RULE = """
title: {title}
id: 22222222-0000-4000-8000-000000000001
logsource: {{product: linux, service: sshd}}
detection:
    sel: {{message|contains: '{needle}'}}
    condition: sel
level: low
"""
EVENT = {
    "message": "Failed password for root",
    "event": {"dataset": "system.auth"},
    "process": {"name": "sshd"},
}


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a visible mtime change


def titles(det: SigmaDetector, event: dict) -> list[str]:
    return [m.rule.title for m in det.observe(event)]


def test_reload_swaps_changed_rules(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    write(f, RULE.format(title="v1", needle="Failed"))
    det = SigmaDetector([tmp_path], config=CFG)
    assert titles(det, EVENT) == ["v1"]
    assert det.reload().changed_files == ()  # nothing changed
    write(f, RULE.format(title="v2", needle="Accepted"))
    report = det.reload()
    assert report.changed_files == (str(f),) and report.rules_replaced == 1
    assert titles(det, EVENT) == []
    assert titles(det, {**EVENT, "message": "Accepted password"}) == ["v2"]


def test_broken_edit_keeps_old_version_and_reports(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    write(f, RULE.format(title="v1", needle="Failed"))
    det = SigmaDetector([tmp_path], config=CFG)
    write(f, RULE.format(title="v2", needle="Failed").replace("message|contains", "message|contians"))
    report = det.reload()
    assert report.rules_kept_old == 1
    [err] = report.errors
    assert (
        err.path == str(f)
        and err.rule_id == "22222222-0000-4000-8000-000000000001"
        and "contians" in err.reason
    )
    assert titles(det, EVENT) == ["v1"]


def test_new_and_removed_files(tmp_path: Path) -> None:
    f = tmp_path / "r.yml"
    write(f, RULE.format(title="v1", needle="Failed"))
    det = SigmaDetector([tmp_path], config=CFG)
    g = tmp_path / "s.yml"
    write(g, RULE.format(title="other", needle="root").replace("0001", "0002"))
    assert det.reload().rules_added == 1
    assert sorted(titles(det, EVENT)) == ["other", "v1"]
    f.unlink()
    report = det.reload()
    assert report.removed_files == (str(f),) and report.rules_removed == 1
    assert titles(det, EVENT) == ["other"]
