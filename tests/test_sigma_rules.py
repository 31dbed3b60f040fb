"""Our rules (rules/linux) and the correlation engine, on synthetic event timelines."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.base import Match
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config
from soc.event import format_ts

RULES = Path(__file__).resolve().parents[1] / "rules" / "linux"
CFG = load_config()  # configs/sigma.yaml: field and log source mappings
T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)

BRUTE = "c286ff61-9d0a-4adf-bf5b-9fe0725b56b1"
AFTER_BRUTE = "256a0241-3b9e-4e74-946e-3db5fe62be3a"
FAILED_PW = "f71a9664-2487-4a85-aa2d-3c94c270b53d"
INVALID = "04e467e4-b89e-494c-8257-83ade19c63a3"
ACCEPTED = "eec1d094-db7f-467f-b065-66c2d3d5c411"
SUDO_SHELL = "4e736d32-5e1d-4034-b1ed-d7e52a8939eb"
NEW_USER = "2349a020-5310-49df-ad21-c8e2abc8dbd4"


def sshd(kind: str, ts: datetime, ip: str = "203.0.113.7", user: str = "root") -> dict[str, Any]:
    outcome = "success" if kind == "Accepted" else "failure"
    text = {
        "Failed": f"Failed password for {user} from {ip} port 41022 ssh2",
        "Accepted": f"Accepted password for {user} from {ip} port 41022 ssh2",
        "Invalid": f"Invalid user {user} from {ip} port 5555",
    }[kind]
    ssh: dict[str, Any] = {"event": kind}
    if kind != "Invalid":
        ssh["method"] = "password"
    return {
        "@timestamp": format_ts(ts),
        "message": text,
        "event": {"action": "ssh_login", "category": ["authentication"], "type": ["info"],
                  "outcome": outcome, "dataset": "system.auth", "kind": "event"},
        "system": {"auth": {"ssh": ssh}},
        "user": {"name": user},
        "source": {"ip": ip, "port": 41022},
        "process": {"name": "sshd", "pid": 1234},
        "host": {"hostname": "web01", "name": "web01"},
        "log": {"syslog": {"appname": "sshd"}},
    }


def sudo(command: str, target: str = "root") -> dict[str, Any]:
    return {
        "@timestamp": format_ts(T0),
        "message": f"alice : TTY=pts/0 ; PWD=/home/alice ; USER={target} ; COMMAND={command}",
        "event": {"dataset": "system.auth", "kind": "event"},
        "system": {"auth": {"sudo": {"command": command, "user": target, "pwd": "/home/alice",
                                     "tty": "pts/0"}}},
        "user": {"name": "alice", "effective": {"name": target}},
        "process": {"name": "sudo"},
        "host": {"hostname": "web01"},
    }


def useradd(name: str, shell: str) -> dict[str, Any]:
    return {
        "@timestamp": format_ts(T0),
        "message": f"new user: name={name}, UID=1001, GID=1001, home=/home/{name}, shell={shell}",
        "event": {"dataset": "system.auth", "category": ["iam"], "type": ["creation", "user"]},
        "system": {"auth": {"useradd": {"home": f"/home/{name}", "shell": shell}}},
        "user": {"name": name, "id": "1001"},
        "process": {"name": "useradd", "pid": 6995},
        "host": {"hostname": "web01"},
    }


@pytest.fixture
def detector() -> SigmaDetector:
    return SigmaDetector([RULES])


def run(det: SigmaDetector, events: list[dict[str, Any]]) -> list[Match]:
    out: list[Match] = []
    for e in events:
        out.extend(det.observe(e))
    return out


def ids(matches: list[Match]) -> list[str]:
    return [m.rule.id for m in matches]


def test_our_rules_load_and_compile_cleanly(detector: SigmaDetector) -> None:
    assert detector.errors == []
    assert detector.stats["correlations"] == 2
    assert detector.stats["rules_compiled"] == len(list(RULES.glob("*.yml"))) - 2  # 2 correlation files


def test_invalid_user(detector: SigmaDetector) -> None:
    [m] = detector.observe(sshd("Invalid", T0, user="admin"))
    assert m.rule.id == INVALID
    assert m.rule.severity == "medium"
    assert m.rule.type == "sigma"
    assert "attack.t1110" in m.rule.tags
    assert m.rule.author == "SOC engine project"
    assert m.rule.source_path.endswith("ssh_invalid_user.yml")
    assert m.group == {}
    assert m.timestamp == T0
    assert ids(detector.observe(sshd("Accepted", T0))) == [ACCEPTED]


def test_failed_password_alone_generates_nothing(detector: SigmaDetector) -> None:
    assert detector.observe(sshd("Failed", T0)) == []


def test_brute_force_ten_failures_in_five_minutes_fire_once(detector: SigmaDetector) -> None:
    events = [sshd("Failed", T0 + timedelta(seconds=20 * i)) for i in range(15)]
    matches = run(detector, events)
    assert ids(matches) == [BRUTE]
    m = matches[0]
    assert m.rule.type == "sigma_correlation"
    assert m.rule.severity == "high"
    assert m.group == {"source.ip": "203.0.113.7"}
    assert m.timestamp == T0 + timedelta(seconds=180)
    assert len(m.events) == 10 and m.events[-1] is events[9]
    assert m.details["count"] == 10
    assert FAILED_PW not in ids(matches)


def test_nine_failures_do_not_fire(detector: SigmaDetector) -> None:
    assert run(detector, [sshd("Failed", T0 + timedelta(seconds=10 * i)) for i in range(9)]) == []


def test_failures_spread_over_six_minutes_do_not_fire(detector: SigmaDetector) -> None:
    # 10 failures 40 s apart span 6 minutes: never 10 inside any 5-minute window
    assert run(detector, [sshd("Failed", T0 + timedelta(seconds=40 * i)) for i in range(10)]) == []


def test_different_source_ips_are_separate_groups(detector: SigmaDetector) -> None:
    events = []
    for i in range(10):
        events.append(sshd("Failed", T0 + timedelta(seconds=i), ip="198.51.100.1"))
        if i < 9:
            events.append(sshd("Failed", T0 + timedelta(seconds=i), ip="198.51.100.2"))
    matches = run(detector, events)
    assert [(m.rule.id, m.group) for m in matches] == [(BRUTE, {"source.ip": "198.51.100.1"})]


def test_brute_force_fires_again_after_the_window_clears(detector: SigmaDetector) -> None:
    first = [sshd("Failed", T0 + timedelta(seconds=i)) for i in range(10)]
    later = [sshd("Failed", T0 + timedelta(minutes=20, seconds=i)) for i in range(10)]
    assert ids(run(detector, first + later)) == [BRUTE, BRUTE]


def test_success_after_brute_force_fires_temporal_ordered(detector: SigmaDetector) -> None:
    events = [sshd("Failed", T0 + timedelta(seconds=5 * i)) for i in range(10)]
    events.append(sshd("Accepted", T0 + timedelta(minutes=4)))
    matches = run(detector, events)
    assert ids(matches) == [BRUTE, ACCEPTED, AFTER_BRUTE]
    crit = matches[-1]
    assert crit.rule.severity == "critical"
    assert crit.group == {"source.ip": "203.0.113.7"}
    assert crit.events[-1] is events[-1]
    assert crit.timestamp == T0 + timedelta(minutes=4)


def test_success_before_brute_force_or_from_other_ip_does_not_fire(detector: SigmaDetector) -> None:
    before = [sshd("Accepted", T0)] + [sshd("Failed", T0 + timedelta(seconds=5 + i)) for i in range(10)]
    assert AFTER_BRUTE not in ids(run(detector, before))
    other = SigmaDetector([RULES])
    events = [sshd("Failed", T0 + timedelta(seconds=i)) for i in range(10)]
    events.append(sshd("Accepted", T0 + timedelta(minutes=1), ip="192.0.2.50"))
    assert AFTER_BRUTE not in ids(run(other, events))


def test_success_too_long_after_brute_force_does_not_fire(detector: SigmaDetector) -> None:
    events = [sshd("Failed", T0 + timedelta(seconds=i)) for i in range(10)]
    events.append(sshd("Accepted", T0 + timedelta(minutes=11)))
    assert AFTER_BRUTE not in ids(run(detector, events))


@pytest.mark.parametrize("command", ["/bin/bash", "/usr/bin/zsh -l", "su -", "/bin/su root", "sh"])
def test_sudo_root_shell_positive(detector: SigmaDetector, command: str) -> None:
    assert ids(detector.observe(sudo(command))) == [SUDO_SHELL]


@pytest.mark.parametrize(("command", "target"), [
    ("/bin/ls -la", "root"), ("/usr/bin/bashbug", "root"), ("/bin/bash", "postgres"),
    ("/usr/bin/systemctl restart sshd", "root"),
])
def test_sudo_root_shell_negative(detector: SigmaDetector, command: str, target: str) -> None:
    assert detector.observe(sudo(command, target)) == []


def test_new_user_created(detector: SigmaDetector) -> None:
    [m] = detector.observe(useradd("backdoor", "/bin/bash"))
    assert m.rule.id == NEW_USER
    assert "attack.t1136.001" in m.rule.tags
    assert detector.observe(useradd("apache", "/sbin/nologin")) == []
    assert detector.observe({**useradd("x", "/bin/bash"), "process": {"name": "usermod"}}) == []


def test_logsource_index_keeps_sshd_rules_off_other_programs(detector: SigmaDetector) -> None:
    e = sshd("Invalid", T0)
    e["process"]["name"] = "cron"
    assert detector.observe(e) == []


# ------------------------------------------------------------------ correlation engine


def write(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")


BASE = """
title: Failed
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0001
name: failed
logsource: {product: linux, service: sshd}
detection:
    sel: {system.auth.ssh.event: Failed}
    condition: sel
level: low
"""


def test_value_count_counts_distinct_users(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", BASE)
    write(tmp_path, "vc.yml", """
title: Spray
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0002
correlation:
    type: value_count
    rules: [failed]
    group-by: [source.ip]
    timespan: 10m
    condition: {field: user.name, gte: 3}
level: high
""")
    det = SigmaDetector([tmp_path], config=CFG)
    same_user = [sshd("Failed", T0 + timedelta(seconds=i)) for i in range(5)]
    assert run(det, same_user) == []
    spray = [sshd("Failed", T0 + timedelta(seconds=10 + i), user=u) for i, u in enumerate("abcd")]
    matches = run(det, spray)
    assert [m.details["count"] for m in matches] == [3]


def test_temporal_unordered_and_generate_true(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", BASE)
    write(tmp_path, "ok.yml", BASE.replace("Failed", "Accepted").replace("0001", "0003")
          .replace("name: failed", "name: accepted"))
    write(tmp_path, "t.yml", """
title: Both
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0004
correlation:
    type: temporal
    rules: [failed, accepted]
    group-by: [source.ip]
    timespan: 1m
    generate: true
level: medium
""")
    det = SigmaDetector([tmp_path], config=CFG)
    matches = run(det, [sshd("Accepted", T0), sshd("Failed", T0 + timedelta(seconds=30))])
    # generate: true keeps the referenced rules' own output
    assert [m.rule.title for m in matches] == ["Accepted", "Failed", "Both"]


def test_event_count_lte_fires_when_window_closes(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", BASE)
    write(tmp_path, "few.yml", """
title: Few
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0005
correlation: {type: event_count, rules: [failed], group-by: [host.hostname], timespan: 1m,
              condition: {lte: 2}}
level: low
""")
    det = SigmaDetector([tmp_path], config=CFG)
    assert run(det, [sshd("Failed", T0), sshd("Failed", T0 + timedelta(seconds=5))]) == []
    assert det.tick(T0) == []
    later = run(det, [sshd("Failed", T0 + timedelta(minutes=5), ip="192.0.2.1")])  # advances event time
    assert [(m.rule.title, m.details["count"]) for m in later] == [("Few", 2)]


def test_group_cap_evicts_oldest_and_counts(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", BASE)
    write(tmp_path, "bf.yml", """
title: BF
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0006
correlation: {type: event_count, rules: [failed], group-by: [source.ip], timespan: 5m, condition: {gte: 2}}
level: high
""")
    det = SigmaDetector([tmp_path], config={**CFG, "max_groups": 2})
    events = [sshd("Failed", T0, ip=f"192.0.2.{i}") for i in range(3)]
    events.append(sshd("Failed", T0 + timedelta(seconds=1), ip="192.0.2.0"))  # evicted: starts over
    assert run(det, events) == []
    assert det.stats["groups_evicted"] == 2


def test_evidence_is_capped_at_50_newest(tmp_path: Path) -> None:
    write(tmp_path, "base.yml", BASE)
    write(tmp_path, "bf.yml", """
title: BF
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0007
correlation: {type: event_count, rules: [failed], group-by: [source.ip], timespan: 1h, condition: {gte: 60}}
level: high
""")
    det = SigmaDetector([tmp_path], config=CFG)
    events = [sshd("Failed", T0 + timedelta(seconds=i)) for i in range(60)]
    [m] = run(det, events)
    assert len(m.events) == 50 and m.events[0] is events[10] and m.events[-1] is events[59]


def test_bad_rules_are_reported_without_stopping_others(tmp_path: Path) -> None:
    write(tmp_path, "good.yml", BASE)
    write(tmp_path, "broken.yml", "title: [unclosed\n")
    write(tmp_path, "badmod.yml", BASE.replace("system.auth.ssh.event:", "system.auth.ssh.event|contians:")
          .replace("0001", "0008").replace("name: failed", "name: bad"))
    write(tmp_path, "dangling.yml", """
title: Dangling
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0009
correlation: {type: event_count, rules: [nope], group-by: [source.ip], timespan: 5m, condition: {gte: 2}}
level: high
""")
    write(tmp_path, "sum.yml", """
title: Sum
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0010
correlation: {type: value_sum, rules: [failed], group-by: [source.ip], timespan: 5m,
              condition: {field: source.port, gte: 2}}
level: high
""")
    det = SigmaDetector([tmp_path], config=CFG)
    text = "\n".join(str(e) for e in det.errors)
    assert "broken.yml" in text and "cannot read YAML" in text
    assert "badmod.yml: rule 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0008" in text and "contians" in text
    assert "dangling.yml: rule 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0009" in text and "nope" in text
    assert "sum.yml" in text and "value_sum" in text
    assert det.stats["rules_compiled"] == 1
    assert det.stats["correlations"] == 0
    assert det.observe(sshd("Failed", T0))[0].rule.title == "Failed"


def test_unmapped_logsource_policy(tmp_path: Path) -> None:
    write(tmp_path, "win.yml", """
title: Unmapped keyword
id: 9a1d3b52-0f7c-4a55-9a54-2d1c9b0e0011
logsource: {product: macos, service: nothing_maps_this}
detection: {kw: [Failed password], condition: kw}
level: low
""")
    on = SigmaDetector([tmp_path], config={**CFG, "unmapped_logsource": "all"})
    assert len(on.observe(sshd("Failed", T0))) == 1
    off = SigmaDetector([tmp_path], config=CFG)  # default: none
    assert off.observe(sshd("Failed", T0)) == []
    assert off.stats["rules_inactive"] == 1


def test_events_are_not_mutated(detector: SigmaDetector) -> None:
    e = sshd("Invalid", T0)
    before = copy.deepcopy(e)
    detector.observe(e)
    assert e == before
