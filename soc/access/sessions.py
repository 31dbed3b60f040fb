"""Server-side login sessions for the web console.

The browser holds a random session id in an HttpOnly, SameSite=Strict cookie; the
table keeps only its SHA-256, the user, a per-session CSRF token's hash, and two
deadlines: idle (``last_seen`` + idle timeout) and absolute (``expires``). Every
state-changing request made with the cookie must carry the CSRF token in the
``X-CSRF-Token`` header (:meth:`SessionStore.check_csrf`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from soc.event import format_ts, parse_ts, utcnow
from soc.state import StateStore, register_schema

register_schema(
    "sessions",
    """
    CREATE TABLE IF NOT EXISTS sessions (
        id_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        csrf_hash TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT '',
        created TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        expires TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS sessions_user ON sessions(username);
    """,
)

TOUCH_EVERY = timedelta(seconds=30)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class NewSession:
    """What a login hands the browser (never stored as such)."""

    session_id: str
    csrf_token: str
    username: str
    expires: datetime

    def __repr__(self) -> str:
        return f"NewSession(username={self.username!r}, expires={format_ts(self.expires)!r})"


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    username: str
    csrf_hash: str
    created: str
    last_seen: str
    expires: str


class SessionStore:
    """The ``sessions`` table; ``clock`` is injectable for the expiry tests."""

    def __init__(
        self,
        state: StateStore,
        *,
        idle: timedelta = timedelta(minutes=30),
        absolute: timedelta = timedelta(hours=12),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._state = state
        self.idle = idle
        self.absolute = absolute
        self._clock = clock

    def create(
        self, username: str, source: str = "", *, conn: sqlite3.Connection | None = None
    ) -> NewSession:
        """A new session of ``username`` (inside the caller's transaction when ``conn``
        is given, so the login and its audit entry commit together)."""
        if conn is None:
            with self._state.transaction() as own:
                return self.create(username, source, conn=own)
        now = self._clock()
        new = NewSession(
            session_id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            username=username,
            expires=now + self.absolute,
        )
        conn.execute(
            "DELETE FROM sessions WHERE expires <= ? OR last_seen <= ?",
            (format_ts(now), format_ts(now - self.idle)),
        )
        conn.execute(
            "INSERT INTO sessions (id_hash, username, csrf_hash, source, created, last_seen, expires) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                _digest(new.session_id),
                username,
                _digest(new.csrf_token),
                source,
                format_ts(now),
                format_ts(now),
                format_ts(new.expires),
            ),
        )
        return new

    def resolve(self, session_id: str) -> Session | None:
        """The live session of ``session_id`` (its idle deadline moves on), else ``None``."""
        if not session_id or len(session_id) > 200:
            return None
        rows = self._state.query("SELECT * FROM sessions WHERE id_hash = ?", (_digest(session_id),))
        if not rows:
            return None
        row = rows[0]
        session = Session(
            id_hash=row["id_hash"],
            username=row["username"],
            csrf_hash=row["csrf_hash"],
            created=row["created"],
            last_seen=row["last_seen"],
            expires=row["expires"],
        )
        now = self._clock()
        last_seen = parse_ts(session.last_seen)
        if parse_ts(session.expires) <= now or last_seen + self.idle <= now:
            self.delete(session_id)
            return None
        if last_seen + TOUCH_EVERY <= now:
            with self._state.transaction() as conn:
                conn.execute(
                    "UPDATE sessions SET last_seen = ? WHERE id_hash = ?", (format_ts(now), session.id_hash)
                )
        return session

    @staticmethod
    def check_csrf(session: Session, presented: str | None) -> bool:
        """Whether ``presented`` (the ``X-CSRF-Token`` header) is this session's token."""
        if not presented:
            return False
        return hmac.compare_digest(session.csrf_hash, _digest(presented))

    def delete(self, session_id: str, *, conn: sqlite3.Connection | None = None) -> bool:
        if conn is None:
            with self._state.transaction() as own:
                return self.delete(session_id, conn=own)
        cur = conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(session_id),))
        return cur.rowcount > 0

    def delete_user(self, username: str) -> int:
        with self._state.transaction() as conn:
            cur = conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
        return cur.rowcount
