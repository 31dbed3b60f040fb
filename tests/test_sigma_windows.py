"""Windows field and log source mapping over parsed samples; Linux/Windows isolation; prefilter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from collectors.inputs.readers import FileReader
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config
from detectors.sigma.prefilter import Prefilter
from soc.pipeline.processor import BatchResult, ParserSet, Processor

CFG = {**load_config(), "cache_dir": ""}

WIN_PROC = """
title: Rundll32 comsvcs MiniDump
id: 11111111-0000-4000-8000-000000000001
logsource: {product: windows, category: process_creation}
detection:
    img: {Image|endswith: '\\\\rundll32.exe'}
    cmd: {CommandLine|contains|all: [comsvcs, minidump]}
    condition: img and cmd
level: high
"""
LINUX_ANY = """
title: Linux anything
id: 11111111-0000-4000-8000-000000000002
logsource: {product: linux, category: process_creation}
detection:
    sel: {Image|contains: '\\\\'}
    filter: {CommandLine: 'nothing'}
    condition: sel and not filter
level: high
"""
WIN_SEC = """
title: Account created
id: 11111111-0000-4000-8000-000000000003
logsource: {product: windows, service: security}
detection:
    sel: {EventID: 4720, TargetUserName|endswith: '$'}
    condition: sel
level: medium
"""
LINUX_AUTH = """
title: Any auth line
id: 11111111-0000-4000-8000-000000000004
logsource: {product: linux, service: auth}
detection:
    kw: ['password']
    condition: kw
level: low
"""
WIN_KW = """
title: Any Windows security event mentioning password
id: 11111111-0000-4000-8000-000000000005
logsource: {product: windows, service: security}
detection:
    kw: ['password']
    condition: kw
level: low
"""


def parse(path: Path) -> list[dict[str, Any]]:
    result = BatchResult()
    Processor(ParserSet(timezone="UTC")).parse(list(FileReader(path).records()), result)
    return result.events


@pytest.fixture(scope="module")
def windows(datasets: Path) -> dict[str, list[dict[str, Any]]]:
    base = datasets / "logs" / "endpoint" / "windows"
    return {
        "minidump": parse(
            base / "evtx-attack-samples/Credential_Access/sysmon_10_1_memdump_comsvcs_minidump.evtx"
        ),
        "account": parse(base / "evtx-attack-samples/Defense_Evasion/DE_Fake_ComputerAccount_4720.evtx"),
        "security": parse(base / "evtx-rs-samples/security.evtx"),
        "sysmon": parse(base / "evtx-rs-samples/sysmon.evtx"),
    }


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> SigmaDetector:
    d = tmp_path_factory.mktemp("rules")
    for i, text in enumerate([WIN_PROC, LINUX_ANY, WIN_SEC, LINUX_AUTH, WIN_KW]):
        (d / f"r{i}.yml").write_text(text, encoding="utf-8")
    det = SigmaDetector([d], config=CFG)
    assert det.errors == []
    return det


def fired(det: SigmaDetector, events: list[dict[str, Any]]) -> set[str]:
    return {m.rule.title for e in events for m in det.observe(e)}


def test_sysmon_process_creation_maps_image_and_commandline(detector, windows) -> None:
    assert fired(detector, windows["minidump"]) == {"Rundll32 comsvcs MiniDump"}


def test_security_4720_maps_event_id_and_event_data(detector, windows) -> None:
    titles = fired(detector, windows["account"])
    assert "Account created" in titles  # (the keyword rule also sees "PasswordLastSet")
    assert "Rundll32 comsvcs MiniDump" not in titles


def test_linux_rules_never_fire_on_windows_events(detector, windows) -> None:
    titles = set().union(*(fired(detector, evs) for evs in windows.values()))
    assert not {"Linux anything", "Any auth line"} & titles
    # the Windows keyword rule does fire on the same kind of text
    assert "Any Windows security event mentioning password" in fired(detector, windows["account"])


def test_windows_rules_never_fire_on_linux_events(detector, datasets: Path) -> None:
    path = next((datasets / "logs" / "endpoint" / "linux_auth").rglob("*"))
    events = parse(path) if path.is_file() else []
    events = events or [
        {
            "message": "Failed password for root from 1.2.3.4 port 22 ssh2",
            "event": {"dataset": "system.auth"},
            "process": {"name": "sshd"},
        }
    ]
    titles = fired(detector, events)
    assert "Any auth line" in titles
    assert (
        not {
            "Rundll32 comsvcs MiniDump",
            "Account created",
            "Any Windows security event mentioning password",
            "Linux anything",
        }
        & titles
    )


def test_prefilter_changes_nothing_but_speed(windows, datasets: Path) -> None:
    rules = datasets.parent / "datasets" / "sigma" / "rules" / "windows" / "builtin" / "security"
    if not rules.is_dir():
        pytest.skip("SigmaHQ corpus not present")
    det = SigmaDetector([rules], config=CFG)
    events = windows["security"]
    with_prefilter = [sorted(m.rule.id for m in det.observe(e)) for e in events]
    for bucket in det._state.index.all_buckets():  # the same rules, every one always evaluated
        bucket.runner = Prefilter(bucket.items, [None] * len(bucket.items))
    without = [sorted(m.rule.id for m in det.observe(e)) for e in events]
    assert with_prefilter == without
    assert sum(map(len, with_prefilter)) > 0


def test_placeholders_expand_from_config_and_unknown_fails_the_rule(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        WIN_SEC.replace("TargetUserName|endswith: '$'", "TargetUserName|expand: '%admins%'"), encoding="utf-8"
    )
    (tmp_path / "q.yml").write_text(
        WIN_SEC.replace("TargetUserName|endswith: '$'", "TargetUserName|expand: '%nope%'").replace(
            "0003", "0009"
        ),
        encoding="utf-8",
    )
    det = SigmaDetector([tmp_path], config={**CFG, "placeholders": {"admins": ["bob", "alice*"]}})
    [err] = det.errors
    assert "q.yml" in err.path and err.rule_id.endswith("0009") and "unknown placeholder %nope%" in err.reason
    ev = {
        "winlog": {"channel": "Security", "event_data": {"TargetUserName": "Alice2"}},
        "event": {"code": "4720"},
    }
    assert [m.rule.title for m in det.observe(ev)] == ["Account created"]
    ev["winlog"]["event_data"]["TargetUserName"] = "carol"
    assert det.observe(ev) == []
