"""Alerts: deduplication by rule and group key, replay idempotence, queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.base import Match, RuleInfo
from soc.alerts import AlertFilter, AlertRepository
from soc.event import format_ts
from soc.state import StateStore

RULE = RuleInfo(
    id="r-ssh",
    title="SSH invalid user",
    type="sigma",
    severity="medium",
    author="SOC engine project",
    tags=("attack.t1110",),
)
T0 = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def event(n: int, ip: str = "203.0.113.45", host: str = "portal01", user: str = "admin") -> dict:
    return {
        "@timestamp": format_ts(T0 + timedelta(seconds=n)),
        "event": {"id": f"ev-{ip}-{n}"},
        "host": {"name": host},
        "user": {"name": user},
        "source": {"ip": ip},
        "organization": {"id": "ubnd-tinh", "name": "Văn phòng UBND tỉnh"},
        "message": f"Invalid user admin from {ip} port {40000 + n}",
    }


def match(n: int, **kw: str) -> Match:
    return Match(rule=RULE, events=[event(n, **kw)], timestamp=T0 + timedelta(seconds=n))


@pytest.fixture
def repo(tmp_path: Path) -> AlertRepository:
    return AlertRepository(StateStore(tmp_path / "state.db"), dedup_window=timedelta(minutes=60))


def test_same_entities_in_window_update_one_alert(repo: AlertRepository) -> None:
    first = repo.record(match(0))
    assert first is not None and first.created
    for n in range(1, 5):
        change = repo.record(match(n))
        assert change is not None and not change.created
    alerts, cursor = repo.list()
    assert cursor is None and len(alerts) == 1
    alert = repo.get(alerts[0].id)
    assert alert is not None
    assert alert.count == 5
    assert alert.first_seen == format_ts(T0) and alert.last_seen == format_ts(T0 + timedelta(seconds=4))
    assert alert.evidence == [f"ev-203.0.113.45-{n}" for n in range(5)]
    assert (alert.host, alert.user, alert.source_ip, alert.agency_id) == (
        "portal01",
        "admin",
        "203.0.113.45",
        "ubnd-tinh",
    )
    assert alert.rule_author == "SOC engine project" and alert.tags == ["attack.t1110"]


def test_one_source_trying_many_user_names_is_one_alert(repo: AlertRepository) -> None:
    for n, user in enumerate(["admin", "oracle", "test", "ubuntu"]):
        repo.record(match(n, user=user))
    alerts = repo.list()[0]
    assert len(alerts) == 1 and alerts[0].count == 4


def test_without_source_address_the_user_is_the_entity(repo: AlertRepository) -> None:
    for user in ("alice", "bob"):
        ev = {
            "@timestamp": format_ts(T0),
            "event": {"id": f"sudo-{user}"},
            "host": {"name": "web01"},
            "user": {"name": user},
            "message": "sudo",
        }
        repo.record(Match(rule=RULE, events=[ev], timestamp=T0))
    assert sorted(a.user for a in repo.list()[0]) == ["alice", "bob"]  # type: ignore[type-var]


def test_redelivered_match_is_not_counted_twice(repo: AlertRepository) -> None:
    repo.record(match(0))
    assert repo.record(match(0)) is None
    assert repo.list()[0][0].count == 1


def test_other_group_or_outside_window_creates_new_alert(repo: AlertRepository) -> None:
    repo.record(match(0))
    assert repo.record(match(1, ip="198.51.100.9")).created  # type: ignore[union-attr]
    late = Match(rule=RULE, events=[event(7200)], timestamp=T0 + timedelta(hours=2))
    assert repo.record(late).created  # type: ignore[union-attr]
    assert len(repo.list()[0]) == 3


def test_list_filters_and_cursor_pages(repo: AlertRepository) -> None:
    for n in range(7):
        repo.record(match(n, ip=f"198.51.100.{n}"))
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = repo.list(limit=3, after=cursor)
        seen += [a.id for a in page]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7
    assert len(repo.list(AlertFilter(source_ip="198.51.100.3"))[0]) == 1
    assert repo.list(AlertFilter(min_severity="high"))[0] == []
    assert len(repo.list(AlertFilter(min_severity="medium"))[0]) == 7
    assert repo.count_by_severity() == {"medium": 7}
