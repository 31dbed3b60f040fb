"""Each stateful rule type on synthetic timelines (streaming): exact matches, negatives, realert."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from detectors.stateful import StatefulDetector
from soc.state import StateStore
from tests.helpers_stateful import ev, feed, fw, minutes, ssh_fail, ssh_ok, write_rule


def rule(tmp_path: Path, body: str, name: str = "r.yml") -> Path:
    folder = tmp_path / "rules"
    header = (
        f"name: test {name}\nid: {uuid.uuid5(uuid.NAMESPACE_URL, str(tmp_path / name))}\nseverity: high\n"
    )
    write_rule(folder, name, header + body)
    return folder


def detector(tmp_path: Path, body: str, **kw) -> StatefulDetector:
    det = StatefulDetector([rule(tmp_path, body)], **kw)
    assert not det.errors, [str(e) for e in det.errors]
    assert len(det.runtimes) == 1
    return det


BRUTE = """
type: frequency
tags: [attack.t1110]
filter: 'event.action:ssh_login event.outcome:failure'
query_key: source.ip
timeframe: {minutes: 5}
num_events: 10
realert: {minutes: 5}
"""


def test_frequency_ssh_brute_force(tmp_path: Path) -> None:
    det = detector(tmp_path, BRUTE)
    attacker, slow, user = "203.0.113.9", "198.51.100.7", "10.0.0.5"
    timeline = [ssh_fail(i * 0.25, attacker, f"u{i}") for i in range(9)]  # 9 in 2 minutes: not yet
    timeline += [ssh_fail(i * 3, slow) for i in range(12)]  # 12 over 36 minutes: never 10 in 5 min
    timeline += [ssh_ok(1 + i * 0.1, user) for i in range(20)]  # successes do not count
    timeline.sort(key=lambda e: e["@timestamp"])
    assert feed(det, timeline) == []
    matches = feed(det, [ssh_fail(2.5, attacker)])
    assert len(matches) == 1
    m = matches[0]
    assert m.rule.type == "frequency" and m.rule.tags == ("attack.t1110",)
    assert m.group == {"source.ip": attacker}
    assert m.details["count"] == 10 and m.details["num_events"] == 10
    assert len(m.events) == 10 and m.events[-1]["@timestamp"] == minutes(2.5).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    # realert: ten more inside five minutes fire nothing; ten more after it fire again
    assert feed(det, [ssh_fail(3 + i * 0.1, attacker) for i in range(10)]) == []
    again = feed(det, [ssh_fail(8 + i * 0.1, attacker) for i in range(10)])
    assert [m.details["count"] for m in again] == [10]
    assert det.stats["realert_silenced"] == 1


def test_exponential_realert_doubles_for_a_persistent_group(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        BRUTE.replace("realert: {minutes: 5}", "realert: {minutes: 5}\nexponential_realert: {minutes: 20}"),
    )
    ip = "203.0.113.9"
    fired = []
    for minute in range(0, 60):  # 10 failures every minute for an hour
        for m in feed(det, [ssh_fail(minute + i * 0.05, ip) for i in range(10)]):
            fired.append(round((m.timestamp - minutes(0)).total_seconds() / 60, 2))
    # periods 5, 10, 20, 20 ... minutes after the first
    assert fired[:4] == [0.45, 5.45, 15.45, 35.45]
    assert fired[4] == 55.45


def test_cardinality_port_scan_and_password_spray(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: cardinality
filter:
  detection:
    denied: {event.type: denied}
    condition: denied
query_key: source.ip
cardinality_field: destination.port
max_cardinality: 15
timeframe: {minutes: 5}
realert: {minutes: 0}
""",
    )
    scanner, busy = "198.51.100.20", "10.0.0.30"
    events = [fw(i * 0.1, "fw-1", scanner, port=1000 + i, denied=True) for i in range(15)]
    events += [fw(i * 0.1, "fw-1", busy, port=443, denied=True) for i in range(100)]  # one port, many times
    events += [fw(i * 0.1, "fw-1", "10.0.0.31", port=2000 + i, denied=False) for i in range(40)]  # allowed
    events.sort(key=lambda e: e["@timestamp"])
    assert feed(det, events) == []
    hits = feed(det, [fw(1.6, "fw-1", scanner, port=1015, denied=True)])
    assert len(hits) == 1
    assert hits[0].group == {"source.ip": scanner}
    assert hits[0].details["cardinality"] == 16 and hits[0].details["max_cardinality"] == 15
    assert "1015" in hits[0].details["values"]
    # still above: one match per crossing, not one per event
    assert feed(det, [fw(1.7, "fw-1", scanner, port=1016, denied=True)]) == []
    # after the window empties, a new scan crosses again
    again = feed(det, [fw(20 + i * 0.1, "fw-1", scanner, port=3000 + i, denied=True) for i in range(16)])
    assert len(again) == 1


def test_flatline_silent_firewall(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: flatline
filter: 'event.category:network'
query_key: observer.hostname
threshold: 1
timeframe: {minutes: 15}
realert: {minutes: 0}
""",
    )
    events = [fw(m, "fw-a") for m in range(0, 60)]  # fw-a sends every minute for an hour
    events += [fw(m + 0.5, "fw-b") for m in range(0, 10)]  # fw-b stops after 9.5 minutes
    events.sort(key=lambda e: e["@timestamp"])
    matches = feed(det, events)
    assert len(matches) == 1
    m = matches[0]
    assert m.group == {"observer.hostname": "fw-b"} and m.rule.type == "flatline"
    assert m.details["count"] == 0 and m.details["threshold"] == 1
    assert m.timestamp == minutes(25)  # first tick at which the 15 minutes after 9.5 hold no event
    assert m.events and m.events[-1]["observer"]["hostname"] == "fw-b"
    # it comes back, then goes silent again: one more match
    back = [fw(61 + m, "fw-b") for m in range(3)] + [fw(61 + m, "fw-a") for m in range(40)]
    back.sort(key=lambda e: e["@timestamp"])
    again = feed(det, back)
    assert [x.group for x in again] == [{"observer.hostname": "fw-b"}]


def test_spike_traffic(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: spike
filter: 'event.category:network'
query_key: source.ip
timeframe: {minutes: 10}
spike_height: 5
spike_type: up
threshold_ref: 10
threshold_cur: 200
realert: {minutes: 0}
""",
    )
    steady, burst = "10.0.0.40", "10.0.0.41"
    events = [fw(i * 0.5, "fw-1", steady) for i in range(48)]  # 20 per 10 min, steady
    events += [fw(i * 0.5, "fw-1", burst) for i in range(40)]  # 20 per 10 min for 20 minutes
    events += [fw(20 + i * 0.04, "fw-1", burst) for i in range(99)]  # then 99 in 4 minutes: below 200
    events.sort(key=lambda e: e["@timestamp"])
    assert feed(det, events) == []
    flood = [fw(24 + i * 0.02, "fw-1", burst) for i in range(150)]  # 249 in the current window
    matches = feed(det, flood)
    assert len(matches) == 1
    d = matches[0].details
    assert matches[0].group == {"source.ip": burst}
    assert d["spike_type"] == "up" and d["current_count"] >= 200 and d["reference_count"] == 20
    assert d["current_count"] >= 5 * d["reference_count"]


def test_new_term_first_seen_admin_persists(tmp_path: Path) -> None:
    body = """
type: new_term
filter:
  detection:
    sudo: {process.name: sudo}
    special: {event.code: '4672'}
    machine: {user.name|endswith: '$'}
    condition: (sudo or special) and not machine
fields: [user.name]
realert: {minutes: 0}
"""
    state = StateStore(tmp_path / "state.db")
    det = detector(tmp_path, body, state=state)

    def sudo(at: float, user: str) -> dict:
        return ev(at, {"process.name": "sudo", "user.name": user, "system.auth.sudo.command": "/bin/id"})

    first = feed(det, [sudo(0, "alice"), sudo(1, "bob"), sudo(2, "alice")])
    assert [m.group for m in first] == [{"user.name": "alice"}, {"user.name": "bob"}]
    assert feed(det, [ev(3, {"event.code": "4672", "user.name": "WS01$"})]) == []  # machine account
    assert feed(det, [ev(3, {"process.name": "sshd", "user.name": "mallory"})]) == []  # not privileged
    win = feed(det, [ev(4, {"event.code": "4672", "user.name": "svc_admin"})])
    assert [m.group for m in win] == [{"user.name": "svc_admin"}]
    assert win[0].details["new_terms"] == {"user.name": "svc_admin"}
    det.save()
    state.close()
    # a restart keeps the baseline: known accounts stay quiet, a new one fires
    state = StateStore(tmp_path / "state.db")
    det2 = StatefulDetector([tmp_path / "rules"], state=state)
    assert feed(det2, [sudo(10, "alice"), sudo(10, "svc_admin")]) == []
    assert [m.group for m in feed(det2, [sudo(11, "carol")])] == [{"user.name": "carol"}]
    state.close()


def test_change(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: change
filter: 'event.action:ssh_login event.outcome:success'
query_key: user.name
compare_key: source.ip
ignore_null: true
timeframe: {hours: 1}
realert: {minutes: 0}
""",
    )
    out = feed(
        det, [ssh_ok(0, "10.0.0.5", "alice"), ssh_ok(5, "10.0.0.5", "alice"), ssh_ok(6, "10.0.0.7", "bob")]
    )
    assert out == []
    changed = feed(det, [ssh_ok(10, "203.0.113.80", "alice")])
    assert len(changed) == 1
    assert changed[0].group == {"user.name": "alice"}
    assert changed[0].details["old_value"] == ["10.0.0.5"] and changed[0].details["new_value"] == [
        "203.0.113.80"
    ]
    assert feed(det, [ssh_ok(200, "10.0.0.9", "alice")]) == []  # previous value older than the timeframe


def test_metric_aggregation_outbound_bytes(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: metric_aggregation
filter: 'event.category:network'
query_key: source.ip
metric_agg_key: source.bytes
metric_agg_type: sum
max_threshold: 1000000
timeframe: {hours: 1}
realert: {minutes: 0}
""",
    )
    events = [fw(i, "fw-1", "10.0.0.50", **{"source.bytes": 10_000}) for i in range(60)]  # 600 kB in hour 0
    events += [fw(i, "fw-1", "10.0.0.51", **{"source.bytes": 30_000}) for i in range(60)]  # 1.8 MB in hour 0
    events += [fw(60 + i, "fw-1", "10.0.0.51", **{"source.bytes": 1_000}) for i in range(5)]  # hour 1
    events.sort(key=lambda e: e["@timestamp"])
    matches = feed(det, events)
    assert len(matches) == 1
    m = matches[0]
    assert m.group == {"source.ip": "10.0.0.51"}
    assert m.details["value"] == 1_800_000 and m.details["max_threshold"] == 1_000_000
    assert m.details["window_start"] == "2026-11-02T08:00:00.000Z"
    assert m.details["window_end"] == "2026-11-02T09:00:00.000Z"
    assert len(m.events) == 20  # max_evidence default


def test_metric_percentile(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: metric_aggregation
metric_agg_key: event.duration
metric_agg_type: percentiles
percentile: 90
max_threshold: 500
timeframe: {minutes: 10}
realert: {minutes: 0}
""",
    )
    fast = [ev(i * 0.1, {"event.duration": 100}) for i in range(95)]
    slow = [ev(10 + i * 0.1, {"event.duration": 100 if i < 80 else 900}) for i in range(95)]
    assert feed(det, fast) == []
    out = feed(det, [*slow, ev(25, {"event.duration": 1})])
    assert len(out) == 1 and out[0].details["value"] == 900.0 and out[0].details["percentile"] == 90


def test_percentage_match(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        """
type: percentage_match
filter: 'event.action:ssh_login'
query_key: host.name
match_bucket_filter: 'event.outcome:failure'
max_percentage: 50
min_denominator: 10
timeframe: {minutes: 10}
realert: {minutes: 0}
""",
    )
    healthy = [ssh_ok(i * 0.5, "10.0.0.5") for i in range(10)] + [
        ssh_fail(i * 0.5, "10.0.0.5") for i in range(2)
    ]
    tiny = [ssh_fail(10 + i * 0.5, "10.0.0.6") for i in range(5)]  # 100 % but below min_denominator
    bad = [ssh_fail(20 + i * 0.3, "10.0.0.7") for i in range(9)] + [
        ssh_ok(20 + i, "10.0.0.7") for i in range(3)
    ]
    out = feed(det, sorted([*healthy, *tiny, *bad], key=lambda e: e["@timestamp"]))
    out += feed(det, [ev(31, {"event.action": "other"})])  # event time moves on (any event)
    assert len(out) == 1
    assert out[0].details["percentage"] == 75.0 and out[0].details["total"] == 12
    assert out[0].details["window_start"] == "2026-11-02T08:20:00.000Z"


def test_blacklist_file_reloaded_and_whitelist(tmp_path: Path) -> None:
    lists = tmp_path / "rules" / "lists"
    lists.mkdir(parents=True)
    (lists / "bad.txt").write_text("# feed\n198.51.100.66\n\n", encoding="utf-8")
    det = detector(
        tmp_path,
        """
type: blacklist
compare_key: destination.ip
blacklist: ["203.0.113.66", "!file lists/bad.txt"]
query_key: source.ip
realert: {minutes: 0}
""",
    )
    out = feed(
        det,
        [
            fw(0, "fw", "10.0.0.1", **{"destination.ip": ip})
            for ip in ("192.0.2.1", "198.51.100.66", "203.0.113.66", "192.0.2.77")
        ],
    )
    assert [(m.group["source.ip"], m.details["values"]) for m in out] == [
        ("10.0.0.1", ["198.51.100.66"]),
        ("10.0.0.1", ["203.0.113.66"]),
    ]
    (lists / "bad.txt").write_text("192.0.2.77\n", encoding="utf-8")
    det.reload()
    out = feed(
        det, [fw(1, "fw", "10.0.0.2", **{"destination.ip": ip}) for ip in ("198.51.100.66", "192.0.2.77")]
    )
    assert [m.details["values"] for m in out] == [["192.0.2.77"]]

    white = StatefulDetector(
        [
            rule(
                tmp_path / "w",
                """
type: whitelist
compare_key: user.name
whitelist: [alice, bob]
ignore_null: true
realert: {minutes: 0}
""",
            )
        ]
    )
    out = feed(white, [ev(0, {"user.name": "alice"}), ev(1, {"user.name": "eve"}), ev(2, {"host.name": "x"})])
    assert [m.details["values"] for m in out] == [["eve"]]


def test_suppression_counts_and_aggregation(tmp_path: Path) -> None:
    det = detector(
        tmp_path,
        BRUTE.replace(
            "realert: {minutes: 5}",
            "realert: {minutes: 0}\nsuppress: {duration: {minutes: 30}, by: [host.name]}",
        ),
    )
    out = []
    for i, ip in enumerate(["203.0.113.1", "203.0.113.2", "203.0.113.3"]):
        out += feed(det, [ssh_fail(i + j * 0.01, ip) for j in range(10)])
    assert len(out) == 1  # same host: the second and third are suppressed
    out = feed(det, [ssh_fail(40 + j * 0.01, "203.0.113.4") for j in range(10)])
    assert len(out) == 1 and out[0].details["suppressed_count"] == 2
    assert det.stats["suppressed"] == 2

    agg = detector(
        tmp_path / "agg",
        BRUTE.replace("realert: {minutes: 5}", "realert: {minutes: 0}\naggregation: {minutes: 10}"),
    )
    out = []
    for i, ip in enumerate(["203.0.113.1", "203.0.113.2", "203.0.113.3"]):
        out += feed(agg, [ssh_fail(i + j * 0.01, ip) for j in range(10)])
    assert out == []
    out = feed(agg, [ev(11, {"event.action": "other"})])
    assert len(out) == 1
    assert out[0].details["aggregated_matches"] == 3
    assert [m["group"]["source.ip"] for m in out[0].details["matches"]] == [
        "203.0.113.1",
        "203.0.113.2",
        "203.0.113.3",
    ]
    assert len(out[0].events) == 20


def test_replayed_event_counts_once(tmp_path: Path) -> None:
    det = detector(tmp_path, BRUTE)
    events = [ssh_fail(i * 0.1, "203.0.113.9") for i in range(9)]
    assert feed(det, events + events) == []  # the same nine events delivered twice: still nine
    assert det.stats["duplicates"] == 9
    assert len(feed(det, [ssh_fail(1, "203.0.113.9")])) == 1


@pytest.mark.parametrize("kind", ["frequency", "cardinality"])
def test_bounded_state_evicts_and_counts(tmp_path: Path, kind: str) -> None:
    body = (
        BRUTE + "max_groups: 5\n"
        if kind == "frequency"
        else BRUTE.replace("type: frequency", "type: cardinality").replace(
            "num_events: 10",
            "cardinality_field: user.name\nmax_cardinality: 1000\nmax_values: 50\nmax_groups: 5",
        )
    )
    det = detector(tmp_path, body)
    feed(
        det,
        [ssh_fail(i * 0.001, f"10.1.{i // 250}.{i % 250}", f"user{i}") for i in range(1000)],
        tick_each=False,
    )
    stats = det.stats
    runtime = next(iter(det.runtimes.values()))
    assert len(runtime.groups) == 5
    assert stats["groups_evicted"] == 995
    assert stats["per_rule"][runtime.rule.id]["groups_evicted"] == 995
    if kind == "cardinality":
        many = detector(tmp_path / "one", body.replace("query_key: source.ip\n", ""))
        feed(many, [ssh_fail(i * 0.001, "10.9.9.9", f"user{i}") for i in range(200)], tick_each=False)
        assert many.stats["values_evicted"] == 150
        assert len(next(iter(many.runtimes.values())).groups[()].state["values"]) == 50


def test_snapshot_restore_round_trip_mid_window(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    det = detector(tmp_path, BRUTE, state=state)
    events = [ssh_fail(i * 0.1, "203.0.113.9") for i in range(10)]
    assert feed(det, events[:6]) == []
    assert det.save() == 1
    state.close()
    state = StateStore(tmp_path / "state.db")
    det2 = StatefulDetector([tmp_path / "rules"], state=state)
    assert feed(det2, events[3:6]) == []  # re-delivered after the checkpoint: counted once
    out = feed(det2, events[6:])
    assert len(out) == 1 and out[0].details["count"] == 10
    assert {e["event"]["id"] for e in out[0].events} == {e["event"]["id"] for e in events}
    state.close()


def test_incremental_checkpoints_write_what_changed_and_restore_exactly(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    det = detector(tmp_path, BRUTE + "max_groups: 3\n", state=state)
    runtime = next(iter(det.runtimes.values()))
    feed(det, [ssh_fail(i * 0.1, f"10.0.0.{i % 3}") for i in range(9)])
    first = det.checkpoint()
    delta = first.deltas[runtime.rule.id]
    assert delta.replace and len(delta.groups) == 3 and len(delta.ids) == 9
    first.commit(state)
    assert len(det.checkpoint()) == 0  # nothing changed
    feed(det, [ssh_fail(1, "10.0.0.1"), ssh_fail(1.1, "10.0.0.9")])  # one group touched, one new (evicts one)
    second = det.checkpoint()
    delta = second.deltas[runtime.rule.id]
    assert not delta.replace
    assert sorted(delta.groups) == ['["10.0.0.1"]', '["10.0.0.9"]'] and delta.removed == ['["10.0.0.0"]']
    assert [eid for eid, _ in delta.ids] == [e for e in list(runtime.seen)[-2:]]
    second.commit(state)
    state.close()

    state = StateStore(tmp_path / "state.db")
    again = StatefulDetector([tmp_path / "rules"], state=state)
    restored = next(iter(again.runtimes.values()))

    def norm(snap: dict) -> dict:
        return {**snap, "groups": sorted(snap["groups"], key=lambda g: g[0])}

    assert norm(restored.snapshot()) == norm(runtime.snapshot())
    assert list(restored.groups) == list(runtime.groups)  # least recently seen first, as before
    state.close()


def test_state_of_a_deleted_rule_is_dropped_at_start(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    det = detector(tmp_path, BRUTE, state=state)
    feed(det, [ssh_fail(0, "203.0.113.9")])
    det.save()
    (tmp_path / "rules" / "r.yml").unlink()
    write_rule(
        tmp_path / "rules", "other.yml", "name: other\nid: 6a1ee42d-1b0e-43e9-a0b9-3127c8dba3aa\n" + BRUTE
    )
    StatefulDetector([tmp_path / "rules"], state=state)
    assert state.query("SELECT count(*) AS n FROM stateful_group_state")[0]["n"] == 0
    assert state.query("SELECT count(*) AS n FROM stateful_rule_state")[0]["n"] == 0
    state.close()


def test_reload_keeps_windows_and_checkpoints_incrementally(tmp_path: Path) -> None:
    import os

    state = StateStore(tmp_path / "state.db")
    det = detector(tmp_path, BRUTE, state=state)
    feed(det, [ssh_fail(i * 0.1, f"10.0.0.{i}") for i in range(3)] + [ssh_fail(0.5, "203.0.113.9")] * 1)
    det.save()
    path = tmp_path / "rules" / "r.yml"
    path.write_text(path.read_text().replace("num_events: 10", "num_events: 2"))
    os.utime(path, ns=(1, 1))  # a new signature even within the same clock tick
    report = det.reload()
    assert report.changed_files and not report.errors
    after_reload = next(iter(det.checkpoint().deltas.values()))  # the header only: groups are current
    assert not after_reload.replace and after_reload.groups == {} and after_reload.ids == []
    out = feed(det, [ssh_fail(0.6, "203.0.113.9")])  # the window kept its first event: 2 of 2
    assert [m.details["count"] for m in out] == [2]
    delta = det.checkpoint().deltas[next(iter(det.runtimes))]
    assert not delta.replace and list(delta.groups) == ['["203.0.113.9"]']
    state.close()


def test_new_term_learning_period_learns_quietly_then_alerts(tmp_path: Path) -> None:
    body = """
type: new_term
filter: 'process.name:sudo'
fields: [user.name]
learning_period: {hours: 1}
realert: {minutes: 0}
"""
    det = detector(tmp_path, body)

    def sudo(at: float, user: str) -> dict:
        return ev(at, {"process.name": "sudo", "user.name": user})

    assert feed(det, [sudo(0, "alice"), sudo(10, "bob"), sudo(59.9, "carol")]) == []  # learning (minutes)
    late = feed(det, [sudo(60, "alice"), sudo(61, "mallory")])
    assert [m.group for m in late] == [{"user.name": "mallory"}]
