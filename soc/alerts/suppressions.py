"""Suppressions: analyst-made silences of matches, with a scope, a reason and an expiry.

A suppression's scope is a rule id and/or conditions ``field -> pattern`` that must all
hold for a match. A condition field is one of

* ``agency`` (the events' ``organization.id``), ``host``, ``user``, ``ip``, ``domain``
  (any of the alert's entities of that kind, see :mod:`soc.alerts.classify`), or
* any ECS field (``source.ip``, ``process.name``), read from the match's group-by
  values and its evidence events;

and holds when any value equals the pattern (case-insensitive), matches it as a shell
glob (``*``, ``?``), or, for a CIDR pattern (``10.0.0.0/8``), lies in that network.

A suppressed match creates and updates no alert; it increments the suppression's
``hits`` and ``last_hit`` so the analyst sees it working. Creating and removing a
suppression is written to the audit log in the same transaction. Removed and expired
suppressions stay listed (``include_inactive``).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from soc.alerts.actor import Actor
from soc.audit import AuditLog
from soc.event import Event, format_ts, get_field, utcnow
from soc.state import StateStore, register_schema

register_schema(
    "suppressions",
    """
    CREATE TABLE IF NOT EXISTS suppressions (
        id TEXT PRIMARY KEY,
        rule_id TEXT,
        conditions TEXT NOT NULL DEFAULT '{}',
        reason TEXT NOT NULL,
        creator TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT,
        removed TEXT,
        removed_by TEXT,
        hits INTEGER NOT NULL DEFAULT 0,
        last_hit TEXT
    );
    CREATE INDEX IF NOT EXISTS suppressions_active ON suppressions(removed, expires);
    """,
)


class SuppressionError(ValueError):
    """A suppression that cannot be created as asked; names the field that is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


_DURATION_RE = re.compile(r"(\d+)\s*([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_expiry(text: str, *, now: datetime | None = None) -> datetime:
    """``"8h"``, ``"7d"``, ``"30m"``, ``"2w"`` from now, or an ISO 8601 time (without
    a zone: UTC); :class:`SuppressionError` naming ``expires`` otherwise."""
    now = now or utcnow()
    stripped = text.strip()
    if match := _DURATION_RE.fullmatch(stripped):
        amount, unit = match.groups()
        return now + timedelta(**{_UNITS[unit]: int(amount)})
    try:
        when = datetime.fromisoformat(stripped.replace("Z", "+00:00"))
    except ValueError:
        raise SuppressionError(
            "expires", f"{text!r} is not a duration (30m, 8h, 7d, 2w) or an ISO 8601 time"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


ENTITY_KEYS = {"host": "hosts", "user": "users", "ip": "ips", "domain": "domains"}
AGENCY_KEYS = ("agency", "agency_id")


@dataclass(slots=True)
class Suppression:
    id: str
    rule_id: str | None
    conditions: dict[str, str]
    reason: str
    creator: str
    created: str
    expires: str | None
    removed: str | None = None
    removed_by: str | None = None
    hits: int = 0
    last_hit: str | None = None
    active: bool = field(default=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class MatchView:
    """What a suppression is checked against: the rule, the group-by values, the
    entities, the agency and the evidence events of one match."""

    rule_id: str
    group: Mapping[str, Any]
    entities: Mapping[str, list[str]]
    agency_id: str | None
    events: list[Event]

    def values(self, key: str) -> list[str]:
        if key in AGENCY_KEYS:
            return [self.agency_id] if self.agency_id else []
        if key in ENTITY_KEYS:
            return list(self.entities.get(ENTITY_KEYS[key], []))
        found: list[str] = []
        if key in self.group and self.group[key] is not None:
            found.append(str(self.group[key]))
        for event in self.events:
            value = get_field(event, key)
            for item in value if isinstance(value, list) else [value]:
                if item is not None and not isinstance(item, dict | list):
                    found.append(str(item))
        return found


def condition_holds(pattern: str, values: list[str]) -> bool:
    pattern_l = pattern.lower()
    network = _network(pattern) if "/" in pattern else None
    for value in values:
        value_l = value.lower()
        if value_l == pattern_l or fnmatch.fnmatchcase(value_l, pattern_l):
            return True
        if network is not None:
            try:
                if ipaddress.ip_address(value) in network:
                    return True
            except ValueError:
                continue
    return False


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _row(row: sqlite3.Row, now: str) -> Suppression:
    return Suppression(
        id=row["id"],
        rule_id=row["rule_id"],
        conditions=orjson.loads(row["conditions"]),
        reason=row["reason"],
        creator=row["creator"],
        created=row["created"],
        expires=row["expires"],
        removed=row["removed"],
        removed_by=row["removed_by"],
        hits=row["hits"],
        last_hit=row["last_hit"],
        active=row["removed"] is None and (row["expires"] is None or row["expires"] > now),
    )


class SuppressionStore:
    """Suppressions in the state store."""

    def __init__(self, state: StateStore) -> None:
        self._state = state
        self._audit = AuditLog(state)

    def create(
        self,
        actor: Actor,
        *,
        reason: str,
        rule_id: str | None = None,
        conditions: Mapping[str, str] | None = None,
        expires: datetime | None = None,
    ) -> Suppression:
        conditions = {str(k).strip(): str(v).strip() for k, v in (conditions or {}).items()}
        if not rule_id and not conditions:
            raise SuppressionError("scope", "give a rule id and/or at least one field=value condition")
        for key, value in conditions.items():
            if not key or not value:
                raise SuppressionError("conditions", f"empty field or value in {key!r}={value!r}")
        if not reason or not reason.strip():
            raise SuppressionError("reason", "a reason is required (why is this silenced?)")
        now = utcnow()
        if expires is not None:
            if expires.tzinfo is None:
                raise SuppressionError("expires", "must carry a time zone")
            if expires <= now:
                raise SuppressionError("expires", f"{format_ts(expires)} is not in the future")
        suppression = Suppression(
            id=uuid.uuid4().hex[:16],
            rule_id=rule_id or None,
            conditions=conditions,
            reason=reason.strip(),
            creator=actor.name,
            created=format_ts(now),
            expires=format_ts(expires) if expires else None,
        )
        with self._state.transaction() as conn:
            conn.execute(
                "INSERT INTO suppressions (id, rule_id, conditions, reason, creator, created, expires) "
                "VALUES (?,?,?,?,?,?,?)",
                (
                    suppression.id,
                    suppression.rule_id,
                    orjson.dumps(conditions).decode(),
                    suppression.reason,
                    suppression.creator,
                    suppression.created,
                    suppression.expires,
                ),
            )
            self._audit.record_by(
                actor,
                action="suppression.create",
                target_type="suppression",
                target_id=suppression.id,
                before=None,
                after=suppression.to_dict(),
                conn=conn,
            )
        return suppression

    def remove(self, actor: Actor, suppression_id: str) -> Suppression | None:
        """Remove (deactivate) one suppression; ``None`` when there is no active one
        with that id."""
        now = format_ts(utcnow())
        with self._state.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM suppressions WHERE id = ? AND removed IS NULL", (suppression_id,)
            ).fetchone()
            if row is None:
                return None
            before = _row(row, now)
            conn.execute(
                "UPDATE suppressions SET removed = ?, removed_by = ? WHERE id = ?",
                (now, actor.name, suppression_id),
            )
            changed = conn.execute("SELECT * FROM suppressions WHERE id = ?", (suppression_id,)).fetchone()
            after = _row(changed, now)
            self._audit.record_by(
                actor,
                action="suppression.remove",
                target_type="suppression",
                target_id=suppression_id,
                before=before.to_dict(),
                after=after.to_dict(),
                conn=conn,
            )
        return after

    def get(self, suppression_id: str) -> Suppression | None:
        rows = self._state.query("SELECT * FROM suppressions WHERE id = ?", (suppression_id,))
        return _row(rows[0], format_ts(utcnow())) if rows else None

    def list(self, *, include_inactive: bool = False) -> list[Suppression]:
        now = format_ts(utcnow())
        rows = self._state.query("SELECT * FROM suppressions ORDER BY created DESC, id")
        found = [_row(row, now) for row in rows]
        return found if include_inactive else [s for s in found if s.active]

    @staticmethod
    def apply(conn: sqlite3.Connection, view: MatchView, at: datetime) -> str | None:
        """Inside the alert transaction: the id of the first active suppression that
        silences ``view`` (its hit counted), or ``None``."""
        now = format_ts(utcnow())
        rows = conn.execute(
            "SELECT id, rule_id, conditions FROM suppressions WHERE removed IS NULL "
            "AND (expires IS NULL OR expires > ?) AND (rule_id IS NULL OR rule_id = ?) ORDER BY created",
            (now, view.rule_id),
        ).fetchall()
        for row in rows:
            conditions: dict[str, str] = orjson.loads(row["conditions"])
            if all(condition_holds(pattern, view.values(key)) for key, pattern in conditions.items()):
                conn.execute(
                    "UPDATE suppressions SET hits = hits + 1, last_hit = ? WHERE id = ?",
                    (format_ts(at), row["id"]),
                )
                return str(row["id"])
        return None
