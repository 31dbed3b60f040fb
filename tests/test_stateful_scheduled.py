"""The scheduled adapter over real stores (DuckDB, and Elasticsearch on the test server):
consecutive windows give exactly the streaming matches; state survives snapshot/restore;
a failed window leaves the state as it was."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from detectors.base import Match
from detectors.stateful import StatefulDetector, load_rules, scheduled_rules
from detectors.stateful.scheduled import ScheduledStatefulRule
from soc.store import StoreError
from tests.helpers_stateful import T0, ev, feed, fw, ssh_fail, ssh_ok, write_rule
from tests.helpers_store import open_test_store

RULES = {
    "brute.yml": """
type: frequency
filter: 'event.action:ssh_login event.outcome:failure'
query_key: source.ip
timeframe: {minutes: 5}
num_events: 10
realert: {minutes: 30}
""",
    "scan.yml": """
type: cardinality
filter:
  detection:
    denied: {event.type: denied}
    condition: denied
query_key: source.ip
cardinality_field: destination.port
max_cardinality: 15
timeframe: {minutes: 5}
""",
    "silent.yml": """
type: flatline
filter: 'event.category:network'
query_key: observer.hostname
threshold: 1
timeframe: {minutes: 15}
""",
    "admin.yml": """
type: new_term
filter: 'process.name:sudo'
fields: [user.name]
terms_window_size: {hours: 1}
realert: {minutes: 0}
""",
    "spike.yml": """
type: spike
filter: 'event.category:network'
query_key: source.ip
timeframe: {minutes: 10}
spike_height: 3
spike_type: up
threshold_ref: 5
threshold_cur: 30
realert: {minutes: 0}
""",
    "bytes.yml": """
type: metric_aggregation
filter: 'event.category:network'
query_key: source.ip
metric_agg_key: source.bytes
metric_agg_type: sum
max_threshold: 100000
timeframe: {minutes: 30}
""",
    "bad.yml": """
type: blacklist
filter: 'event.category:network'
compare_key: destination.ip
blacklist: [198.51.100.66]
query_key: source.ip
""",
    "change.yml": """
type: change
filter: 'event.action:ssh_login event.outcome:success'
query_key: user.name
compare_key: source.ip
ignore_null: true
realert: {minutes: 0}
""",
    "pct.yml": """
type: percentage_match
filter: 'event.action:ssh_login'
query_key: host.name
match_bucket_filter: 'event.outcome:failure'
max_percentage: 90
min_denominator: 5
timeframe: {minutes: 10}
""",
    "white.yml": """
type: whitelist
filter: 'process.name:sudo'
compare_key: user.name
whitelist: [root, alice]
""",
}


def write_rules(tmp_path: Path, mode: str) -> Path:
    folder = tmp_path / f"rules-{mode}"
    for name, body in RULES.items():
        rid = uuid.uuid5(uuid.NAMESPACE_URL, name)
        extra = "mode: scheduled\nrun_every: {minutes: 5}\n" if mode == "scheduled" else ""
        write_rule(folder, name, f"name: {name}\nid: {rid}\nseverity: high\n{extra}{body}")
    return folder


def timeline() -> list[dict[str, Any]]:
    sudo = {"process.name": "sudo", "system.auth.sudo.command": "/bin/id"}
    events = [ev(-50 + i, {**sudo, "user.name": "alice"}) for i in range(3)]  # before the first window: seed
    events += [ssh_fail(2 + i * 0.2, "203.0.113.9") for i in range(12)]  # brute force across a window edge
    events += [ssh_fail(i * 4, "198.51.100.7") for i in range(10)]  # slow: never 10 in 5 minutes
    events += [ssh_ok(1, "10.0.0.5")]
    events += [fw(6 + i * 0.1, "fw-1", "198.51.100.20", port=1000 + i, denied=True) for i in range(20)]
    events += [fw(m, "fw-1") for m in range(0, 60)]
    events += [fw(m + 0.5, "fw-2") for m in range(0, 12)]  # fw-2 goes silent at 11.5
    events += [ev(20, {**sudo, "user.name": "alice"}), ev(21, {**sudo, "user.name": "mallory"})]
    events += [fw(m + 0.2, "fw-1", "10.0.0.77") for m in range(20)]  # steady: 10 per 10 minutes
    events += [fw(22 + i * 0.05, "fw-1", "10.0.0.77", **{"source.bytes": 5000}) for i in range(40)]  # burst
    events += [fw(30.5, "fw-1", "10.0.0.78", **{"destination.ip": "198.51.100.66"})]
    events += [ssh_ok(40, "203.0.113.80")]  # root from elsewhere: a change
    return sorted(events, key=lambda e: e["@timestamp"])


def key(m: Match) -> tuple[str, str, str]:
    important = {
        k: v for k, v in m.details.items() if k in ("count", "cardinality", "new_terms", "threshold")
    }
    return (m.rule.title, repr(sorted(m.group.items())), repr(sorted(important.items())))


@pytest.fixture(params=["duckdb", pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    s = open_test_store(request.param, tmp_path / "store")
    s.write(timeline())
    s.flush()
    yield s
    s.close()


def run_windows(rules: list[Any], store: Any, start: int, end: int) -> list[Match]:
    out: list[Match] = []
    for k in range(start, end):
        for rule in rules:
            lo = T0 + timedelta(minutes=5 * k)
            out.extend(rule.evaluate(store, lo, lo + rule.run_every))
    return out


def test_scheduled_windows_equal_streaming(store: Any, tmp_path: Path) -> None:
    rules, errors = load_rules([write_rules(tmp_path, "scheduled")])
    assert errors == []
    scheduled = scheduled_rules(rules)
    assert len(scheduled) == 10 and all(isinstance(r, ScheduledStatefulRule) for r in scheduled)
    assert {r.run_every for r in scheduled} == {timedelta(minutes=5)}
    got = run_windows(scheduled, store, 0, 12)  # one hour in 5-minute windows

    streaming = StatefulDetector([write_rules(tmp_path, "streaming")])
    feed(streaming, [e for e in timeline() if e["@timestamp"] < "2026-11-02T08:00"], tick_each=False)
    want = feed(streaming, [e for e in timeline() if e["@timestamp"] >= "2026-11-02T08:00"])
    want += streaming.tick(T0 + timedelta(hours=1))

    assert sorted(map(key, got)) == sorted(map(key, want))
    titles = sorted(m.rule.title for m in got)
    assert titles == [
        "admin.yml", "bad.yml", "brute.yml", "bytes.yml", "change.yml", "pct.yml", "scan.yml", "silent.yml",
        "spike.yml", "white.yml",
    ]  # fmt: skip
    by_title = {m.rule.title: m for m in got}
    assert by_title["brute.yml"].group == {"source.ip": "203.0.113.9"}
    assert by_title["admin.yml"].group == {"user.name": "mallory"}  # alice was seeded from before
    assert by_title["silent.yml"].group == {"observer.hostname": "fw-2"}
    assert by_title["scan.yml"].details["cardinality"] == 16
    assert by_title["spike.yml"].group == {"source.ip": "10.0.0.77"}
    assert by_title["spike.yml"].details["reference_count"] == 10
    assert (
        by_title["bytes.yml"].group == {"source.ip": "10.0.0.77"}
        and by_title["bytes.yml"].details["value"] == 200000
    )
    assert by_title["bad.yml"].group == {"source.ip": "10.0.0.78", "destination.ip": "198.51.100.66"}
    assert by_title["change.yml"].details["new_value"] == ["203.0.113.80"]
    assert by_title["pct.yml"].details["total"] == 16 and by_title["pct.yml"].details["match_count"] == 15
    assert by_title["white.yml"].details["values"] == ["mallory"]


def test_snapshot_restore_between_windows(store: Any, tmp_path: Path) -> None:
    rules, _ = load_rules([write_rules(tmp_path, "scheduled")])
    whole = run_windows(scheduled_rules(rules), store, 0, 12)
    first = scheduled_rules(rules)
    part = run_windows(first, store, 0, 1)  # the brute force is half way through
    saved = [r.snapshot() for r in first]
    resumed = scheduled_rules(rules)
    for rule, state in zip(resumed, saved, strict=True):
        rule.restore(state)
    part += run_windows(resumed, store, 1, 12)
    assert sorted(map(key, part)) == sorted(map(key, whole))


class FailingStore:
    """A real store whose second search fails, as a store outage would."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls = 0

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls >= 2:
            raise StoreError("store unavailable")
        return self.store.search(*args, **kwargs)


def test_failed_window_keeps_state(store: Any, tmp_path: Path) -> None:
    rules, _ = load_rules([write_rules(tmp_path, "scheduled")])
    admin = next(r for r in scheduled_rules(rules) if r.rule.title == "admin.yml")
    before = admin.snapshot()
    with pytest.raises(StoreError):  # the seeding query succeeds, the window's query fails
        admin.evaluate(FailingStore(store), T0 + timedelta(minutes=5), T0 + timedelta(minutes=25))
    assert admin.snapshot() == before and before["seeded"] is False
    out = admin.evaluate(store, T0 + timedelta(minutes=5), T0 + timedelta(minutes=25))
    assert [m.group for m in out] == [{"user.name": "mallory"}]
