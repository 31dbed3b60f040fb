"""The audit entry of a change made by a principal (a user, token or the CLI), written
inside the caller's transaction so the change and its record commit together."""

from __future__ import annotations

import sqlite3
from typing import Any

from soc.access.roles import Principal
from soc.audit import AuditLog


def record_change(
    audit: AuditLog,
    conn: sqlite3.Connection,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str,
    before: Any = None,
    after: Any = None,
) -> None:
    """Append ``actor``'s ``action`` on ``target_type``/``target_id`` to ``audit``."""
    audit.record(
        actor=actor.name,
        role=actor.role,
        source=actor.source,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        conn=conn,
    )
