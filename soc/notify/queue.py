"""The durable notification queue: one row per (channel, recipient, alert) message.

A notification is rendered and written here before any delivery is tried, in the
SQLite state store, so a crash or restart never loses a pending one. It leaves
``pending`` only when sent (``sent``) or when it can never be sent (``failed``, with
the reason). De-duplication happens at enqueue: one notification per alert and
recipient inside the dedup window, again only when the alert's severity escalated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson

from soc.durable_queue import epoch as durable_epoch
from soc.durable_queue import error_text, newest_first
from soc.event import format_ts, utcnow
from soc.state import StateStore, register_schema

Status = Literal["pending", "sent", "failed"]
STATUSES: tuple[Status, ...] = ("pending", "sent", "failed")

register_schema(
    "notifications",
    """
    CREATE TABLE IF NOT EXISTS notifications (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        layer TEXT NOT NULL,
        severity_rank INTEGER NOT NULL,
        created TEXT NOT NULL,
        created_at REAL NOT NULL,
        subject TEXT NOT NULL,
        body_text TEXT NOT NULL,
        body_html TEXT NOT NULL DEFAULT '',
        payload TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        render_error TEXT,
        sent_at TEXT,
        digest_size INTEGER
    );
    CREATE INDEX IF NOT EXISTS notifications_due ON notifications(status, next_attempt_at);
    CREATE INDEX IF NOT EXISTS notifications_dedup ON notifications(alert_id, channel, recipient, id);
    """,
)


@dataclass(slots=True)
class Notification:
    """One queued message to one recipient."""

    id: int
    channel: str
    recipient: str
    alert_id: str
    layer: str
    severity_rank: int
    created: str
    subject: str
    body_text: str
    body_html: str
    payload: dict[str, Any]
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    render_error: str | None
    sent_at: str | None
    digest_size: int | None

    def to_dict(self, *, bodies: bool = False) -> dict[str, Any]:
        out = {
            "id": self.id,
            "channel": self.channel,
            "recipient": self.recipient,
            "alert_id": self.alert_id,
            "layer": self.layer,
            "created": self.created,
            "subject": self.subject,
            "status": self.status,
            "attempts": self.attempts,
            "next_attempt_at": format_ts(self.next_attempt_at),
            "last_error": self.last_error,
            "render_error": self.render_error,
            "sent_at": self.sent_at,
            "digest_size": self.digest_size,
        }
        if bodies:
            out.update(body_text=self.body_text, body_html=self.body_html, payload=self.payload)
        return out


@dataclass(frozen=True, slots=True)
class NewNotification:
    """What :meth:`NotificationQueue.enqueue` stores."""

    channel: str
    recipient: str
    alert_id: str
    layer: str
    severity_rank: int
    subject: str
    body_text: str
    body_html: str
    payload: dict[str, Any]
    render_error: str | None = None


def _epoch(ts: datetime) -> float:
    return durable_epoch(ts, "queue")


def _row(row: Any) -> Notification:
    return Notification(
        id=row["id"],
        channel=row["channel"],
        recipient=row["recipient"],
        alert_id=row["alert_id"],
        layer=row["layer"],
        severity_rank=row["severity_rank"],
        created=row["created"],
        subject=row["subject"],
        body_text=row["body_text"],
        body_html=row["body_html"],
        payload=orjson.loads(row["payload"]),
        status=row["status"],
        attempts=row["attempts"],
        next_attempt_at=datetime.fromtimestamp(row["next_attempt_at"], UTC),
        last_error=row["last_error"],
        render_error=row["render_error"],
        sent_at=row["sent_at"],
        digest_size=row["digest_size"],
    )


class NotificationQueue:
    """The ``notifications`` table of a :class:`StateStore`."""

    def __init__(self, state: StateStore, *, dedup_window: timedelta = timedelta(hours=1)) -> None:
        self._state = state
        self.dedup_window = dedup_window

    def is_duplicate(
        self, channel: str, recipient: str, alert_id: str, severity_rank: int, *, now: datetime | None = None
    ) -> bool:
        """Whether this alert was already queued for this recipient inside the dedup
        window at the same or a higher severity."""
        rows = self._state.query(
            "SELECT severity_rank, created_at FROM notifications WHERE alert_id = ? AND channel = ? "
            "AND recipient = ? ORDER BY id DESC LIMIT 1",
            (alert_id, channel, recipient),
        )
        if not rows:
            return False
        cutoff = _epoch((now or utcnow()) - self.dedup_window)
        return rows[0]["created_at"] >= cutoff and severity_rank <= rows[0]["severity_rank"]

    def exists(self, channel: str, recipient: str, alert_id: str) -> bool:
        rows = self._state.query(
            "SELECT 1 FROM notifications WHERE alert_id = ? AND channel = ? AND recipient = ? LIMIT 1",
            (alert_id, channel, recipient),
        )
        return bool(rows)

    def enqueue(self, item: NewNotification, *, now: datetime | None = None) -> int:
        now = now or utcnow()
        with self._state.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO notifications (channel, recipient, alert_id, layer, severity_rank, created, "
                "created_at, subject, body_text, body_html, payload, next_attempt_at, render_error) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    item.channel,
                    item.recipient,
                    item.alert_id,
                    item.layer,
                    item.severity_rank,
                    format_ts(now),
                    _epoch(now),
                    item.subject,
                    item.body_text,
                    item.body_html,
                    orjson.dumps(item.payload, default=str).decode(),
                    _epoch(now),
                    item.render_error,
                ),
            )
            return int(cur.lastrowid or 0)

    def get(self, notification_id: int) -> Notification | None:
        rows = self._state.query("SELECT * FROM notifications WHERE id = ?", (notification_id,))
        return _row(rows[0]) if rows else None

    def due(self, now: datetime | None = None, limit: int = 200) -> list[Notification]:
        """Pending notifications whose next attempt is due, oldest due first."""
        rows = self._state.query(
            "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, id LIMIT ?",
            (_epoch(now or utcnow()), limit),
        )
        return [_row(r) for r in rows]

    def mark_sent(
        self, ids: Sequence[int], *, now: datetime | None = None, digest_size: int | None = None
    ) -> None:
        self._update_many(
            "status = 'sent', attempts = attempts + 1, last_error = NULL, sent_at = ?, digest_size = ?",
            (format_ts(now or utcnow()), digest_size),
            ids,
        )

    def mark_retry(self, ids: Sequence[int], error: str, next_attempt_at: datetime) -> None:
        """Count a failed attempt and schedule the next."""
        self._update_many(
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?",
            (error_text(error), _epoch(next_attempt_at)),
            ids,
        )

    def delay(self, ids: Sequence[int], until: datetime) -> None:
        """Hold notifications back (rate limit) without counting an attempt."""
        self._update_many("next_attempt_at = ?", (_epoch(until),), ids)

    def mark_failed(self, ids: Sequence[int], error: str) -> None:
        self._update_many(
            "status = 'failed', attempts = attempts + 1, last_error = ?", (error_text(error),), ids
        )

    def _update_many(self, assignments: str, params: tuple[Any, ...], ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._state.transaction() as conn:
            conn.execute(
                f"UPDATE notifications SET {assignments} WHERE id IN ({','.join('?' * len(ids))})",
                (*params, *ids),
            )

    def backlog(self) -> int:
        return int(
            self._state.query("SELECT count(*) AS n FROM notifications WHERE status = 'pending'")[0]["n"]
        )

    def list(
        self, status: Status | None = None, limit: int = 100, *, alert_id: str | None = None
    ) -> list[Notification]:
        """Notifications newest first."""
        rows = newest_first(self._state, "notifications", STATUSES, status, limit, [("alert_id", alert_id)])
        return [_row(r) for r in rows]
