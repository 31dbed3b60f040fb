"""The triage workflow: status transitions, assignee, comments, analyst tags, the
incident-type override and bulk actions. Every change is written to the audit log
(who, role, from where, before and after) in the same transaction as the change.

Allowed status transitions (:data:`TRANSITIONS`)::

    new ──▶ acknowledged ──▶ in_progress ──▶ closed (resolution required)
     │            │  └──────────────────────────▲
     └────────────┴──────────┴──▶ escalated ─────┘
    closed ──▶ new | in_progress  (reopen: a reason is required)

A reason given with any transition (required to reopen) is kept as a comment of kind
``status`` beside the analysts' comments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from soc.alerts.actor import Actor
from soc.alerts.classify import INCIDENT_TYPES
from soc.alerts.model import Alert
from soc.alerts.repository import AlertRepository
from soc.audit import AuditLog
from soc.event import format_ts, utcnow

STATUSES = ("new", "acknowledged", "in_progress", "escalated", "closed")
RESOLUTIONS = ("true_positive", "false_positive", "benign", "duplicate")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("acknowledged", "escalated"),
    "acknowledged": ("in_progress", "escalated", "closed"),
    "in_progress": ("closed", "escalated"),
    "escalated": ("closed",),
    "closed": ("new", "in_progress"),
}
MAX_COMMENT_CHARS = 10_000
MAX_TAG_CHARS = 64
BULK_ACTIONS = ("status", "assign", "comment", "tags", "incident_type")


class TriageError(Exception):
    """A triage change that was refused; ``code`` is ``not_found``, ``invalid`` (bad
    input, naming the field) or ``conflict`` (not allowed in the alert's state)."""

    code = "invalid"


class AlertNotFoundError(TriageError):
    code = "not_found"


class TransitionError(TriageError):
    code = "conflict"


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    alert_id: str
    author: str
    created: str
    body: str
    kind: str = "comment"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BulkResult:
    """The outcome for one id of a bulk action: ``ok``, or the error and its code."""

    id: str
    ok: bool
    error: str | None = None
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _snapshot(alert_row: Any, fields: Iterable[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = alert_row[name]
        out[name] = orjson.loads(value) if name == "analyst_tags" else value
    if "incident_type_overridden" in out:
        out["incident_type_overridden"] = bool(out["incident_type_overridden"])
    return out


class TriageService:
    """Changes to alerts by people, each audited."""

    def __init__(self, alerts: AlertRepository) -> None:
        self.alerts = alerts
        self._state = alerts.state
        self._audit = AuditLog(self._state)

    # one change, audited ------------------------------------------------------

    def _change(
        self,
        actor: Actor,
        alert_id: str,
        action: str | Callable[[], str],
        fields: Sequence[str],
        compute: Callable[[Any], dict[str, Any]],
        extra_after: dict[str, Any] | None = None,
    ) -> Alert:
        """Load the alert, let ``compute(row) -> {column: value}`` decide the change
        (or raise), write it with ``updated`` and the audit entry, in one transaction."""
        now = format_ts(utcnow())
        with self._state.transaction() as conn:
            row = conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is None:
                raise AlertNotFoundError(f"alert {alert_id!r} not found / không tìm thấy cảnh báo")
            changes: dict[str, Any] = compute(row)
            before = _snapshot(row, fields)
            stored = {k: orjson.dumps(v).decode() if k == "analyst_tags" else v for k, v in changes.items()}
            assignments = ", ".join(f"{k} = ?" for k in stored)
            conn.execute(
                f"UPDATE alerts SET {assignments}, updated = ? WHERE id = ?",
                (*stored.values(), now, alert_id),
            )
            after = _snapshot(
                conn.execute("SELECT * FROM alerts WHERE id = ?", (alert_id,)).fetchone(), fields
            )
            reason = (extra_after or {}).get("reason")
            if reason:
                self._add_comment(conn, alert_id, actor.name, now, reason, kind="status")
            self._audit.record_by(
                actor,
                action=action if isinstance(action, str) else action(),
                target_type="alert",
                target_id=alert_id,
                before=before,
                after={**after, **(extra_after or {})},
                conn=conn,
            )
        alert = self.alerts.get(alert_id)
        assert alert is not None
        return alert

    def set_status(
        self,
        actor: Actor,
        alert_id: str,
        status: str,
        *,
        resolution: str | None = None,
        reason: str | None = None,
    ) -> Alert:
        """Move an alert to ``status`` (see :data:`TRANSITIONS`); closing needs a
        ``resolution``, reopening a closed alert needs a ``reason``."""
        if status not in STATUSES:
            raise TriageError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
        if resolution is not None and status != "closed":
            raise TriageError("resolution: only a close (status closed) takes a resolution")
        if status == "closed" and resolution not in RESOLUTIONS:
            raise TriageError(
                f"resolution: closing needs one of {', '.join(RESOLUTIONS)} "
                f"(got {resolution!r}) / đóng cảnh báo cần kết luận"
            )
        reason = (reason or "").strip() or None
        decided = {"action": "alert.status"}

        def compute(row: Any) -> dict[str, Any]:
            current = row["status"]
            if current == "closed":
                decided["action"] = "alert.reopen"
            if status not in TRANSITIONS[current]:
                allowed = ", ".join(TRANSITIONS[current])
                raise TransitionError(
                    f"status: cannot go from {current} to {status}; from {current} only to: {allowed} "
                    f"/ không thể chuyển trạng thái từ {current} sang {status}"
                )
            if current == "closed" and not reason:
                raise TriageError("reason: reopening a closed alert needs a reason / mở lại cần lý do")
            return {"status": status, "resolution": resolution if status == "closed" else None}

        return self._change(
            actor,
            alert_id,
            lambda: decided["action"],
            ("status", "resolution"),
            compute,
            {"reason": reason} if reason else None,
        )

    def assign(self, actor: Actor, alert_id: str, assignee: str | None) -> Alert:
        """Set (or with ``None`` / ``""`` clear) the alert's assignee."""
        assignee = (assignee or "").strip() or None
        return self._change(
            actor, alert_id, "alert.assign", ("assignee",), lambda row: {"assignee": assignee}
        )

    def set_tags(
        self, actor: Actor, alert_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> Alert:
        """Add and remove analyst tags (the rule's own tags are not touched)."""
        add = [_check_tag(t) for t in add]
        remove = [t.strip() for t in remove]
        if not add and not remove:
            raise TriageError("tags: give tags to add or to remove")

        def compute(row: Any) -> dict[str, Any]:
            tags = [t for t in orjson.loads(row["analyst_tags"]) if t not in remove]
            tags += [t for t in add if t not in tags]
            return {"analyst_tags": tags}

        return self._change(actor, alert_id, "alert.tags", ("analyst_tags",), compute)

    def set_incident_type(self, actor: Actor, alert_id: str, incident_type: str) -> Alert:
        """Override the incident type mapped from the rule's tags."""
        if incident_type not in INCIDENT_TYPES:
            raise TriageError(f"incident_type: {incident_type!r} is not one of {', '.join(INCIDENT_TYPES)}")
        return self._change(
            actor,
            alert_id,
            "alert.incident_type",
            ("incident_type", "incident_type_overridden"),
            lambda row: {"incident_type": incident_type, "incident_type_overridden": 1},
        )

    # comments -------------------------------------------------------------------

    def comment(self, actor: Actor, alert_id: str, body: str) -> Comment:
        body = (body or "").strip()
        if not body:
            raise TriageError("body: a comment cannot be empty")
        if len(body) > MAX_COMMENT_CHARS:
            raise TriageError(f"body: at most {MAX_COMMENT_CHARS} characters (got {len(body)})")
        now = format_ts(utcnow())
        with self._state.transaction() as conn:
            if conn.execute("SELECT 1 FROM alerts WHERE id = ?", (alert_id,)).fetchone() is None:
                raise AlertNotFoundError(f"alert {alert_id!r} not found / không tìm thấy cảnh báo")
            comment = self._add_comment(conn, alert_id, actor.name, now, body)
            conn.execute("UPDATE alerts SET updated = ? WHERE id = ?", (now, alert_id))
            self._audit.record_by(
                actor,
                action="alert.comment",
                target_type="alert",
                target_id=alert_id,
                before=None,
                after=comment.to_dict(),
                conn=conn,
            )
        return comment

    def comments(self, alert_id: str) -> list[Comment]:
        rows = self._state.query("SELECT * FROM alert_comments WHERE alert_id = ? ORDER BY id", (alert_id,))
        return [
            Comment(r["id"], r["alert_id"], r["author"], r["created"], r["body"], r["kind"]) for r in rows
        ]

    @staticmethod
    def _add_comment(
        conn: Any, alert_id: str, author: str, now: str, body: str, kind: str = "comment"
    ) -> Comment:
        cur = conn.execute(
            "INSERT INTO alert_comments (alert_id, author, created, body, kind) VALUES (?,?,?,?,?)",
            (alert_id, author, now, body, kind),
        )
        return Comment(int(cur.lastrowid or 0), alert_id, author, now, body, kind)

    # bulk -------------------------------------------------------------------------

    def bulk(
        self,
        actor: Actor,
        alert_ids: Sequence[str],
        action: str,
        params: dict[str, Any],
        *,
        visible: Callable[[Alert], bool] | None = None,
    ) -> list[BulkResult]:
        """Apply one action to each alert; each change is its own audited transaction,
        and a refusal for one id (reported with its reason) does not stop the others.
        An alert ``visible`` refuses (another agency's) is reported as not found."""
        if action not in BULK_ACTIONS:
            raise TriageError(f"action: {action!r} is not one of {', '.join(BULK_ACTIONS)}")
        if not alert_ids:
            raise TriageError("ids: give at least one alert id")
        results: list[BulkResult] = []
        for alert_id in dict.fromkeys(alert_ids):
            if visible is not None:
                alert = self.alerts.get(alert_id)
                if alert is None or not visible(alert):
                    results.append(BulkResult(alert_id, False, f"alert {alert_id!r} not found", "not_found"))
                    continue
            try:
                self.apply(actor, alert_id, action, params)
            except TriageError as exc:
                results.append(BulkResult(alert_id, False, str(exc), exc.code))
            else:
                results.append(BulkResult(alert_id, True))
        return results

    def apply(self, actor: Actor, alert_id: str, action: str, params: dict[str, Any]) -> Alert | Comment:
        """One named action (as in :data:`BULK_ACTIONS`) with its parameters."""
        try:
            if action == "status":
                return self.set_status(
                    actor,
                    alert_id,
                    params["status"],
                    resolution=params.get("resolution"),
                    reason=params.get("reason"),
                )
            if action == "assign":
                return self.assign(actor, alert_id, params.get("assignee"))
            if action == "comment":
                return self.comment(actor, alert_id, params["body"])
            if action == "tags":
                return self.set_tags(
                    actor, alert_id, add=params.get("add", ()), remove=params.get("remove", ())
                )
            if action == "incident_type":
                return self.set_incident_type(actor, alert_id, params["incident_type"])
        except KeyError as exc:
            raise TriageError(f"{exc.args[0]}: required for action {action!r}") from None
        raise TriageError(f"action: {action!r} is not one of {', '.join(BULK_ACTIONS)}")


def _check_tag(tag: str) -> str:
    tag = tag.strip()
    if not tag or len(tag) > MAX_TAG_CHARS or any(c.isspace() for c in tag):
        raise TriageError(f"tags: {tag!r} must be 1..{MAX_TAG_CHARS} characters without spaces")
    return tag
