"""``AccessControl``: users, tokens, sessions, login limits and the audit log of one
state store, and the two questions the API asks: who is this bearer token, who is
this session cookie."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from soc.access.errors import InvalidCredentials, LockedOut
from soc.access.passwords import Passwords
from soc.access.ratelimit import LoginLimiter
from soc.access.roles import Principal
from soc.access.sessions import NewSession, Session, SessionStore
from soc.access.tokens import TokenStore
from soc.access.users import User, UserStore
from soc.audit import AuditLog
from soc.config import AccessConfig
from soc.state import StateStore


class AccessControl:
    """Everything about who may call the API, over one :class:`StateStore`."""

    def __init__(
        self,
        state: StateStore,
        settings: AccessConfig = AccessConfig(),
        *,
        passwords: Passwords | None = None,
        limiter: LoginLimiter | None = None,
        sessions: SessionStore | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.state = state
        self.settings = settings
        self.audit = AuditLog(state)
        self.passwords = passwords or Passwords()
        self.users = UserStore(state, self.audit, self.passwords, settings.organization)
        self.tokens = TokenStore(state, self.audit, self.users)
        self.sessions = sessions or SessionStore(
            state,
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
        )
        self.limiter = limiter or LoginLimiter(
            max_failures=settings.login_max_failures,
            base_lockout_s=settings.login_lockout_s,
            max_lockout_s=settings.login_lockout_max_s,
            registry=registry,
        )

    # login ---------------------------------------------------------------------

    def login(self, username: str, password: str, source: str) -> tuple[User, NewSession]:
        """A new session for valid credentials; :class:`LockedOut` while the username or
        address is locked, :class:`InvalidCredentials` otherwise (one message for a
        wrong password, an unknown user and a disabled user)."""
        wait = self.limiter.retry_after(username, source)
        if wait > 0:
            raise LockedOut(wait)
        user = self.users.get(username)
        if user is None or user.password_hash is None:
            self.passwords.burn(password)
            self._failed(username, source, user, "unknown user" if user is None else "no password")
        assert user is not None and user.password_hash is not None
        ok, new_hash = self.passwords.verify(user.password_hash, password)
        if not ok:
            self._failed(username, source, user, "wrong password")
        if user.disabled:
            self._failed(username, source, user, "disabled")
        if new_hash is not None:
            self.users.store_rehash(user.username, new_hash)
        self.limiter.success(username, source)
        with self.state.transaction() as conn:
            new = self.sessions.create(user.username, source, conn=conn)
            self.audit.record(
                actor=user.username,
                role=user.role,
                source=source,
                action="auth.login",
                target_type="user",
                target_id=user.username,
                after={"session_expires": new.expires.isoformat()},
                conn=conn,
            )
        return user, new

    def _failed(self, username: str, source: str, user: User | None, reason: str) -> None:
        lockout = self.limiter.failure(username, source)
        # an unknown username may be a password typed in the wrong field: never record it
        target = user.username if user is not None else "(unknown)"
        after = {"reason": reason, **({"lockout_s": lockout} if lockout else {})}
        self.audit.record(
            actor=target,
            role=user.role if user is not None else "",
            source=source,
            action="auth.login_failed",
            target_type="user",
            target_id=target,
            after=after,
        )
        raise InvalidCredentials()

    def logout(self, session_id: str, principal: Principal) -> bool:
        with self.state.transaction() as conn:
            ended = self.sessions.delete(session_id, conn=conn)
            if ended:
                self.audit.record_by(
                    principal, action="auth.logout", target_type="user", target_id=principal.name, conn=conn
                )
        return ended

    # who is calling ------------------------------------------------------------------

    def principal_from_token(self, raw: str, source: str) -> Principal | None:
        found = self.tokens.authenticate(raw)
        if found is None:
            return None
        token, owner = found
        return Principal(
            name=owner.username,
            role=token.role,
            agency_id=owner.agency_id,
            source=source,
            soc_lead=owner.soc_lead and token.role == owner.role,
        )

    def principal_from_session(self, session_id: str, source: str) -> tuple[Principal, Session] | None:
        session = self.sessions.resolve(session_id)
        if session is None:
            return None
        user = self.users.get(session.username)
        if user is None or user.disabled:
            self.sessions.delete(session_id)
            return None
        return user.principal(source), session
