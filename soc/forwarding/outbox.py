"""The durable forwarding outbox: one row per (target, alert) in the state store.

A report is written here before any delivery is tried and leaves the ``pending``
state only when the target acknowledged it (``delivered``) or it can never be
delivered (``failed``, with the reason kept for ``soc outbox list``). Rows live in
the SQLite state store, so a restart resumes exactly where delivery stopped.
A report that needs a SOC lead's approval (``routing.national.approval: soc_lead``)
waits as ``pending_approval`` and is never sent until :meth:`Outbox.approve` makes it
``pending``; :meth:`Outbox.reject` makes it ``rejected`` (kept, never sent).
``UNIQUE(target, alert_id)`` makes enqueueing idempotent: an alert is reported once
per target, even when the engine re-processes events after a crash.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from soc.durable_queue import epoch as durable_epoch
from soc.durable_queue import error_text, newest_first
from soc.event import format_ts, utcnow
from soc.state import StateStore, register_schema

Status = Literal["pending", "delivered", "failed", "pending_approval", "rejected"]
STATUSES: tuple[Status, ...] = ("pending", "delivered", "failed", "pending_approval", "rejected")

_OUTBOX_TABLE = """
    CREATE TABLE IF NOT EXISTS forwarding_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        created TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending'
            CHECK (status IN ('pending', 'delivered', 'failed', 'pending_approval', 'rejected')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        delivered_at TEXT,
        UNIQUE (target, alert_id)
    )"""
_OUTBOX_INDEX = (
    "CREATE INDEX IF NOT EXISTS forwarding_outbox_due ON forwarding_outbox(target, status, next_attempt_at)"
)
register_schema("forwarding_outbox", f"{_OUTBOX_TABLE};\n{_OUTBOX_INDEX};")


@dataclass(slots=True)
class OutboxRecord:
    """One report waiting for (or done with) delivery to one target."""

    id: int
    target: str
    alert_id: str
    created: str
    payload: dict[str, Any]
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "target": self.target,
            "alert_id": self.alert_id,
            "created": self.created,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": format_ts(self.next_attempt_at),
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
            "report_id": self.payload.get("report_id"),
        }


def _epoch(ts: datetime) -> float:
    return durable_epoch(ts, "outbox")


def _row(row: Any) -> OutboxRecord:
    return OutboxRecord(
        id=row["id"],
        target=row["target"],
        alert_id=row["alert_id"],
        created=row["created"],
        payload=orjson.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=datetime.fromtimestamp(row["next_attempt_at"], UTC),
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


def _allow_approval_statuses(state: StateStore) -> None:
    """Rebuild an outbox table made before the approval statuses existed (its CHECK
    constraint would refuse them); rows are kept as they are."""
    rows = state.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'forwarding_outbox'")
    if not rows or "pending_approval" in rows[0]["sql"]:
        return
    columns = (
        "id, target, alert_id, created, payload, status, attempts, next_attempt_at, last_error, delivered_at"
    )
    with state.transaction() as conn:
        conn.execute("ALTER TABLE forwarding_outbox RENAME TO forwarding_outbox_v1")
        conn.execute(_OUTBOX_TABLE)
        conn.execute(f"INSERT INTO forwarding_outbox ({columns}) SELECT {columns} FROM forwarding_outbox_v1")
        conn.execute("DROP TABLE forwarding_outbox_v1")
        conn.execute(_OUTBOX_INDEX)


class Outbox:
    """The outbox table of a :class:`StateStore`."""

    def __init__(self, state: StateStore) -> None:
        self._state = state
        _allow_approval_statuses(state)

    def enqueue(
        self,
        target: str,
        alert_id: str,
        payload: dict[str, Any],
        *,
        now: datetime | None = None,
        status: Literal["pending", "pending_approval"] = "pending",
        conn: sqlite3.Connection | None = None,
    ) -> int | None:
        """Add a report (``pending``, or ``pending_approval`` to wait for a SOC lead);
        returns its id, or ``None`` if this target already has a report of this alert.
        With ``conn``, inside the caller's transaction."""
        now = now or utcnow()
        params = (target, alert_id, format_ts(now), orjson.dumps(payload).decode(), status, _epoch(now))
        sql = (
            "INSERT OR IGNORE INTO forwarding_outbox "
            "(target, alert_id, created, payload, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)"
        )
        if conn is not None:
            cur = conn.execute(sql, params)
            return cur.lastrowid if cur.rowcount else None
        with self._state.transaction() as own:
            cur = own.execute(sql, params)
            return cur.lastrowid if cur.rowcount else None

    def decide(
        self, record_id: int, approve: bool, conn: sqlite3.Connection, *, now: datetime | None = None
    ) -> OutboxRecord:
        """Approve (``pending``, due now) or reject a ``pending_approval`` report inside
        the caller's transaction; raises ``KeyError`` (no such record) or ``ValueError``
        (not waiting for approval)."""
        row = conn.execute("SELECT * FROM forwarding_outbox WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise KeyError(f"outbox record {record_id} does not exist")
        if row["status"] != "pending_approval":
            raise ValueError(f"outbox record {record_id} is {row['status']}, not waiting for approval")
        if approve:
            conn.execute(
                "UPDATE forwarding_outbox SET status = 'pending', next_attempt_at = ? WHERE id = ?",
                (_epoch(now or utcnow()), record_id),
            )
        else:
            conn.execute("UPDATE forwarding_outbox SET status = 'rejected' WHERE id = ?", (record_id,))
        return _row(conn.execute("SELECT * FROM forwarding_outbox WHERE id = ?", (record_id,)).fetchone())

    def exists(self, target: str, alert_id: str) -> bool:
        """Whether ``target`` already has a report of ``alert_id`` (in any status)."""
        rows = self._state.query(
            "SELECT 1 FROM forwarding_outbox WHERE target = ? AND alert_id = ? LIMIT 1", (target, alert_id)
        )
        return bool(rows)

    def get(self, record_id: int) -> OutboxRecord | None:
        rows = self._state.query("SELECT * FROM forwarding_outbox WHERE id = ?", (record_id,))
        return _row(rows[0]) if rows else None

    def due(self, target: str, now: datetime | None = None, limit: int = 100) -> list[OutboxRecord]:
        """Pending reports of ``target`` whose next attempt is due, oldest due first."""
        now = now or utcnow()
        rows = self._state.query(
            "SELECT * FROM forwarding_outbox WHERE target = ? AND status = 'pending' "
            "AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?",
            (target, _epoch(now), limit),
        )
        return [_row(r) for r in rows]

    def mark_delivered(self, record_id: int, *, now: datetime | None = None) -> None:
        self._update(
            "status = 'delivered', attempts = attempts + 1, last_error = NULL, delivered_at = ?",
            (format_ts(now or utcnow()),),
            record_id,
        )

    def mark_retry(self, record_id: int, error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt and schedule the next one."""
        self._update(
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            (error_text(error), _epoch(next_attempt_at)),
            record_id,
        )

    def mark_failed(self, record_id: int, error: str) -> None:
        """Give up on a report (kept, with the reason, for an operator to see)."""
        self._update(
            "status = 'failed', attempts = attempts + 1, last_error = ?",
            (error_text(error),),
            record_id,
        )

    def requeue(self, record_id: int, *, now: datetime | None = None) -> bool:
        """Make a failed report pending again (attempts reset); returns whether it was failed."""
        with self._state.transaction() as conn:
            cur = conn.execute(
                "UPDATE forwarding_outbox SET status = 'pending', attempts = 0, next_attempt_at = ? "
                "WHERE id = ? AND status = 'failed'",
                (_epoch(now or utcnow()), record_id),
            )
            return cur.rowcount == 1

    def backlog(self, target: str | None = None) -> int:
        """How many reports are pending (of one target, or of all)."""
        sql = "SELECT count(*) AS n FROM forwarding_outbox WHERE status = 'pending'"
        params: tuple[Any, ...] = ()
        if target is not None:
            sql += " AND target = ?"
            params = (target,)
        return int(self._state.query(sql, params)[0]["n"])

    def list(
        self, status: Status | None = None, limit: int = 100, *, target: str | None = None
    ) -> list[OutboxRecord]:
        """Reports newest first, optionally of one status and target."""
        rows = newest_first(self._state, "forwarding_outbox", STATUSES, status, limit, [("target", target)])
        return [_row(r) for r in rows]

    def _update(self, assignments: str, params: tuple[Any, ...], record_id: int) -> None:
        with self._state.transaction() as conn:
            cur = conn.execute(
                f"UPDATE forwarding_outbox SET {assignments} WHERE id = ?", (*params, record_id)
            )
            if cur.rowcount != 1:
                raise KeyError(f"outbox record {record_id} does not exist")
