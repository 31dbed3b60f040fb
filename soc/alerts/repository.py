"""Alerts in the state store: deduplicating upsert from detector matches, and queries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from detectors.base import Match, severity_rank
from soc.alerts.classify import (
    CRITICALITIES,
    asset_facts,
    entities_of,
    incident_type_from_tags,
    mitre_from_tags,
    risk_score,
)
from soc.alerts.model import Alert
from soc.alerts.queue import AlertFilter, cursor_of, queue_sql
from soc.alerts.schema import migrate_alerts
from soc.alerts.suppressions import MatchView, SuppressionStore
from soc.event import Event, format_ts, get_field, parse_ts, utcnow
from soc.state import StateStore

MAX_EVIDENCE = 100
MAX_EXCERPTS = 5
EXCERPT_CHARS = 300
OPEN_STATUSES = ("new", "acknowledged", "in_progress", "escalated")


@dataclass(slots=True)
class AlertChange:
    """What one match did: created a new alert, or updated an open one."""

    alert: Alert
    created: bool


def entity_group(event: Event) -> dict[str, Any]:
    """The entities a single-event alert is about (its deduplication group): the host
    and the source address when there is one (an attacker trying many user names is
    one alert), else the host and the user."""
    host = get_field(event, "host.name") or get_field(event, "host.hostname")
    source_ip = get_field(event, "source.ip")
    group = (
        {"host.name": host, "source.ip": source_ip}
        if source_ip
        else {"host.name": host, "user.name": get_field(event, "user.name")}
    )
    return {k: v for k, v in group.items() if v is not None}


def _excerpt(event: Event) -> str:
    text = get_field(event, "message") or get_field(event, "event.original") or ""
    return str(text)[:EXCERPT_CHARS]


class AlertRepository:
    """Alert rows in the state store (the schema is brought up to date at open)."""

    def __init__(self, state: StateStore, *, dedup_window: timedelta = timedelta(hours=1)) -> None:
        self._state = state
        self.dedup_window = dedup_window
        self.suppressed = 0
        """Matches silenced by a suppression since this repository was opened."""
        migrate_alerts(state)

    @property
    def state(self) -> StateStore:
        return self._state

    def record(self, match: Match) -> AlertChange | None:
        """Turn one match into a new alert or an update of the open alert with the same
        rule and group key inside the deduplication window.

        Returns ``None`` when every evidence event of the match is already on that
        alert (a re-delivered event after a crash must not count twice), or when an
        active suppression silences the match (counted on the suppression).
        """
        events = match.events
        last = events[-1] if events else {}
        group = match.group or entity_group(last)
        group_key = orjson.dumps(group, option=orjson.OPT_SORT_KEYS).decode()
        seen = format_ts(match.timestamp)
        now = format_ts(utcnow())
        window_start = format_ts(match.timestamp - self.dedup_window)
        event_ids = [str(get_field(e, "event.id")) for e in events if get_field(e, "event.id")]
        agency_id = _first(events, "organization.id")
        entities = entities_of(_same_agency(events, agency_id))
        facts = _strongest_asset(events)
        view = MatchView(match.rule.id, group, entities, agency_id, events)
        with self._state.transaction() as conn:
            if SuppressionStore.apply(conn, view, match.timestamp) is not None:
                self.suppressed += 1
                return None
            row = conn.execute(
                "SELECT id, entities, security_level, criticality, system, severity, agency_id FROM alerts "
                "WHERE rule_id = ? AND group_key = ? "
                f"AND status IN ({','.join('?' * len(OPEN_STATUSES))}) AND last_seen >= ? "
                "ORDER BY last_seen DESC LIMIT 1",
                (match.rule.id, group_key, *OPEN_STATUSES, window_start),
            ).fetchone()
            if row is not None:
                alert_id = row["id"]
                if event_ids and not self._add_evidence(conn, alert_id, event_ids):
                    return None
                merged = entities_of(_same_agency(events, row["agency_id"]), orjson.loads(row["entities"]))
                level, criticality, system = _stronger(
                    (row["security_level"], row["criticality"], row["system"]),
                    (facts["security_level"], facts["criticality"], facts["system"]),
                )
                conn.execute(
                    "UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?), "
                    "first_seen = min(first_seen, ?), updated = ?, excerpts = ?, entities = ?, "
                    "security_level = ?, criticality = ?, system = ?, risk_score = ? WHERE id = ?",
                    (
                        seen,
                        seen,
                        now,
                        self._merge_excerpts(conn, alert_id, events),
                        orjson.dumps(merged).decode(),
                        level,
                        criticality,
                        system,
                        risk_score(row["severity"], level, criticality),
                        alert_id,
                    ),
                )
                return AlertChange(self._get(conn, alert_id), created=False)
            alert_id = uuid.uuid4().hex
            rule = match.rule
            tactics, techniques = mitre_from_tags(rule.tags)
            conn.execute(
                "INSERT INTO alerts (id, rule_id, rule_title, rule_type, rule_author, rule_version, "
                "rule_description, severity, severity_rank, status, group_key, host, user, source_ip, "
                "agency_id, agency_name, tags, refs, excerpts, details, first_seen, last_seen, count, "
                "created, updated, risk_score, security_level, criticality, system, incident_type, "
                "mitre_tactics, mitre_techniques, entities) "
                "VALUES (?,?,?,?,?,?,?,?,?,'new',?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,?,?)",
                (
                    alert_id,
                    rule.id,
                    rule.title,
                    rule.type,
                    rule.author,
                    rule.version,
                    rule.description,
                    rule.severity,
                    severity_rank(rule.severity),
                    group_key,
                    group.get("host.name")
                    or get_field(last, "host.name")
                    or get_field(last, "host.hostname"),
                    group.get("user.name") or get_field(last, "user.name"),
                    group.get("source.ip") or get_field(last, "source.ip"),
                    agency_id,
                    _first(events, "organization.name"),
                    orjson.dumps(list(rule.tags)).decode(),
                    orjson.dumps(list(rule.references)).decode(),
                    orjson.dumps([_excerpt(e) for e in events[-MAX_EXCERPTS:]]).decode(),
                    orjson.dumps(match.details, default=str).decode(),
                    format_ts(_first_time(match)),
                    seen,
                    now,
                    now,
                    risk_score(rule.severity, facts["security_level"], facts["criticality"]),
                    facts["security_level"],
                    facts["criticality"],
                    facts["system"],
                    incident_type_from_tags(rule.tags),
                    orjson.dumps(tactics).decode(),
                    orjson.dumps(techniques).decode(),
                    orjson.dumps(entities).decode(),
                ),
            )
            self._add_evidence(conn, alert_id, event_ids)
            return AlertChange(self._get(conn, alert_id), created=True)

    def _add_evidence(self, conn: Any, alert_id: str, event_ids: Sequence[str]) -> int:
        """Attach event ids to an alert (newest kept, capped); returns how many were new."""
        base = conn.execute(
            "SELECT coalesce(max(seq), 0) FROM alert_evidence WHERE alert_id = ?", (alert_id,)
        ).fetchone()[0]
        added = 0
        for offset, event_id in enumerate(event_ids, start=1):
            cur = conn.execute(
                "INSERT OR IGNORE INTO alert_evidence(alert_id, event_id, seq) VALUES (?, ?, ?)",
                (alert_id, event_id, base + offset),
            )
            added += cur.rowcount
        if added:
            conn.execute(
                "DELETE FROM alert_evidence WHERE alert_id = ? AND seq <= "
                "(SELECT max(seq) FROM alert_evidence WHERE alert_id = ?) - ?",
                (alert_id, alert_id, MAX_EVIDENCE),
            )
        return added

    def _merge_excerpts(self, conn: Any, alert_id: str, events: Sequence[Event]) -> str:
        row = conn.execute("SELECT excerpts FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        excerpts = orjson.loads(row["excerpts"]) + [_excerpt(e) for e in events]
        return orjson.dumps(excerpts[-MAX_EXCERPTS:]).decode()

    def _get(self, conn: Any, alert_id: str) -> Alert:
        row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        evidence = [
            r["event_id"]
            for r in conn.execute(
                "SELECT event_id FROM alert_evidence WHERE alert_id = ? ORDER BY seq", (alert_id,)
            )
        ]
        return _row_to_alert(row, evidence)

    def get(self, alert_id: str) -> Alert | None:
        with self._state.transaction() as conn:
            if conn.execute("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)).fetchone() is None:
                return None
            return self._get(conn, alert_id)

    def list(
        self,
        flt: AlertFilter = AlertFilter(),
        *,
        limit: int = 50,
        after: str | None = None,
        sort: str = "last_seen",
    ) -> tuple[list[Alert], str | None]:
        """One page of alerts in ``sort`` order (see :mod:`soc.alerts.queue`; default
        newest first); ``after`` is the cursor returned with the previous page,
        ``None`` when there is no next page. Raises ``ValueError`` for a bad cursor or sort."""
        sql, params = queue_sql(flt, sort, limit, after)
        rows = self._state.query(sql, tuple(params))
        alerts = [_row_to_alert(row, None) for row in rows[:limit]]
        cursor = cursor_of(rows[limit - 1], sort) if len(rows) > limit else None
        return alerts, cursor

    def count_by_severity(self) -> dict[str, int]:
        rows = self._state.query("SELECT severity, count(*) AS n FROM alerts GROUP BY severity")
        return {row["severity"]: row["n"] for row in rows}


def _first(events: Sequence[Event], name: str) -> Any:
    """The value of ``name`` in the newest event that has one."""
    for event in reversed(events):
        value = get_field(event, name)
        if value is not None:
            return value
    return None


def _same_agency(events: Sequence[Event], agency_id: str | None) -> list[Event]:
    """The evidence events of the alert's agency (or of none): an agency officer reads
    the alert's entities, which must not name another agency's hosts or users."""
    return [e for e in events if get_field(e, "organization.id") in (None, agency_id)]


def _facts_rank(level: int | None, criticality: str | None) -> tuple[int, int]:
    return (level or 0, CRITICALITIES.index(criticality) + 1 if criticality in CRITICALITIES else 0)


def _strongest_asset(events: Sequence[Event]) -> dict[str, Any]:
    """Asset facts of the evidence event on the most important asset."""
    best = {"system": None, "security_level": None, "criticality": None}
    for event in events:
        facts = asset_facts(event)
        if _facts_rank(facts["security_level"], facts["criticality"]) > _facts_rank(
            best["security_level"], best["criticality"]
        ) or (best["system"] is None and facts["system"] is not None):
            best = facts
    return best


def _stronger(
    old: tuple[int | None, str | None, str | None], new: tuple[int | None, str | None, str | None]
) -> tuple[int | None, str | None, str | None]:
    return new if _facts_rank(new[0], new[1]) > _facts_rank(old[0], old[1]) else old


def _first_time(match: Match) -> datetime:
    stamps = [get_field(e, "@timestamp") for e in match.events]
    parsed = [parse_ts(s) for s in stamps if isinstance(s, str)]
    return min(parsed, default=match.timestamp)


def _row_to_alert(row: Any, evidence: list[str] | None) -> Alert:
    return Alert(
        id=row["id"],
        rule_id=row["rule_id"],
        rule_title=row["rule_title"],
        rule_type=row["rule_type"],
        severity=row["severity"],
        status=row["status"],
        group_key=row["group_key"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        count=row["count"],
        created=row["created"],
        updated=row["updated"],
        rule_author=row["rule_author"],
        rule_version=row["rule_version"],
        rule_description=row["rule_description"],
        host=row["host"],
        user=row["user"],
        source_ip=row["source_ip"],
        agency_id=row["agency_id"],
        agency_name=row["agency_name"],
        tags=orjson.loads(row["tags"]),
        references=orjson.loads(row["refs"]),
        evidence=evidence or [],
        excerpts=orjson.loads(row["excerpts"]),
        details=orjson.loads(row["details"]),
        risk_score=row["risk_score"],
        security_level=row["security_level"],
        criticality=row["criticality"],
        system=row["system"],
        incident_type=row["incident_type"],
        incident_type_overridden=bool(row["incident_type_overridden"]),
        mitre_tactics=orjson.loads(row["mitre_tactics"]),
        mitre_techniques=orjson.loads(row["mitre_techniques"]),
        entities=orjson.loads(row["entities"]),
        assignee=row["assignee"],
        resolution=row["resolution"],
        analyst_tags=orjson.loads(row["analyst_tags"]),
    )
