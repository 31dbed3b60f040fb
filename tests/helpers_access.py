"""An API with real users and tokens of every role over a real state store, a
MemoryStore and alerts of two agencies (the access tests share it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from soc.access import (
    ALL_ROLES,
    ROLE_ADMIN,
    ROLE_AGENCY_OFFICER,
    ROLE_AUDITOR,
    ROLE_SERVICE,
    AccessControl,
    Principal,
)
from soc.access.passwords import Passwords
from soc.access.ratelimit import LoginLimiter
from soc.access.sessions import SessionStore
from soc.alerts import AlertRepository
from soc.api import ApiContext, create_app
from soc.config import AccessConfig
from soc.event import Event
from soc.metrics import Metrics
from soc.state import StateStore
from soc.store.memory import MemoryStore
from tests.helpers_api import TOKEN, make_event, record_alert

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
"""Cheap argon2id parameters so tests log in quickly (the default ones are tested too)."""
PASSWORD = "correct horse battery staple"
AGENCY_A = "so-tttt"
AGENCY_B = "ubnd-tinh"
AUDITOR_ORG = "kiem-toan-doc-lap"
SETUP = Principal(name="test-setup", role=ROLE_ADMIN, source="127.0.0.1")

USERNAMES = {role: f"{role.replace('_', '-')}.user" for role in ALL_ROLES}


def agency_event(n: int, agency: str) -> Event:
    event = make_event(n, host=f"host-{agency}", user=f"user{n}")
    event["organization"] = {"id": agency, "name": f"Agency {agency}"}
    return event


@dataclass
class AccessEnv:
    client: TestClient
    ctx: ApiContext
    access: AccessControl
    state: StateStore
    store: MemoryStore
    alerts: AlertRepository
    state_path: Path
    tokens: dict[str, str] = field(default_factory=dict)
    events: dict[str, list[Event]] = field(default_factory=dict)
    alert_ids: dict[str, list[str]] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def close(self) -> None:
        self.client.close()
        self.state.close()


def make_access_env(
    tmp_path: Path,
    *,
    limits: dict[str, Any] | None = None,
    sessions: SessionStore | None = None,
    metrics_public: bool = False,
    **ctx_options: Any,
) -> AccessEnv:
    state_path = tmp_path / "state.db"
    state = StateStore(state_path)
    store = MemoryStore()
    alerts = AlertRepository(state)
    metrics = Metrics()
    access = AccessControl(
        state,
        AccessConfig(),
        passwords=Passwords(FAST_HASHER),
        limiter=LoginLimiter(registry=metrics.registry, **limits) if limits else None,
        sessions=sessions,
        registry=metrics.registry,
    )
    ctx = ApiContext(
        store=store,
        alerts=alerts,
        metrics=metrics,
        token=TOKEN,
        access=access,
        state=state,
        metrics_public=metrics_public,
        **ctx_options,
    )
    env = AccessEnv(TestClient(create_app(ctx)), ctx, access, state, store, alerts, state_path)
    for offset, agency in ((0, AGENCY_A), (100, AGENCY_B)):
        events = [agency_event(offset + i, agency) for i in range(6)]
        store.write(events)
        env.events[agency] = events
        env.alert_ids[agency] = [
            record_alert(alerts, events[0:3], severity="high", rule_id=f"r-{agency}-1").alert.id,
            record_alert(alerts, events[3:6], severity="medium", rule_id=f"r-{agency}-2").alert.id,
        ]
    for role in ALL_ROLES:
        options: dict[str, Any] = {"display_name": f"Test {role}"}
        if role != ROLE_SERVICE:
            options["password"] = PASSWORD
        if role == ROLE_AGENCY_OFFICER:
            options["agency_id"] = AGENCY_A
        if role == ROLE_AUDITOR:
            options["organization"] = AUDITOR_ORG
        access.users.add(USERNAMES[role], role, SETUP, **options)
        env.tokens[role] = access.tokens.create(USERNAMES[role], "tests", SETUP)[1]
    return env
