"""API tokens: random bearer secrets shown once at creation and kept only as a hash.

A token reads ``soc_<id>_<secret>``: ``id`` (12 hex digits) is public and finds the
row; the SHA-256 of the whole token is compared in constant time. The secret has 256
bits, so a plain hash cannot be brute-forced and no pepper is needed.

A token acts with its own role: the owner's role, or a narrower one the owner may
hand out (:data:`NARROWER_ROLES`). It stops working when revoked, expired, or when
its owner is disabled, loses the role, or changes agency.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from soc.access.errors import InvalidRequest, NotFound
from soc.access.roles import (
    ROLE_ADMIN,
    ROLE_RESPONDER,
    ROLE_SERVICE,
    ROLE_SOC_ANALYST,
    Principal,
)
from soc.access.users import User, UserStore
from soc.audit import AuditLog
from soc.event import format_ts, parse_ts, utcnow
from soc.state import StateStore, register_schema

TOKEN_PREFIX = "soc"
TOKEN_RE = re.compile(r"^soc_([0-9a-f]{12})_([A-Za-z0-9_-]{20,200})$")
DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 3650
LAST_USED_EVERY = timedelta(seconds=60)

NARROWER_ROLES: dict[str, tuple[str, ...]] = {
    ROLE_ADMIN: (ROLE_SOC_ANALYST, ROLE_RESPONDER, ROLE_SERVICE),
}
"""Roles a token may have besides its owner's: an admin may mint analyst, responder
and service tokens; every other role only tokens of its own role."""

register_schema(
    "api_tokens",
    """
    CREATE TABLE IF NOT EXISTS api_tokens (
        id TEXT PRIMARY KEY,
        secret_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        role TEXT NOT NULL,
        created TEXT NOT NULL,
        expires TEXT,
        last_used TEXT,
        revoked TEXT
    );
    CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens(owner);
    """,
)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def allowed_token_roles(owner_role: str) -> tuple[str, ...]:
    return (owner_role, *NARROWER_ROLES.get(owner_role, ()))


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A token's record; the secret itself is never kept."""

    id: str
    name: str
    owner: str
    role: str
    created: str
    expires: str | None = None
    last_used: str | None = None
    revoked: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and parse_ts(self.expires) <= now


class TokenStore:
    """The ``api_tokens`` table."""

    def __init__(self, state: StateStore, audit: AuditLog, users: UserStore) -> None:
        self._state = state
        self._audit = audit
        self._users = users

    def create(
        self,
        owner: str,
        name: str,
        actor: Principal,
        *,
        role: str | None = None,
        expires_days: int | None = DEFAULT_EXPIRY_DAYS,
    ) -> tuple[ApiToken, str]:
        """A new token of ``owner``: ``(record, raw token)``; the raw token is shown once."""
        user = self._users.require(owner)
        if user.disabled:
            raise InvalidRequest(f"owner: user {owner!r} is disabled")
        role = role or user.role
        if role not in allowed_token_roles(user.role):
            raise InvalidRequest(
                f"role: a token of {user.role} user {owner!r} may have role "
                f"{' or '.join(allowed_token_roles(user.role))}, not {role!r}"
            )
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
            raise InvalidRequest("name: 1-100 characters naming what the token is for")
        if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
            raise InvalidRequest(f"expires_days: between 1 and {MAX_EXPIRY_DAYS}, or none for no expiry")
        now = utcnow()
        token_id = secrets.token_hex(6)
        raw = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        record = ApiToken(
            id=token_id,
            name=name.strip(),
            owner=owner,
            role=role,
            created=format_ts(now),
            expires=format_ts(now + timedelta(days=expires_days)) if expires_days else None,
        )
        with self._state.transaction() as conn:
            conn.execute(
                "INSERT INTO api_tokens (id, secret_hash, name, owner, role, created, expires) "
                "VALUES (?,?,?,?,?,?,?)",
                (record.id, token_hash(raw), record.name, owner, role, record.created, record.expires),
            )
            self._record(conn, actor, "token.create", record.id, None, record.to_dict())
        return record, raw

    def get(self, token_id: str) -> ApiToken | None:
        rows = self._state.query("SELECT * FROM api_tokens WHERE id = ?", (token_id,))
        return _row_to_token(rows[0]) if rows else None

    def list(self, owner: str | None = None, *, include_revoked: bool = False) -> list[ApiToken]:
        sql, params = "SELECT * FROM api_tokens WHERE 1=1", []
        if owner is not None:
            sql += " AND owner = ?"
            params.append(owner)
        if not include_revoked:
            sql += " AND revoked IS NULL"
        rows = self._state.query(sql + " ORDER BY created, id", tuple(params))
        return [_row_to_token(r) for r in rows]

    def revoke(self, token_id: str, actor: Principal, *, owner: str | None = None) -> ApiToken:
        """Revoke a token (only one of ``owner`` when given: another's is 'not found')."""
        with self._state.transaction() as conn:
            row = conn.execute("SELECT * FROM api_tokens WHERE id = ?", (token_id,)).fetchone()
            if row is None or (owner is not None and row["owner"] != owner):
                raise NotFound(f"token {token_id!r} not found / không tìm thấy token")
            before = _row_to_token(row)
            if before.revoked:
                return before
            now = format_ts(utcnow())
            conn.execute("UPDATE api_tokens SET revoked = ? WHERE id = ?", (now, token_id))
            after = ApiToken(**{**before.to_dict(), "revoked": now})
            self._record(conn, actor, "token.revoke", token_id, before.to_dict(), after.to_dict())
        return after

    def authenticate(self, raw: str, now: datetime | None = None) -> tuple[ApiToken, User] | None:
        """The token and its owner when ``raw`` is a live token, else ``None``."""
        match = TOKEN_RE.match(raw or "")
        if match is None:
            return None
        rows = self._state.query("SELECT * FROM api_tokens WHERE id = ?", (match.group(1),))
        if not rows or not hmac.compare_digest(rows[0]["secret_hash"], token_hash(raw)):
            return None
        token = _row_to_token(rows[0])
        now = now or utcnow()
        if token.revoked or token.expired(now):
            return None
        owner = self._users.get(token.owner)
        if owner is None or owner.disabled or token.role not in allowed_token_roles(owner.role):
            return None
        if token.last_used is None or parse_ts(token.last_used) + LAST_USED_EVERY <= now:
            with self._state.transaction() as conn:
                conn.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (format_ts(now), token.id))
        return token, owner

    def _record(
        self, conn: sqlite3.Connection, actor: Principal, action: str, token_id: str, before: Any, after: Any
    ) -> None:
        self._audit.record_by(
            actor, action=action, target_type="token", target_id=token_id, before=before, after=after,
            conn=conn,
        )  # fmt: skip


def _row_to_token(row: sqlite3.Row) -> ApiToken:
    return ApiToken(
        id=row["id"],
        name=row["name"],
        owner=row["owner"],
        role=row["role"],
        created=row["created"],
        expires=row["expires"],
        last_used=row["last_used"],
        revoked=row["revoked"],
    )
