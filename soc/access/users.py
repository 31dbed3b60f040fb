"""Users in the state store: who they are, their one role, their agency or
organization, and their argon2id password hash.

Rules checked on every add and update:

* ``agency_officer`` (L1) needs an ``agency_id``; every other role is refused one.
* ``auditor`` (L3, the independent assessor) needs an ``organization`` that is not
  the SOC's own (``access.organization`` in the config): L3 never audits itself.
* ``service`` users have no password: they act only through API tokens.
* ``soc_lead`` (may approve national reports) is for ``soc_analyst`` and ``admin`` only.

Every change is written with its audit entry (before and after, never the hash) in
one transaction.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from soc.access.errors import Conflict, InvalidRequest, NotFound
from soc.access.passwords import Passwords
from soc.access.roles import (
    ALL_ROLES,
    ROLE_ADMIN,
    ROLE_AGENCY_OFFICER,
    ROLE_AUDITOR,
    ROLE_SERVICE,
    ROLE_SOC_ANALYST,
    Principal,
)
from soc.audit import AuditLog
from soc.event import format_ts, utcnow
from soc.state import StateStore, register_schema

LEAD_ROLES = (ROLE_SOC_ANALYST, ROLE_ADMIN)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
AGENCY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

register_schema(
    "users",
    """
    CREATE TABLE IF NOT EXISTS users (
        username TEXT PRIMARY KEY,
        display_name TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL,
        agency_id TEXT,
        organization TEXT NOT NULL DEFAULT '',
        password_hash TEXT,
        disabled INTEGER NOT NULL DEFAULT 0,
        soc_lead INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    """,
)


@dataclass(frozen=True, slots=True)
class User:
    username: str
    role: str
    display_name: str = ""
    agency_id: str | None = None
    organization: str = ""
    disabled: bool = False
    soc_lead: bool = False
    created: str = ""
    updated: str = ""
    password_hash: str | None = field(default=None, repr=False, compare=False)

    @property
    def has_password(self) -> bool:
        return self.password_hash is not None

    def to_dict(self) -> dict[str, Any]:
        """The user as shown and audited: everything but the password hash."""
        body = asdict(self)
        body.pop("password_hash")
        body["has_password"] = self.has_password
        return body

    def principal(self, source: str = "") -> Principal:
        return Principal(
            name=self.username,
            role=self.role,
            agency_id=self.agency_id,
            source=source,
            soc_lead=self.soc_lead,
        )


USER_FIELDS = ("display_name", "role", "agency_id", "organization", "disabled", "soc_lead")
"""What :meth:`UserStore.update` may change (the password has its own method)."""


class UserStore:
    """The ``users`` table; ``soc_organization`` is the SOC's own organization id."""

    def __init__(
        self, state: StateStore, audit: AuditLog, passwords: Passwords, soc_organization: str
    ) -> None:
        self._state = state
        self._audit = audit
        self.passwords = passwords
        self.soc_organization = soc_organization

    # reads ---------------------------------------------------------------------

    def get(self, username: str) -> User | None:
        rows = self._state.query("SELECT * FROM users WHERE username = ?", (username,))
        return _row_to_user(rows[0]) if rows else None

    def require(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise NotFound(f"user {username!r} not found / không tìm thấy người dùng")
        return user

    def list(self, *, role: str | None = None, include_disabled: bool = True) -> list[User]:
        sql, params = "SELECT * FROM users WHERE 1=1", []
        if role is not None:
            sql += " AND role = ?"
            params.append(role)
        if not include_disabled:
            sql += " AND disabled = 0"
        rows = self._state.query(sql + " ORDER BY username", tuple(params))
        return [_row_to_user(r) for r in rows]

    # changes -------------------------------------------------------------------

    def add(
        self,
        username: str,
        role: str,
        actor: Principal,
        *,
        password: str | None = None,
        display_name: str = "",
        agency_id: str | None = None,
        organization: str | None = None,
        soc_lead: bool = False,
    ) -> User:
        """Create a user (``password`` is required except for ``service`` users)."""
        if not isinstance(username, str) or not USERNAME_RE.match(username):
            raise InvalidRequest(
                "username: 2-64 characters, lowercase letters, digits and . _ @ -, starting with a "
                "letter or digit / tên đăng nhập không hợp lệ"
            )
        now = format_ts(utcnow())
        user = self._validated(
            User(
                username=username,
                role=role,
                display_name=display_name or "",
                agency_id=agency_id or None,
                organization=organization or self._default_organization(role, agency_id),
                soc_lead=bool(soc_lead),
                created=now,
                updated=now,
            )
        )
        if password is None and role != ROLE_SERVICE:
            raise InvalidRequest(f"password: required for role {role!r} / cần mật khẩu")
        if password is not None and role == ROLE_SERVICE:
            raise InvalidRequest("password: service users act through API tokens only; give none")
        user = replace(user, password_hash=self.passwords.hash(password) if password is not None else None)
        with self._state.transaction() as conn:
            try:
                conn.execute(
                    "INSERT INTO users (username, display_name, role, agency_id, organization, "
                    "password_hash, disabled, soc_lead, created, updated) VALUES (?,?,?,?,?,?,0,?,?,?)",
                    (
                        user.username,
                        user.display_name,
                        user.role,
                        user.agency_id,
                        user.organization,
                        user.password_hash,
                        int(user.soc_lead),
                        now,
                        now,
                    ),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"user {username!r} exists already / người dùng đã tồn tại") from None
            self._record(conn, actor, "user.add", username, None, user.to_dict())
        return user

    def update(self, username: str, changes: dict[str, Any], actor: Principal) -> User:
        """Change some of :data:`USER_FIELDS`; the result must satisfy every rule."""
        unknown = set(changes) - set(USER_FIELDS)
        if unknown:
            raise InvalidRequest(f"cannot change {sorted(unknown)}; changeable: {', '.join(USER_FIELDS)}")
        with self._state.transaction() as conn:
            before = self._get_in(conn, username)
            values = {k: v for k, v in changes.items()}
            for flag in ("disabled", "soc_lead"):
                if flag in values:
                    values[flag] = bool(values[flag])
            if "agency_id" in values:
                values["agency_id"] = values["agency_id"] or None
            if "role" in values and values["role"] != ROLE_AGENCY_OFFICER and "agency_id" not in values:
                values["agency_id"] = None
            if "role" in values and values["role"] not in LEAD_ROLES and "soc_lead" not in values:
                values["soc_lead"] = False
            after = self._validated(replace(before, **values, updated=format_ts(utcnow())))
            if after.role == ROLE_SERVICE and after.password_hash is not None:
                after = replace(after, password_hash=None)
            if after == before and after.password_hash == before.password_hash:
                return before
            conn.execute(
                "UPDATE users SET display_name=?, role=?, agency_id=?, organization=?, disabled=?, "
                "soc_lead=?, password_hash=?, updated=? WHERE username=?",
                (
                    after.display_name,
                    after.role,
                    after.agency_id,
                    after.organization,
                    int(after.disabled),
                    int(after.soc_lead),
                    after.password_hash,
                    after.updated,
                    username,
                ),
            )
            if (
                after.disabled
                or after.role != before.role
                or after.agency_id != before.agency_id
                or after.soc_lead != before.soc_lead
            ):
                conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
            action = "user.disable" if after.disabled and not before.disabled else "user.update"
            if before.disabled and not after.disabled:
                action = "user.enable"
            self._record(conn, actor, action, username, before.to_dict(), after.to_dict())
        return after

    def disable(self, username: str, actor: Principal) -> User:
        return self.update(username, {"disabled": True}, actor)

    def set_password(self, username: str, password: str, actor: Principal) -> User:
        """A new password (the old sessions of the user end)."""
        new_hash = self.passwords.hash(password)
        with self._state.transaction() as conn:
            before = self._get_in(conn, username)
            if before.role == ROLE_SERVICE:
                raise InvalidRequest("password: service users act through API tokens only")
            now = format_ts(utcnow())
            conn.execute(
                "UPDATE users SET password_hash=?, updated=? WHERE username=?", (new_hash, now, username)
            )
            conn.execute("DELETE FROM sessions WHERE username = ?", (username,))
            after = replace(before, password_hash=new_hash, updated=now)
            self._record(conn, actor, "user.password", username, before.to_dict(), after.to_dict())
        return after

    def store_rehash(self, username: str, new_hash: str) -> None:
        """Keep a fresh hash of the same password (parameters changed); not a change of
        the user, so not audited."""
        with self._state.transaction() as conn:
            conn.execute("UPDATE users SET password_hash=? WHERE username=?", (new_hash, username))

    # rules -------------------------------------------------------------------------

    def _default_organization(self, role: str, agency_id: str | None) -> str:
        if role == ROLE_AGENCY_OFFICER:
            return agency_id or ""
        if role == ROLE_AUDITOR:
            return ""
        return self.soc_organization

    def _validated(self, user: User) -> User:
        if user.role not in ALL_ROLES:
            raise InvalidRequest(f"role: {user.role!r} is not one of {', '.join(ALL_ROLES)}")
        if user.role == ROLE_AGENCY_OFFICER:
            if not user.agency_id:
                raise InvalidRequest(
                    "agency_id: required for role agency_officer / cán bộ đơn vị cần mã đơn vị"
                )
            if not AGENCY_RE.match(user.agency_id):
                raise InvalidRequest(f"agency_id: {user.agency_id!r} is not a valid agency id")
        elif user.agency_id:
            raise InvalidRequest(
                f"agency_id: only agency_officer users belong to one agency, not {user.role}"
            )
        if user.role == ROLE_AUDITOR:
            org = (user.organization or "").strip()
            if not org:
                raise InvalidRequest(
                    "organization: required for role auditor (the independent assessor's organization) / "
                    "cần tổ chức của đơn vị đánh giá độc lập"
                )
            if org.casefold() == self.soc_organization.strip().casefold():
                raise InvalidRequest(
                    f"organization: an auditor (L3) must not belong to the SOC's organization "
                    f"{self.soc_organization!r} / kiểm toán viên không được thuộc tổ chức của SOC"
                )
        if user.soc_lead and user.role not in LEAD_ROLES:
            raise InvalidRequest(f"soc_lead: only {' and '.join(LEAD_ROLES)} users lead the SOC")
        if len(user.display_name) > 200 or len(user.organization) > 200:
            raise InvalidRequest("display_name and organization: at most 200 characters")
        return user

    def _get_in(self, conn: sqlite3.Connection, username: str) -> User:
        row = conn.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        if row is None:
            raise NotFound(f"user {username!r} not found / không tìm thấy người dùng")
        return _row_to_user(row)

    def _record(
        self, conn: sqlite3.Connection, actor: Principal, action: str, username: str, before: Any, after: Any
    ) -> None:
        self._audit.record_by(
            actor, action=action, target_type="user", target_id=username, before=before, after=after,
            conn=conn,
        )  # fmt: skip


def _row_to_user(row: sqlite3.Row) -> User:
    return User(
        username=row["username"],
        role=row["role"],
        display_name=row["display_name"],
        agency_id=row["agency_id"],
        organization=row["organization"],
        disabled=bool(row["disabled"]),
        soc_lead=bool(row["soc_lead"]),
        created=row["created"],
        updated=row["updated"],
        password_hash=row["password_hash"],
    )
