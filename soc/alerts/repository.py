"""Alerts in the state store: deduplicating upsert from detector matches, and queries."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from detectors.base import Match, severity_rank
from soc.alerts.model import Alert
from soc.event import Event, format_ts, get_field, parse_ts, utcnow
from soc.state import StateStore, register_schema

MAX_EVIDENCE = 100
MAX_EXCERPTS = 5
EXCERPT_CHARS = 300

register_schema(
    "alerts",
    """
    CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        rule_title TEXT NOT NULL,
        rule_type TEXT NOT NULL,
        rule_author TEXT NOT NULL DEFAULT '',
        rule_version TEXT NOT NULL DEFAULT '',
        rule_description TEXT NOT NULL DEFAULT '',
        severity TEXT NOT NULL,
        severity_rank INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        group_key TEXT NOT NULL,
        host TEXT, user TEXT, source_ip TEXT, agency_id TEXT, agency_name TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        refs TEXT NOT NULL DEFAULT '[]',
        excerpts TEXT NOT NULL DEFAULT '[]',
        details TEXT NOT NULL DEFAULT '{}',
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS alerts_dedup ON alerts(rule_id, group_key, last_seen);
    CREATE INDEX IF NOT EXISTS alerts_queue ON alerts(status, severity_rank, last_seen);
    CREATE INDEX IF NOT EXISTS alerts_last_seen ON alerts(last_seen, id);
    CREATE TABLE IF NOT EXISTS alert_evidence (
        alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (alert_id, event_id)
    );
    """,
)

OPEN_STATUSES = ("new", "acknowledged", "in_progress", "escalated")


@dataclass(slots=True)
class AlertChange:
    """What one match did: created a new alert, or updated an open one."""

    alert: Alert
    created: bool


@dataclass(frozen=True, slots=True)
class AlertFilter:
    status: str | None = None
    min_severity: str | None = None
    rule_id: str | None = None
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    agency_id: str | None = None
    since: datetime | None = None


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
    """Alert rows in the state store."""

    def __init__(self, state: StateStore, *, dedup_window: timedelta = timedelta(hours=1)) -> None:
        self._state = state
        self.dedup_window = dedup_window

    def record(self, match: Match) -> AlertChange | None:
        """Turn one match into a new alert or an update of the open alert with the same
        rule and group key inside the deduplication window.

        Returns ``None`` when every evidence event of the match is already on that
        alert (a re-delivered event after a crash must not count twice).
        """
        events = match.events
        last = events[-1] if events else {}
        group = match.group or entity_group(last)
        group_key = orjson.dumps(group, option=orjson.OPT_SORT_KEYS).decode()
        seen = format_ts(match.timestamp)
        now = format_ts(utcnow())
        window_start = format_ts(match.timestamp - self.dedup_window)
        event_ids = [str(get_field(e, "event.id")) for e in events if get_field(e, "event.id")]
        with self._state.transaction() as conn:
            row = conn.execute(
                "SELECT id, first_seen, last_seen FROM alerts WHERE rule_id = ? AND group_key = ? "
                f"AND status IN ({','.join('?' * len(OPEN_STATUSES))}) AND last_seen >= ? "
                "ORDER BY last_seen DESC LIMIT 1",
                (match.rule.id, group_key, *OPEN_STATUSES, window_start),
            ).fetchone()
            if row is not None:
                alert_id = row["id"]
                if event_ids and not self._add_evidence(conn, alert_id, event_ids):
                    return None
                conn.execute(
                    "UPDATE alerts SET count = count + 1, last_seen = max(last_seen, ?), "
                    "first_seen = min(first_seen, ?), updated = ?, excerpts = ? WHERE id = ?",
                    (seen, seen, now, self._merge_excerpts(conn, alert_id, events), alert_id),
                )
                return AlertChange(self._get(conn, alert_id), created=False)
            alert_id = uuid.uuid4().hex
            rule = match.rule
            conn.execute(
                "INSERT INTO alerts (id, rule_id, rule_title, rule_type, rule_author, rule_version, "
                "rule_description, severity, severity_rank, status, group_key, host, user, source_ip, "
                "agency_id, agency_name, tags, refs, excerpts, details, first_seen, last_seen, count, "
                "created, updated) VALUES (?,?,?,?,?,?,?,?,?,'new',?,?,?,?,?,?,?,?,?,?,?,?,1,?,?)",
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
                    get_field(last, "organization.id"),
                    get_field(last, "organization.name"),
                    orjson.dumps(list(rule.tags)).decode(),
                    orjson.dumps(list(rule.references)).decode(),
                    orjson.dumps([_excerpt(e) for e in events[-MAX_EXCERPTS:]]).decode(),
                    orjson.dumps(match.details, default=str).decode(),
                    format_ts(_first_time(match)),
                    seen,
                    now,
                    now,
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
        self, flt: AlertFilter = AlertFilter(), *, limit: int = 50, after: str | None = None
    ) -> tuple[list[Alert], str | None]:
        """Alerts newest first (by ``last_seen``, then id); ``after`` is the cursor
        returned with the previous page, ``None`` when there is no next page."""
        where: list[str] = []
        params: list[Any] = []
        for column in ("status", "rule_id", "host", "user", "source_ip", "agency_id"):
            value = getattr(flt, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if flt.min_severity is not None:
            where.append("severity_rank >= ?")
            params.append(severity_rank(flt.min_severity))
        if flt.since is not None:
            where.append("last_seen >= ?")
            params.append(format_ts(flt.since))
        if after:
            last_seen, last_id = _decode_cursor(after)
            where.append("(last_seen < ? OR (last_seen = ? AND id < ?))")
            params.extend([last_seen, last_seen, last_id])
        sql = "SELECT * FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY last_seen DESC, id DESC LIMIT ?"
        params.append(limit + 1)
        rows = self._state.query(sql, tuple(params))
        alerts = [_row_to_alert(row, None) for row in rows[:limit]]
        cursor = _encode_cursor(alerts[-1].last_seen, alerts[-1].id) if len(rows) > limit else None
        return alerts, cursor

    def count_by_severity(self) -> dict[str, int]:
        rows = self._state.query("SELECT severity, count(*) AS n FROM alerts GROUP BY severity")
        return {row["severity"]: row["n"] for row in rows}


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
    )


def _encode_cursor(last_seen: str, alert_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([last_seen, alert_id])).decode()


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        last_seen, alert_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        return str(last_seen), str(alert_id)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid alert cursor {cursor!r}") from exc
