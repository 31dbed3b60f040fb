"""Alert classification and the triage workflow on a real state store: risk score,
incident type, entities, transitions, reopen, bulk, comments, tags, suppressions, the
schema migration, the sorted queue, and every change audited with the chain intact."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from detectors.base import Match, RuleInfo
from soc.alerts import Actor, AlertFilter, AlertRepository
from soc.alerts.classify import incident_type_from_tags, mitre_from_tags, risk_score
from soc.alerts.suppressions import SuppressionError, SuppressionStore
from soc.alerts.triage import TransitionError, TriageError, TriageService
from soc.audit import AuditLog
from soc.event import format_ts
from soc.state import StateStore

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
LAN = Actor("lan.nguyen", "soc_analyst", "10.0.0.5")


def rule(
    tags: tuple[str, ...] = ("attack.credential_access", "attack.t1110.001"),
    severity: str = "high",
    rule_id: str = "r-ssh",
) -> RuleInfo:
    return RuleInfo(id=rule_id, title="SSH brute force", type="sigma", severity=severity, tags=tags)  # type: ignore[arg-type]


def event(
    n: int, *, ip: str = "203.0.113.9", host: str = "web01", level: int | None = None, crit: str | None = None
) -> dict:
    ev: dict = {
        "@timestamp": format_ts(T0 + timedelta(seconds=n)),
        "event": {"id": f"ev-{ip}-{host}-{n}"},
        "host": {"name": host},
        "user": {"name": "root"},
        "source": {"ip": ip},
        "destination": {"ip": "10.10.1.5"},
        "url": {"domain": "Portal.Example.vn."},
        "organization": {"id": "so-tttt", "name": "Sở TTTT"},
        "message": f"Failed password for root from {ip} #{n}",
    }
    if level is not None or crit is not None:
        ev["soc"] = {"asset": {"system": "Cổng thông tin", "security_level": level, "criticality": crit}}
    return ev


def match(n: int, r: RuleInfo | None = None, **kw: object) -> Match:
    return Match(rule=r or rule(), events=[event(n, **kw)], timestamp=T0 + timedelta(seconds=n))  # type: ignore[arg-type]


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    yield s  # type: ignore[misc]
    s.close()


@pytest.fixture
def repo(state: StateStore) -> AlertRepository:
    return AlertRepository(state)


@pytest.fixture
def triage(repo: AlertRepository) -> TriageService:
    return TriageService(repo)


def new_alert(repo: AlertRepository, n: int = 0, **kw: object) -> str:
    change = repo.record(match(n, **kw))
    assert change is not None
    return change.alert.id


def test_alert_carries_classification_entities_and_asset_facts(repo: AlertRepository) -> None:
    alert = repo.record(match(0, level=3, crit="high")).alert  # type: ignore[union-attr]
    assert alert.mitre_tactics == ["credential_access"] and alert.mitre_techniques == ["T1110.001"]
    assert alert.incident_type == "unauthorized_access" and not alert.incident_type_overridden
    assert alert.entities == {
        "hosts": ["web01"],
        "users": ["root"],
        "ips": ["203.0.113.9", "10.10.1.5"],
        "domains": ["portal.example.vn"],
    }
    assert (alert.security_level, alert.criticality, alert.system) == (3, "high", "Cổng thông tin")
    assert alert.risk_score == risk_score("high", 3, "high") == 55 + 8 + 8
    updated = repo.record(match(1, host="web01", level=5, crit="critical"))
    assert updated is not None and not updated.created  # same rule + group key: deduplicated
    assert updated.alert.count == 2 and updated.alert.security_level == 5
    assert updated.alert.risk_score == risk_score("high", 5, "critical") == 85


def test_risk_score_is_monotone_and_bounded() -> None:
    severities = ("informational", "low", "medium", "high", "critical")
    levels = (None, 1, 2, 3, 4, 5)
    crits = (None, "low", "medium", "high", "critical")
    for s in severities:
        for c in crits:
            scores = [risk_score(s, lv, c) for lv in levels]
            assert scores == sorted(scores) and all(0 <= x <= 100 for x in scores)
    for lv in levels:
        for c in crits:
            scores = [risk_score(s, lv, c) for s in severities]
            assert scores == sorted(scores) and len(set(scores)) == len(scores)
    assert risk_score("medium", 5, None) > risk_score("medium", 1, None)
    assert risk_score("critical", 5, "critical") == 100 and risk_score("low", None, None) == 15


def test_risk_scales_with_the_assets_security_level(repo: AlertRepository) -> None:
    scores = []
    for level in (1, 2, 3, 4, 5):
        change = repo.record(match(level, host=f"h{level}", ip=f"198.51.100.{level}", level=level))
        assert change is not None
        scores.append(change.alert.risk_score)
    assert scores == sorted(scores) and len(set(scores)) == 5


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (("attack.impact", "attack.t1498"), "denial_of_service"),
        (("attack.t1499.002",), "denial_of_service"),
        (("attack.t1486",), "ransomware"),
        (("attack.t1491.001",), "defacement"),
        (("attack.t1078",), "unauthorized_access"),
        (("attack.t1566.001",), "spoofing"),
        (("attack.s0154",), "malware"),
        (("attack.t1485",), "destruction"),
        (("attack.t1048.003",), "espionage_data_theft"),
        (("attack.t1110", "attack.t1041"), "combined"),
        (("attack.discovery", "attack.t1087"), "other"),
        ((), "other"),
    ],
)
def test_incident_type_from_tags(tags: tuple[str, ...], expected: str) -> None:
    assert incident_type_from_tags(tags) == expected


def test_mitre_tags_parse() -> None:
    assert mitre_from_tags(
        ["attack.Lateral-Movement", "attack.t1021.004", "cve.2021-44228", "attack.t1021.004"]
    ) == (
        ["lateral_movement"],
        ["T1021.004"],
    )


def test_transitions_allowed_and_refused_with_clear_errors(
    repo: AlertRepository, triage: TriageService
) -> None:
    alert_id = new_alert(repo)
    with pytest.raises(
        TransitionError, match="cannot go from new to closed; from new only to: acknowledged, escalated"
    ):
        triage.set_status(LAN, alert_id, "closed", resolution="benign")
    with pytest.raises(TriageError, match="status: 'done' is not one of"):
        triage.set_status(LAN, alert_id, "done")
    assert triage.set_status(LAN, alert_id, "acknowledged").status == "acknowledged"
    assert triage.set_status(LAN, alert_id, "in_progress").status == "in_progress"
    with pytest.raises(TriageError, match="resolution: closing needs one of true_positive"):
        triage.set_status(LAN, alert_id, "closed")
    closed = triage.set_status(LAN, alert_id, "closed", resolution="false_positive")
    assert closed.status == "closed" and closed.resolution == "false_positive"
    with pytest.raises(TransitionError, match="from closed only to: new, in_progress"):
        triage.set_status(LAN, alert_id, "acknowledged")


def test_reopen_needs_a_reason_and_is_audited(
    state: StateStore, repo: AlertRepository, triage: TriageService
) -> None:
    alert_id = new_alert(repo)
    triage.set_status(LAN, alert_id, "acknowledged")
    triage.set_status(LAN, alert_id, "closed", resolution="benign")
    with pytest.raises(TriageError, match="reason: reopening a closed alert needs a reason"):
        triage.set_status(LAN, alert_id, "new")
    reopened = triage.set_status(LAN, alert_id, "in_progress", reason="same source came back")
    assert reopened.status == "in_progress" and reopened.resolution is None
    entries = AuditLog(state).entries(target_id=alert_id)
    assert [e.action for e in entries] == ["alert.status", "alert.status", "alert.reopen"]
    assert entries[-1].before == {"status": "closed", "resolution": "benign"}
    assert entries[-1].after == {
        "status": "in_progress",
        "resolution": None,
        "reason": "same source came back",
    }
    assert (entries[-1].actor, entries[-1].role, entries[-1].source) == (
        "lan.nguyen",
        "soc_analyst",
        "10.0.0.5",
    )
    notes = triage.comments(alert_id)
    assert [(c.kind, c.body) for c in notes] == [("status", "same source came back")]


def test_escalate_from_any_open_status(repo: AlertRepository, triage: TriageService) -> None:
    for n, path in enumerate([[], ["acknowledged"], ["acknowledged", "in_progress"]]):
        alert_id = new_alert(repo, n, ip=f"192.0.2.{n}")
        for status in path:
            triage.set_status(LAN, alert_id, status)
        assert triage.set_status(LAN, alert_id, "escalated", reason="ransom note").status == "escalated"
        assert triage.set_status(LAN, alert_id, "closed", resolution="true_positive").status == "closed"


def test_assign_comment_tags_and_incident_type_override(
    state: StateStore, repo: AlertRepository, triage: TriageService
) -> None:
    alert_id = new_alert(repo)
    assert triage.assign(LAN, alert_id, "minh.tran").assignee == "minh.tran"
    assert triage.assign(LAN, alert_id, "").assignee is None
    first = triage.comment(LAN, alert_id, "Nguồn tấn công từ nước ngoài")
    triage.comment(Actor("minh.tran", "responder"), alert_id, "blocked at the firewall")
    assert [(c.author, c.body) for c in triage.comments(alert_id)] == [
        ("lan.nguyen", "Nguồn tấn công từ nước ngoài"),
        ("minh.tran", "blocked at the firewall"),
    ]
    assert first.id > 0
    with pytest.raises(TriageError, match="body: a comment cannot be empty"):
        triage.comment(LAN, alert_id, "  ")
    assert triage.set_tags(LAN, alert_id, add=["vip", "phishing"]).analyst_tags == ["vip", "phishing"]
    assert triage.set_tags(LAN, alert_id, remove=["vip"]).analyst_tags == ["phishing"]
    with pytest.raises(TriageError, match="without spaces"):
        triage.set_tags(LAN, alert_id, add=["two words"])
    overridden = triage.set_incident_type(LAN, alert_id, "spoofing")
    assert overridden.incident_type == "spoofing" and overridden.incident_type_overridden
    with pytest.raises(TriageError, match="incident_type: 'phishing' is not one of"):
        triage.set_incident_type(LAN, alert_id, "phishing")
    assert repo.list(AlertFilter(analyst_tag="phishing"))[0][0].id == alert_id
    entries = AuditLog(state).entries(target_id=alert_id)
    actions = [e.action for e in entries]
    assert actions == [
        "alert.assign",
        "alert.assign",
        "alert.comment",
        "alert.comment",
        "alert.tags",
        "alert.tags",
        "alert.incident_type",
    ]
    assert entries[-1].before == {"incident_type": "unauthorized_access", "incident_type_overridden": False}
    assert entries[-1].after == {"incident_type": "spoofing", "incident_type_overridden": True}
    assert AuditLog(state).verify().ok


def test_bulk_reports_each_id_and_keeps_going(
    state: StateStore, repo: AlertRepository, triage: TriageService
) -> None:
    a = new_alert(repo, 0, ip="192.0.2.1")
    b = new_alert(repo, 1, ip="192.0.2.2")
    triage.set_status(LAN, b, "acknowledged")
    results = triage.bulk(LAN, [a, "missing", b], "status", {"status": "acknowledged"})
    assert [(r.id, r.ok, r.code) for r in results] == [
        (a, True, None),
        ("missing", False, "not_found"),
        (b, False, "conflict"),
    ]
    assert "cannot go from acknowledged to acknowledged" in (results[2].error or "")
    closed = triage.bulk(LAN, [a, b], "status", {"status": "closed", "resolution": "duplicate"})
    assert all(r.ok for r in closed)
    with pytest.raises(TriageError, match="action: 'delete' is not one of"):
        triage.bulk(LAN, [a], "delete", {})
    missing_param = triage.bulk(LAN, [a], "comment", {})
    assert missing_param[0].error == "body: required for action 'comment'"
    assert len(AuditLog(state).entries()) == 4  # one per change made, none for refusals
    assert AuditLog(state).verify().ok


def test_suppression_silences_counts_and_is_audited(state: StateStore, repo: AlertRepository) -> None:
    store = SuppressionStore(state)
    with pytest.raises(SuppressionError, match="reason: a reason is required"):
        store.create(LAN, reason=" ", rule_id="r-ssh")
    with pytest.raises(SuppressionError, match="scope: give a rule id"):
        store.create(LAN, reason="x")
    with pytest.raises(SuppressionError, match=r"expires: .* is not in the future"):
        store.create(LAN, reason="x", rule_id="r-ssh", expires=datetime(2020, 1, 1, tzinfo=UTC))
    s = store.create(
        LAN, reason="scanner of the assessor", rule_id="r-ssh", conditions={"ip": "203.0.113.0/24"}
    )
    assert repo.record(match(0)) is None and repo.record(match(1)) is None
    assert repo.record(match(2, ip="198.51.100.7")) is not None  # outside the scope
    other = rule(rule_id="r-other")
    assert repo.record(match(3, r=other)) is not None  # another rule
    assert sorted((a.rule_id, a.source_ip) for a in repo.list()[0]) == [
        ("r-other", "203.0.113.9"),
        ("r-ssh", "198.51.100.7"),
    ]
    listed = store.list()
    assert (
        listed[0].id == s.id
        and listed[0].hits == 2
        and listed[0].last_hit == format_ts(T0 + timedelta(seconds=1))
    )
    assert repo.suppressed == 2
    removed = store.remove(Actor("minh"), s.id)
    assert removed is not None and not removed.active and removed.removed_by == "minh"
    assert store.remove(Actor("minh"), s.id) is None
    assert store.list() == [] and len(store.list(include_inactive=True)) == 1
    assert repo.record(match(4)) is not None  # no longer silenced
    actions = [(e.action, e.actor) for e in AuditLog(state).entries(target_type="suppression")]
    assert actions == [("suppression.create", "lan.nguyen"), ("suppression.remove", "minh")]
    assert AuditLog(state).verify().ok


def test_suppression_by_agency_glob_and_expiry(state: StateStore, repo: AlertRepository) -> None:
    store = SuppressionStore(state)
    store.create(
        LAN,
        reason="maintenance window",
        conditions={"agency": "so-tttt", "host.name": "web*"},
        expires=datetime.now(UTC) + timedelta(seconds=1),
    )
    assert repo.record(match(0)) is None
    assert repo.record(match(1, host="db01")) is not None  # host does not match the glob
    time.sleep(1.2)
    assert repo.record(match(2)) is not None  # expired
    assert store.list() == [] and store.list(include_inactive=True)[0].hits == 1


def test_migration_adds_columns_to_an_old_state_db(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY, rule_id TEXT NOT NULL, rule_title TEXT NOT NULL, rule_type TEXT NOT NULL,
            rule_author TEXT NOT NULL DEFAULT '', rule_version TEXT NOT NULL DEFAULT '',
            rule_description TEXT NOT NULL DEFAULT '', severity TEXT NOT NULL, severity_rank INTEGER NOT NULL,
            status TEXT NOT NULL DEFAULT 'new', group_key TEXT NOT NULL,
            host TEXT, user TEXT, source_ip TEXT, agency_id TEXT, agency_name TEXT,
            tags TEXT NOT NULL DEFAULT '[]', refs TEXT NOT NULL DEFAULT '[]',
            excerpts TEXT NOT NULL DEFAULT '[]',
            details TEXT NOT NULL DEFAULT '{}', first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,
            count INTEGER NOT NULL DEFAULT 1, created TEXT NOT NULL, updated TEXT NOT NULL);
        INSERT INTO alerts (id, rule_id, rule_title, rule_type, severity, severity_rank, group_key, tags,
            first_seen, last_seen, created, updated)
        VALUES ('old1', 'r', 'Old', 'sigma', 'critical', 4, '{}', '["attack.t1486"]',
            '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z',
            '2025-01-01T00:00:00.000Z');
        """
    )
    conn.commit()
    conn.close()
    state = StateStore(path)
    repo = AlertRepository(state)
    old = repo.get("old1")
    assert old is not None
    assert (old.incident_type, old.mitre_techniques, old.risk_score, old.assignee) == (
        "ransomware",
        ["T1486"],
        70,
        None,
    )
    indexes = {r["name"] for r in state.query("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "alerts_agency_status_risk" in indexes
    AlertRepository(state)  # idempotent
    state.close()


def test_queue_sorts_filters_and_pages_stably(repo: AlertRepository, triage: TriageService) -> None:
    ids = []
    for n in range(12):
        level = n % 5 + 1
        severity = ("low", "medium", "high", "critical")[n % 4]
        r = rule(severity=severity, rule_id=f"r{n}")
        ids.append(repo.record(match(n, r=r, ip=f"192.0.2.{n}", level=level)).alert.id)  # type: ignore[union-attr]
    triage.assign(LAN, ids[3], "minh")
    seen: list[tuple[int, str, str]] = []
    cursor = None
    while True:
        page, cursor = repo.list(limit=5, after=cursor, sort="risk")
        seen += [(a.risk_score, a.last_seen, a.id) for a in page]
        if cursor is None:
            break
    assert len(seen) == 12 and seen == sorted(seen, reverse=True)
    by_severity = repo.list(sort="severity", limit=3)[0]
    assert [a.severity for a in by_severity] == ["critical"] * 3
    assert [a.id for a in repo.list(AlertFilter(assignee="minh"))[0]] == [ids[3]]
    assert len(repo.list(AlertFilter(assignee="-"))[0]) == 11
    assert all(a.risk_score >= 60 for a in repo.list(AlertFilter(min_risk=60))[0])
    assert len(repo.list(AlertFilter(status="new,acknowledged", agency_id="so-tttt"))[0]) == 12
    assert repo.list(AlertFilter(incident_type="ransomware"))[0] == []
    with pytest.raises(ValueError, match="not one of a page sorted by 'risk'"):
        repo.list(after=repo.list(limit=1)[1], sort="risk")


def test_alert_to_dict_is_json_with_the_routing_fields(repo: AlertRepository) -> None:
    alert = repo.record(match(0, level=2)).alert  # type: ignore[union-attr]
    doc = orjson.loads(orjson.dumps(alert.to_dict()))
    for name in (
        "risk_score",
        "security_level",
        "criticality",
        "incident_type",
        "mitre_tactics",
        "mitre_techniques",
        "entities",
        "system",
        "assignee",
    ):
        assert name in doc
    ecs = alert.to_ecs()
    assert ecs["threat"]["technique"]["id"] == ["T1110.001"] and ecs["labels"]["security_level"] == "2"


def test_incident_type_keys_agree_with_config_and_routing() -> None:
    from soc.alerts.classify import INCIDENT_TYPES
    from soc.config import INCIDENT_TYPES as CONFIG_TYPES
    from soc.routing.national import INCIDENT_TYPE_VI

    assert tuple(INCIDENT_TYPES) == CONFIG_TYPES and set(INCIDENT_TYPE_VI) == set(INCIDENT_TYPES)


def test_planner_statistics_are_installed_so_queue_pages_walk_an_index(
    state: StateStore, repo: AlertRepository
) -> None:
    from soc.alerts.queue import queue_sql

    stats = {r["idx"] for r in state.query("SELECT idx FROM sqlite_stat1 WHERE tbl = 'alerts'")}
    assert {"alerts_status_last", "alerts_risk", "alerts_agency_status_risk"} <= stats
    for flt, sort in [
        (AlertFilter(status="new", min_severity="high"), "last_seen"),
        (AlertFilter(status="new,acknowledged,in_progress"), "severity"),
        (AlertFilter(agency_id="a", status="new", min_severity="high"), "risk"),
    ]:
        sql, params = queue_sql(flt, sort, 50, None)
        plan = " ".join(r["detail"] for r in state.query("EXPLAIN QUERY PLAN " + sql, tuple(params)))
        assert "TEMP B-TREE" not in plan, (flt, sort, plan)  # no sort of every matching alert


def test_entities_come_only_from_the_alerts_agency(repo: AlertRepository) -> None:
    other = event(0, host="host-of-b", ip="198.51.100.1")
    other["organization"] = {"id": "ubnd-tinh", "name": "B"}
    own = event(1, host="web01", ip="198.51.100.1")
    alert = repo.record(Match(rule=rule(), events=[other, own], timestamp=T0)).alert  # type: ignore[union-attr]
    assert alert.agency_id == "so-tttt" and alert.entities["hosts"] == ["web01"]
