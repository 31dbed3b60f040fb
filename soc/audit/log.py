"""An append-only audit log in the state store, each entry chained to the one before.

Every entry records who (actor and role), when (UTC), from where (client address),
what (action, target type and id) and the target's state before and after. Its
``hash`` is SHA-256 over the previous entry's hash and the entry's canonical JSON, so
editing, deleting or reordering any entry breaks the chain from there on;
:meth:`AuditLog.verify` walks the chain and names the first entry that does not fit.
SQLite triggers refuse ``UPDATE`` and ``DELETE`` on the table, so tampering needs
deliberate work outside the engine, which ``verify`` then detects.

Write an entry in the same transaction as the change it describes (pass ``conn``),
so a change is never committed without its audit entry.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson

from soc.event import format_ts, utcnow
from soc.state import StateStore, register_schema

GENESIS_HASH = "0" * 64

register_schema(
    "audit",
    """
    CREATE TABLE IF NOT EXISTS audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ts TEXT NOT NULL,
        actor TEXT NOT NULL,
        role TEXT NOT NULL DEFAULT '',
        source TEXT NOT NULL DEFAULT '',
        action TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target_id TEXT NOT NULL,
        before TEXT NOT NULL DEFAULT 'null',
        after TEXT NOT NULL DEFAULT 'null',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS audit_target ON audit_log(target_type, target_id, seq);
    CREATE INDEX IF NOT EXISTS audit_actor ON audit_log(actor, seq);
    CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    role: str
    source: str
    action: str
    target_type: str
    target_id: str
    before: Any
    after: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class AuditVerification:
    """The result of walking the chain: ``ok`` or the first entry that breaks it."""

    ok: bool
    entries: int
    broken_seq: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """SHA-256 of the previous hash and the entry's fields as canonical JSON."""
    body = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


_HASHED = ("ts", "actor", "role", "source", "action", "target_type", "target_id", "before", "after")


def _canonical(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str).decode()


class AuditActor(Protocol):
    """Who made a change: a user, an API token or the CLI (``soc.access.Principal``,
    ``soc.alerts`` actors)."""

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def source(self) -> str: ...


class AuditLog:
    """The audit log of one state store."""

    def __init__(self, state: StateStore) -> None:
        self._state = state

    def record(
        self,
        *,
        actor: str,
        action: str,
        target_type: str,
        target_id: str,
        before: Any = None,
        after: Any = None,
        role: str = "",
        source: str = "",
        conn: sqlite3.Connection | None = None,
        at: datetime | None = None,
    ) -> AuditEntry:
        """Append one entry; inside the caller's transaction when ``conn`` is given."""
        if conn is not None:
            return self._append(conn, actor, role, source, action, target_type, target_id, before, after, at)
        with self._state.transaction() as own:
            return self._append(own, actor, role, source, action, target_type, target_id, before, after, at)

    def record_by(
        self,
        actor: AuditActor,
        *,
        action: str,
        target_type: str,
        target_id: str,
        before: Any = None,
        after: Any = None,
        conn: sqlite3.Connection | None = None,
    ) -> AuditEntry:
        """:meth:`record` of a change ``actor`` made (its name, role and source)."""
        return self.record(
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

    def _append(
        self,
        conn: sqlite3.Connection,
        actor: str,
        role: str,
        source: str,
        action: str,
        target_type: str,
        target_id: str,
        before: Any,
        after: Any,
        at: datetime | None,
    ) -> AuditEntry:
        row = conn.execute("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        prev_hash = row[0] if row else GENESIS_HASH
        fields = {
            "ts": format_ts(at or utcnow()),
            "actor": actor,
            "role": role,
            "source": source,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "before": _canonical(before),
            "after": _canonical(after),
        }
        digest = entry_hash(prev_hash, fields)
        cur = conn.execute(
            "INSERT INTO audit_log (ts, actor, role, source, action, target_type, target_id, before, "
            "after, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*(fields[k] for k in _HASHED), prev_hash, digest),
        )
        return AuditEntry(
            seq=int(cur.lastrowid or 0),
            **{k: fields[k] for k in _HASHED[:7]},
            before=before,
            after=after,
            prev_hash=prev_hash,
            hash=digest,
        )

    def entries(
        self,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        actor: str | None = None,
        after_seq: int = 0,
        limit: int = 100,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[AuditEntry]:
        """Entries oldest first after ``after_seq``, optionally of one target or actor;
        ``action`` ending in ``.`` matches a family (``auth.``), ``since`` a time."""
        where = ["seq > ?"]
        params: list[Any] = [after_seq]
        for column, value in (("target_type", target_type), ("target_id", target_id), ("actor", actor)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if action is not None:
            where.append("substr(action, 1, ?) = ?" if action.endswith(".") else "action = ?")
            params.extend([len(action), action] if action.endswith(".") else [action])
        if since is not None:
            where.append("ts >= ?")
            params.append(format_ts(since))
        rows = self._state.query(
            f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?", (*params, limit)
        )
        return [_row_to_entry(row) for row in rows]

    def _walk(self, batch: int = 5000) -> Iterator[sqlite3.Row]:
        last = 0
        while True:
            rows = self._state.query(
                "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch)
            )
            if not rows:
                return
            yield from rows
            last = rows[-1]["seq"]

    def verify(self) -> AuditVerification:
        """Recompute the chain; the first entry whose stored hashes do not fit breaks it."""
        prev_hash = GENESIS_HASH
        count = 0
        for row in self._walk():
            count += 1
            if row["prev_hash"] != prev_hash:
                return AuditVerification(
                    False,
                    count,
                    row["seq"],
                    "its prev_hash does not match the entry before it (an entry was removed, "
                    "inserted or reordered)",
                )
            expected = entry_hash(prev_hash, {k: row[k] for k in _HASHED})
            if row["hash"] != expected:
                return AuditVerification(
                    False, count, row["seq"], "its content does not match its hash (the entry was edited)"
                )
            prev_hash = row["hash"]
        return AuditVerification(True, count)


def _row_to_entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        seq=row["seq"],
        ts=row["ts"],
        actor=row["actor"],
        role=row["role"],
        source=row["source"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        before=orjson.loads(row["before"]),
        after=orjson.loads(row["after"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )
