"""Users, passwords, API tokens, sessions and login limits on a real state store,
and the audit entry every change leaves."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from soc.access import (
    AccessControl,
    Conflict,
    InvalidCredentials,
    InvalidRequest,
    LockedOut,
    NotFound,
)
from soc.access.passwords import Passwords
from soc.access.ratelimit import LoginLimiter
from soc.access.sessions import SessionStore
from soc.access.tokens import token_hash
from soc.config import AccessConfig
from soc.event import utcnow
from soc.metrics import Metrics
from soc.state import StateStore
from tests.helpers_access import FAST_HASHER, PASSWORD, SETUP


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore(tmp_path / "state.db")
    yield store
    store.close()


@pytest.fixture
def access(state: StateStore) -> AccessControl:
    return AccessControl(state, AccessConfig(), passwords=Passwords(FAST_HASHER))


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(state: StateStore) -> None:
    cheap = AccessControl(state, AccessConfig(), passwords=Passwords(FAST_HASHER))
    user = cheap.users.add("lan.nguyen", "soc_analyst", SETUP, password=PASSWORD)
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash and PASSWORD not in repr(user)
    assert "password_hash" not in user.to_dict()
    ok, new_hash = cheap.passwords.verify(user.password_hash, PASSWORD)
    assert ok and new_hash is None
    assert cheap.passwords.verify(user.password_hash, PASSWORD + "x") == (False, None)
    # the default (stronger) parameters: the next login stores a fresh hash
    strong = AccessControl(state, AccessConfig(), passwords=Passwords(PasswordHasher()))
    strong.login("lan.nguyen", PASSWORD, "10.0.0.1")
    stored = strong.users.get("lan.nguyen")
    assert stored is not None and stored.password_hash != user.password_hash
    assert not strong.passwords.hasher.check_needs_rehash(stored.password_hash)
    assert strong.passwords.verify(stored.password_hash, PASSWORD) == (True, None)
    with pytest.raises(InvalidRequest, match="at least 12"):
        cheap.users.add("short.pw", "soc_analyst", SETUP, password="short")


def test_user_rules_agency_organization_and_service(access: AccessControl) -> None:
    with pytest.raises(InvalidRequest, match="agency_id: required"):
        access.users.add("l1", "agency_officer", SETUP, password=PASSWORD)
    with pytest.raises(InvalidRequest, match="only agency_officer"):
        access.users.add("l2", "soc_analyst", SETUP, password=PASSWORD, agency_id="so-tttt")
    with pytest.raises(InvalidRequest, match="organization: required"):
        access.users.add("l3", "auditor", SETUP, password=PASSWORD)
    with pytest.raises(InvalidRequest, match="must not belong to the SOC"):
        access.users.add("l3", "auditor", SETUP, password=PASSWORD, organization="SOC-Province")
    with pytest.raises(InvalidRequest, match="role"):
        access.users.add("x1", "superuser", SETUP, password=PASSWORD)
    with pytest.raises(InvalidRequest, match="username"):
        access.users.add("Bad Name", "soc_analyst", SETUP, password=PASSWORD)
    with pytest.raises(InvalidRequest, match="password: required"):
        access.users.add("x2", "soc_analyst", SETUP)
    with pytest.raises(InvalidRequest, match="tokens only"):
        access.users.add("svc", "service", SETUP, password=PASSWORD)
    officer = access.users.add("l1", "agency_officer", SETUP, password=PASSWORD, agency_id="so-tttt")
    assert officer.organization == "so-tttt" and officer.principal().agency_id == "so-tttt"
    auditor = access.users.add("l3", "auditor", SETUP, password=PASSWORD, organization="kiem-toan")
    assert auditor.organization == "kiem-toan"
    assert access.users.add("svc", "service", SETUP).has_password is False
    with pytest.raises(Conflict):
        access.users.add("l1", "agency_officer", SETUP, password=PASSWORD, agency_id="so-tttt")
    # an update must satisfy the same rules; leaving agency_officer drops the agency
    with pytest.raises(InvalidRequest, match="must not belong to the SOC"):
        access.users.update("l3", {"organization": "soc-province"}, SETUP)
    moved = access.users.update("l1", {"role": "responder", "organization": "soc-province"}, SETUP)
    assert moved.agency_id is None and moved.role == "responder"
    with pytest.raises(InvalidRequest, match="agency_id: required"):
        access.users.update("l1", {"role": "agency_officer"}, SETUP)
    with pytest.raises(NotFound):
        access.users.disable("nobody", SETUP)
    # the SOC-lead flag (approves national reports): analysts and admins only
    with pytest.raises(InvalidRequest, match="soc_lead"):
        access.users.add("r1", "responder", SETUP, password=PASSWORD, soc_lead=True)
    lead = access.users.add("lead", "soc_analyst", SETUP, password=PASSWORD, soc_lead=True)
    assert lead.principal().soc_lead and lead.to_dict()["soc_lead"] is True
    _, raw = access.tokens.create("lead", "laptop", SETUP)
    assert access.principal_from_token(raw, "x").soc_lead  # type: ignore[union-attr]
    assert access.users.update("lead", {"role": "responder"}, SETUP).soc_lead is False
    assert access.principal_from_token(raw, "x") is None  # the token's role is no longer the owner's


def test_disabled_user_cannot_log_in_and_its_sessions_end(access: AccessControl) -> None:
    access.users.add("lan", "soc_analyst", SETUP, password=PASSWORD)
    _, session = access.login("lan", PASSWORD, "10.0.0.1")
    assert access.principal_from_session(session.session_id, "10.0.0.1") is not None
    access.users.disable("lan", SETUP)
    assert access.principal_from_session(session.session_id, "10.0.0.1") is None
    with pytest.raises(InvalidCredentials) as info:
        access.login("lan", PASSWORD, "10.0.0.1")
    assert PASSWORD not in str(info.value)
    access.users.update("lan", {"disabled": False}, SETUP)
    assert access.login("lan", PASSWORD, "10.0.0.1")[0].username == "lan"
    with pytest.raises(InvalidCredentials):
        access.login("nobody", PASSWORD, "10.0.0.1")


def test_tokens_hashed_at_rest_revoked_expired_and_owner_disabled(
    access: AccessControl, state: StateStore
) -> None:
    access.users.add("lan", "soc_analyst", SETUP, password=PASSWORD)
    access.users.add("root", "admin", SETUP, password=PASSWORD)
    record, raw = access.tokens.create("lan", "laptop", SETUP)
    assert raw.startswith(f"soc_{record.id}_") and record.role == "soc_analyst"
    principal = access.principal_from_token(raw, "10.0.0.9")
    assert principal is not None and (principal.name, principal.role) == ("lan", "soc_analyst")
    assert access.tokens.get(record.id).last_used is not None  # type: ignore[union-attr]
    # only the hash is stored, anywhere in the database files
    state.query("PRAGMA wal_checkpoint(FULL)")
    on_disk = b"".join(p.read_bytes() for p in state.path.parent.glob("state.db*"))
    assert raw.encode() not in on_disk and raw.split("_", 2)[2].encode() not in on_disk
    assert token_hash(raw).encode() in on_disk
    assert raw not in repr(record) and raw not in str(record.to_dict())
    # a wrong secret with a real id, garbage, revoked
    assert access.principal_from_token(raw[:-2] + "xx", "x") is None
    assert access.principal_from_token("not-a-token", "x") is None
    access.tokens.revoke(record.id, SETUP)
    assert access.principal_from_token(raw, "x") is None
    # expired
    _, short = access.tokens.create("lan", "short", SETUP, expires_days=1)
    assert access.tokens.authenticate(short, now=utcnow() + timedelta(days=2)) is None
    assert access.tokens.authenticate(short) is not None
    # owner disabled
    access.users.disable("lan", SETUP)
    assert access.principal_from_token(short, "x") is None
    # roles: inherited or narrower only
    with pytest.raises(InvalidRequest, match="may have role"):
        access.tokens.create("root", "too wide", SETUP, role="agency_officer")
    _, svc = access.tokens.create("root", "scraper", SETUP, role="service")
    assert access.principal_from_token(svc, "x").role == "service"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        access.tokens.revoke("000000000000", SETUP)


def test_login_rate_limit_locks_out_and_recovers(state: StateStore) -> None:
    clock = Clock()
    metrics = Metrics()
    limiter = LoginLimiter(
        max_failures=3, base_lockout_s=10, max_lockout_s=100, clock=clock, registry=metrics.registry
    )
    access = AccessControl(state, AccessConfig(), passwords=Passwords(FAST_HASHER), limiter=limiter)
    access.users.add("lan", "soc_analyst", SETUP, password=PASSWORD)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            access.login("lan", "wrong password!", "10.0.0.1")
    # locked: even the right password is refused, from any address
    with pytest.raises(LockedOut) as info:
        access.login("lan", PASSWORD, "10.0.0.2")
    assert info.value.retry_after == 10
    clock.now += 11
    with pytest.raises(InvalidCredentials):  # one more failure doubles the lockout
        access.login("lan", "wrong password!", "10.0.0.3")
    with pytest.raises(LockedOut) as info:
        access.login("lan", PASSWORD, "10.0.0.3")
    assert info.value.retry_after == 20
    clock.now += 21
    user, _ = access.login("lan", PASSWORD, "10.0.0.3")
    assert user.username == "lan"
    # per address: a spray of unknown names from one address is locked too
    for n in range(3):
        with pytest.raises(InvalidCredentials):
            access.login(f"guess{n}", "whatever password", "203.0.113.7")
    with pytest.raises(LockedOut):
        access.login("lan", PASSWORD, "203.0.113.7")
    body = metrics.render()[0].decode()
    assert 'soc_login_attempts_total{outcome="locked"} 3.0' in body
    assert 'soc_login_attempts_total{outcome="success"} 1.0' in body
    assert 'soc_login_lockouts_total{scope="user"}' in body
    assert 'soc_login_lockouts_total{scope="address"}' in body


def test_sessions_expire_idle_and_absolute(state: StateStore) -> None:
    now = [utcnow()]
    sessions = SessionStore(
        state, idle=timedelta(minutes=10), absolute=timedelta(hours=1), clock=lambda: now[0]
    )
    new = sessions.create("lan")
    assert sessions.resolve(new.session_id) is not None
    assert new.session_id not in repr(new) and new.csrf_token not in repr(new)
    now[0] += timedelta(minutes=9)
    session = sessions.resolve(new.session_id)
    assert session is not None  # the idle deadline moved on
    assert sessions.check_csrf(session, new.csrf_token) and not sessions.check_csrf(session, "x")
    assert not sessions.check_csrf(session, None)
    now[0] += timedelta(minutes=11)
    assert sessions.resolve(new.session_id) is None  # idle
    other = sessions.create("lan")
    for _ in range(7):
        now[0] += timedelta(minutes=9)
        sessions.resolve(other.session_id)
    assert sessions.resolve(other.session_id) is None  # absolute, though never idle
    stored = state.query("SELECT * FROM sessions")
    assert all(new.session_id not in tuple(row) for row in stored)


def test_every_change_is_audited_and_the_chain_verifies(access: AccessControl) -> None:
    access.users.add("lan", "soc_analyst", SETUP, password=PASSWORD)
    access.users.update("lan", {"display_name": "Nguyễn Lan"}, SETUP)
    access.users.set_password("lan", PASSWORD + "2", SETUP)
    record, raw = access.tokens.create("lan", "laptop", SETUP)
    access.tokens.revoke(record.id, SETUP)
    _, session = access.login("lan", PASSWORD + "2", "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        access.login("lan", "a wrong password", "10.0.0.1")
    with pytest.raises(InvalidCredentials):
        access.login("typed-my-secret-here", "a wrong password", "10.0.0.1")
    lan = access.users.require("lan").principal("10.0.0.1")
    access.logout(session.session_id, lan)
    access.users.disable("lan", SETUP)
    entries = access.audit.entries(limit=100)
    assert [e.action for e in entries] == [
        "user.add",
        "user.update",
        "user.password",
        "token.create",
        "token.revoke",
        "auth.login",
        "auth.login_failed",
        "auth.login_failed",
        "auth.logout",
        "user.disable",
    ]
    update = entries[1]
    assert (update.actor, update.role, update.source) == ("test-setup", "admin", "127.0.0.1")
    assert update.before["display_name"] == "" and update.after["display_name"] == "Nguyễn Lan"
    assert entries[6].after == {"reason": "wrong password"} and entries[6].target_id == "lan"
    assert entries[7].target_id == "(unknown)"  # an unknown username is never recorded
    assert entries[9].before["disabled"] is False and entries[9].after["disabled"] is True
    text = str([e.to_dict() for e in entries])
    for secret in (PASSWORD, raw, session.session_id, session.csrf_token, "typed-my-secret-here", "$argon2"):
        assert secret not in text
    assert access.audit.verify().ok
