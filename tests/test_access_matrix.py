"""The role x route matrix, generated from ``app.openapi()``: every operation admits
exactly the roles it declares (403 for the others, 401 without credentials), every
operation declares roles or is explicitly public, and the declarations of the known
routes are the policy below. Routes added later are covered by the same loop.

Plus agency isolation: an agency officer never sees another agency's alerts or events
through any alert or event route (lists, detail, evidence, search, counts)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi import Depends, FastAPI

from soc.access import (
    ADMIN_ROLES,
    ALL_ROLES,
    AUDIT_ROLES,
    HUNT_ROLES,
    INGEST_ROLES,
    METRICS_ROLES,
    PIPELINE_ROLES,
    READ_ALERT_ROLES,
    ROLE_AGENCY_OFFICER,
)
from soc.api.auth import require_principal
from tests.helpers_access import AGENCY_A, AGENCY_B, AccessEnv, make_access_env
from tests.helpers_api import record_alert

PUBLIC = "public"

POLICY: dict[tuple[str, str], tuple[str, ...] | str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/metrics"): METRICS_ROLES,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): ALL_ROLES,
    ("GET", "/api/v1/auth/me"): ALL_ROLES,
    **{
        ("GET", f"/api/v1/events{suffix}"): READ_ALERT_ROLES
        for suffix in ("", "/count", "/terms", "/histogram", "/distinct", "/{event_id}")
    },
    ("GET", "/api/v1/alerts"): READ_ALERT_ROLES,
    ("GET", "/api/v1/alerts/{alert_id}"): READ_ALERT_ROLES,
    ("POST", "/api/v1/ingest/raw"): INGEST_ROLES,
    ("POST", "/api/v1/ingest/records"): INGEST_ROLES,
    ("GET", "/api/v1/deadletters"): PIPELINE_ROLES,
    ("POST", "/api/v1/deadletters/replay"): PIPELINE_ROLES,
    ("POST", "/api/v1/rules/hunt"): HUNT_ROLES,
    ("GET", "/api/v1/users"): ADMIN_ROLES,
    ("POST", "/api/v1/users"): ADMIN_ROLES,
    ("GET", "/api/v1/users/{username}"): ADMIN_ROLES,
    ("PATCH", "/api/v1/users/{username}"): ADMIN_ROLES,
    ("DELETE", "/api/v1/users/{username}"): ADMIN_ROLES,
    ("GET", "/api/v1/tokens"): ALL_ROLES,
    ("POST", "/api/v1/tokens"): ALL_ROLES,
    ("DELETE", "/api/v1/tokens/{token_id}"): ALL_ROLES,
    ("GET", "/api/v1/audit"): AUDIT_ROLES,
    ("GET", "/api/v1/audit/verify"): AUDIT_ROLES,
    ("GET", "/api/v1/forwarding"): ("admin", "soc_analyst", "responder", "auditor"),
    ("GET", "/api/v1/notifications"): ("admin", "soc_analyst", "responder", "auditor"),
    ("POST", "/api/v1/forwarding/{record_id}/approve"): ("admin", "soc_analyst"),
    ("POST", "/api/v1/forwarding/{record_id}/reject"): ("admin", "soc_analyst"),
}
"""The policy of the routes this branch knows; others must at least declare one."""


def _dependency_calls(dependant: Any) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _dependency_calls(sub)


def route_policy(route: Any) -> tuple[str, ...] | str | None:
    """The roles ``route`` declares (``require_roles``), ``PUBLIC``, or ``None``."""
    for call in _dependency_calls(route.dependant):
        roles = getattr(call, "allowed_roles", None)
        if roles is not None:
            return tuple(roles)
        if getattr(call, "public", False):
            return PUBLIC
    return None


def api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes with their effective dependencies (router-level ones
    included): FastAPI's route contexts where it has them, else the routes."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in iter_contexts(app.routes) if iter_contexts else app.routes:
        if getattr(route, "dependant", None) is not None and getattr(route, "methods", None):
            yield route


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any], Any]]:
    """Every (method, path, OpenAPI operation, route) of the app's spec."""
    routes = {
        (method, getattr(route, "path_format", None) or route.path): route
        for route in api_routes(app)
        for method in route.methods
    }
    found = []
    for path, ops in app.openapi()["paths"].items():
        for method, op in ops.items():
            found.append((method.upper(), path, op, routes[(method.upper(), path)]))
    return found


def undeclared(app: FastAPI) -> list[str]:
    return [f"{m} {p}" for m, p, _, route in operations(app) if route_policy(route) is None]


def request_for(path: str, op: dict[str, Any]) -> dict[str, Any]:
    """A request reaching the handler: path parameters filled, required query
    parameters given, an empty body where one is required."""
    url = re.sub(r"\{[^}]+\}", "no-such-id", path)
    params: dict[str, Any] = {}
    for param in op.get("parameters", []):
        if param["in"] == "query" and param.get("required"):
            params[param["name"]] = "user.name" if param["name"] == "field" else "x"
    kwargs: dict[str, Any] = {"url": url, "params": params}
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        kwargs["json"] = {}
    elif content:
        kwargs["content"] = b""
    return kwargs


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AccessEnv]:
    env = make_access_env(tmp_path, metrics_public=False)
    yield env
    env.close()


def test_every_operation_declares_roles_or_is_public(env: AccessEnv) -> None:
    assert undeclared(env.client.app) == []
    declared = {(m, p): route_policy(r) for m, p, _, r in operations(env.client.app)}
    for key, expected in POLICY.items():
        assert key in declared, f"{key} is missing from the spec"
        assert declared[key] == expected, f"{key}: declares {declared[key]}, policy is {expected}"


def test_a_route_without_roles_is_caught(env: AccessEnv) -> None:
    app = env.client.app

    @app.get("/api/v1/forgotten", dependencies=[Depends(require_principal)])
    def forgotten() -> dict[str, str]:
        return {"ok": "yes"}

    app.openapi_schema = None
    assert undeclared(app) == ["GET /api/v1/forgotten"]


def test_role_by_route_matrix(env: AccessEnv) -> None:
    checked = 0
    for method, path, op, route in operations(env.client.app):
        policy = route_policy(route)
        request = request_for(path, op)
        anonymous = env.client.request(method, **request)
        if policy == PUBLIC:
            assert anonymous.status_code not in (401, 403), f"{method} {path} is public"
            continue
        assert anonymous.status_code == 401, f"{method} {path} without credentials: {anonymous.status_code}"
        for role in ALL_ROLES:
            resp = env.client.request(method, headers=env.auth(role), **request)
            if role in policy:  # type: ignore[operator]
                assert resp.status_code not in (401, 403), f"{role} {method} {path}: {resp.text}"
            else:
                assert resp.status_code == 403, f"{role} {method} {path}: {resp.status_code}"
            checked += 1
    assert checked >= 25 * len(ALL_ROLES)


# --- agency isolation ---------------------------------------------------------------


def _other_agency_markers(env: AccessEnv) -> list[str]:
    return [AGENCY_B, *env.alert_ids[AGENCY_B], *(e["event"]["id"] for e in env.events[AGENCY_B])]


def _scoped_paths(env: AccessEnv) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (m, p, op)
        for m, p, op, route in operations(env.client.app)
        if p.startswith(("/api/v1/alerts", "/api/v1/events"))
        and ROLE_AGENCY_OFFICER in (route_policy(route) or ())
    ]


def test_agency_officer_never_sees_another_agency(env: AccessEnv) -> None:
    officer = env.auth(ROLE_AGENCY_OFFICER)
    markers = _other_agency_markers(env)
    scoped = _scoped_paths(env)
    assert len(scoped) >= 8
    for method, path, op in scoped:
        names = re.findall(r"\{([^}]+)\}", path)
        if not names:
            params = {
                p["name"]: "organization.id" if p["name"] == "field" else "x"
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            for extra in ({}, {"q": f"organization.id:{AGENCY_B}"}, {"agency_id": AGENCY_B}):
                resp = env.client.request(method, path, params={**params, **extra}, headers=officer)
                assert resp.status_code in (200, 400, 422), f"{method} {path}: {resp.text}"
                leaked = [m for m in markers if m in resp.text]
                assert not leaked, f"{method} {path} {extra} shows {leaked}"
            continue
        ids = (
            env.alert_ids[AGENCY_B]
            if "alert" in names[0]
            else [e["event"]["id"] for e in env.events[AGENCY_B]]
        )
        for other in ids:
            url = path.replace("{" + names[0] + "}", other)
            url = re.sub(r"\{[^}]+\}", "x", url)
            resp = env.client.request(
                method, url, headers=officer, **({"json": {}} if method != "GET" else {})
            )
            expected = (404,) if method == "GET" else (404, 422)
            assert resp.status_code in expected, f"{method} {url}: {resp.status_code}"
            assert not [m for m in markers if m in resp.text and m != other]


def test_agency_officer_sees_own_agency_and_counts_are_scoped(env: AccessEnv) -> None:
    officer = env.auth(ROLE_AGENCY_OFFICER)
    get = lambda path, **params: env.client.get(path, params=params, headers=officer).json()  # noqa: E731
    assert {a["id"] for a in get("/api/v1/alerts")["alerts"]} == set(env.alert_ids[AGENCY_A])
    detail = get(f"/api/v1/alerts/{env.alert_ids[AGENCY_A][0]}")
    assert len(detail["events"]) == 3 and {e["organization"]["id"] for e in detail["events"]} == {AGENCY_A}
    assert get("/api/v1/events")["total"] == 6
    assert get("/api/v1/events/count")["count"] == 6
    assert get("/api/v1/events/distinct", field="organization.id")["count"] == 1
    assert get("/api/v1/events/terms", field="organization.id")["buckets"] == [{"key": AGENCY_A, "count": 6}]
    assert sum(b["count"] for b in get("/api/v1/events/histogram", interval="1d")["buckets"]) == 6
    own_event = env.events[AGENCY_A][0]["event"]["id"]
    assert get(f"/api/v1/events/{own_event}")["event"]["id"] == own_event
    # an unscoped reader sees both agencies
    analyst = env.client.get("/api/v1/events/count", headers=env.auth("soc_analyst")).json()
    assert analyst["count"] == 12


def test_mixed_agency_evidence_is_hidden_from_the_officer(env: AccessEnv) -> None:
    mixed = [env.events[AGENCY_B][0], env.events[AGENCY_A][5]]  # attributed to A, the last event's
    alert = record_alert(env.alerts, mixed, rule_id="r-cross-agency").alert
    assert alert.agency_id == AGENCY_A
    body = env.client.get(f"/api/v1/alerts/{alert.id}", headers=env.auth(ROLE_AGENCY_OFFICER)).json()
    assert [e["organization"]["id"] for e in body["events"]] == [AGENCY_A]
    assert not [m for m in _other_agency_markers(env) if m in str(body)]
    full = env.client.get(f"/api/v1/alerts/{alert.id}", headers=env.auth("soc_analyst")).json()
    assert len(full["events"]) == 2
