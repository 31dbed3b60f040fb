"""Login sessions with CSRF, users, tokens and the audit log through the HTTP API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.helpers_access import PASSWORD, USERNAMES, AccessEnv, make_access_env
from tests.helpers_api import TOKEN

ENGINE = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AccessEnv]:
    env = make_access_env(tmp_path, limits={"max_failures": 3, "base_lockout_s": 60})
    yield env
    env.close()


def login(client: TestClient, role: str, password: str = PASSWORD) -> tuple[int, dict[str, str]]:
    resp = client.post("/api/v1/auth/login", json={"username": USERNAMES[role], "password": password})
    return resp.status_code, resp.json()


def test_session_cookie_and_csrf(env: AccessEnv) -> None:
    client = env.client
    status, body = login(client, "admin")
    assert status == 200 and body["user"]["role"] == "admin" and body["csrf_token"]
    cookies = env.client.cookies
    assert cookies.get("soc_session") and cookies.get("soc_csrf") == body["csrf_token"]
    # reads with the cookie alone
    me = client.get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["source"]) == (USERNAMES["admin"], "admin", "testclient")
    assert client.get("/api/v1/alerts").status_code == 200
    # a state-changing request without / with a wrong / with the CSRF header
    new_user = {"username": "minh.tran", "role": "responder", "password": PASSWORD}
    refused = client.post("/api/v1/users", json=new_user)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = client.post("/api/v1/users", json=new_user, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert env.access.users.get("minh.tran") is None
    done = client.post("/api/v1/users", json=new_user, headers={"X-CSRF-Token": body["csrf_token"]})
    assert done.status_code == 201, done.text
    # logging out ends the session server-side
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    assert out.json() == {"ended": True}
    assert client.get("/api/v1/auth/me").status_code == 401


def test_cookie_flags(env: AccessEnv) -> None:
    resp = env.client.post(
        "/api/v1/auth/login", json={"username": USERNAMES["soc_analyst"], "password": PASSWORD}
    )
    session_cookie = next(c for c in resp.headers.get_list("set-cookie") if c.startswith("soc_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    assert "Secure" not in session_cookie  # plain http: a Secure cookie would never come back
    assert resp.headers["cache-control"] == "no-store"
    with TestClient(env.client.app, base_url="https://testserver") as https:
        resp = https.post(
            "/api/v1/auth/login", json={"username": USERNAMES["soc_analyst"], "password": PASSWORD}
        )
        cookies = resp.headers.get_list("set-cookie")
        assert all("Secure" in c for c in cookies)
        assert "HttpOnly" not in next(c for c in cookies if c.startswith("soc_csrf="))


def test_login_failures_lock_out_with_429(env: AccessEnv) -> None:
    status, body = login(env.client, "service", PASSWORD)  # no password: refused like a wrong one
    assert status == 401 and body["detail"].startswith("invalid username or password")
    for _ in range(2):
        assert login(env.client, "soc_analyst", "wrong password here")[0] == 401
    resp = env.client.post(
        "/api/v1/auth/login", json={"username": USERNAMES["soc_analyst"], "password": PASSWORD}
    )
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) == 60
    assert PASSWORD not in resp.text
    metrics = env.client.get("/metrics", headers=ENGINE).text
    assert 'soc_login_attempts_total{outcome="locked"} 1.0' in metrics


def test_bearer_and_session_principals(env: AccessEnv) -> None:
    engine = env.client.get("/api/v1/auth/me", headers=ENGINE).json()
    assert (engine["name"], engine["role"], engine["user"]) == ("engine-token", "admin", None)
    officer = env.client.get("/api/v1/auth/me", headers=env.auth("agency_officer")).json()
    assert officer["role"] == "agency_officer" and officer["agency_id"] == "so-tttt"
    assert "password_hash" not in str(officer)
    bad = env.client.get("/api/v1/auth/me", headers={"Authorization": "Bearer soc_000000000000_" + "x" * 43})
    assert bad.status_code == 401 and bad.json()["detail"] == "invalid bearer token"
    env.client.cookies.set("soc_session", "forged")
    assert env.client.get("/api/v1/auth/me").status_code == 401


def test_users_crud_and_validation(env: AccessEnv) -> None:
    admin = env.auth("admin")
    add = env.client.post(
        "/api/v1/users",
        json={"username": "hoa.le", "role": "auditor", "password": PASSWORD, "organization": "soc-province"},
        headers=admin,
    )
    assert add.status_code == 400 and "organization" in add.json()["detail"]
    add = env.client.post(
        "/api/v1/users",
        json={"username": "hoa.le", "role": "auditor", "password": PASSWORD, "organization": "kiem-toan"},
        headers=admin,
    )
    assert add.status_code == 201 and add.json()["has_password"] is True
    again = env.client.post(
        "/api/v1/users",
        json={"username": "hoa.le", "role": "auditor", "password": PASSWORD, "organization": "kiem-toan"},
        headers=admin,
    )
    assert again.status_code == 409
    listed = env.client.get("/api/v1/users", headers=admin).json()["users"]
    assert "hoa.le" in {u["username"] for u in listed} and "$argon2" not in str(listed)
    patched = env.client.patch(
        "/api/v1/users/hoa.le", json={"display_name": "Lê Hoa", "password": PASSWORD + "!"}, headers=admin
    )
    assert patched.status_code == 200 and patched.json()["display_name"] == "Lê Hoa"
    assert (
        env.client.post(
            "/api/v1/auth/login", json={"username": "hoa.le", "password": PASSWORD + "!"}
        ).status_code
        == 200
    )
    gone = env.client.delete("/api/v1/users/hoa.le", headers=admin)
    assert gone.status_code == 200 and gone.json()["disabled"] is True
    assert env.client.get("/api/v1/users/nobody", headers=admin).status_code == 404
    # a disabled user's API tokens stop working at once
    env.client.delete(f"/api/v1/users/{USERNAMES['responder']}", headers=admin)
    assert env.client.get("/api/v1/alerts", headers=env.auth("responder")).status_code == 401


def test_tokens_own_and_admin_all(env: AccessEnv) -> None:
    analyst = env.auth("soc_analyst")
    made = env.client.post("/api/v1/tokens", json={"name": "laptop"}, headers=analyst)
    assert made.status_code == 201
    raw, record = made.json()["token"], made.json()["record"]
    assert record["owner"] == USERNAMES["soc_analyst"] and record["role"] == "soc_analyst"
    assert env.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {raw}"}).status_code == 200
    wider = env.client.post("/api/v1/tokens", json={"name": "x", "role": "admin"}, headers=analyst)
    assert wider.status_code == 400
    mine = env.client.get("/api/v1/tokens", headers=analyst).json()["tokens"]
    assert {t["owner"] for t in mine} == {USERNAMES["soc_analyst"]} and raw not in str(mine)
    others = env.client.get("/api/v1/tokens", params={"owner": USERNAMES["admin"]}, headers=analyst)
    assert others.status_code == 403
    # another user's token is 'not found' to a non-admin
    officer_token = env.access.tokens.list(USERNAMES["agency_officer"])[0]
    assert env.client.delete(f"/api/v1/tokens/{officer_token.id}", headers=analyst).status_code == 404
    everyone = env.client.get("/api/v1/tokens", headers=env.auth("admin")).json()["tokens"]
    assert len({t["owner"] for t in everyone}) == 6
    # admin creates a service token for a service user, then revokes the analyst's
    svc = env.client.post(
        "/api/v1/tokens", json={"name": "scraper", "owner": USERNAMES["service"]}, headers=ENGINE
    )
    assert svc.status_code == 201 and svc.json()["record"]["role"] == "service"
    assert env.client.post("/api/v1/tokens", json={"name": "x"}, headers=ENGINE).status_code == 400
    revoked = env.client.delete(f"/api/v1/tokens/{record['id']}", headers=env.auth("admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked"]
    assert env.client.get("/api/v1/alerts", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


def test_audit_route_filters_pages_and_verifies(env: AccessEnv) -> None:
    auditor = env.auth("auditor")
    env.client.post("/api/v1/tokens", json={"name": "laptop"}, headers=env.auth("soc_analyst"))
    page = env.client.get("/api/v1/audit", params={"limit": 5}, headers=auditor).json()
    assert len(page["entries"]) == 5 and page["cursor"] == page["entries"][-1]["seq"]
    rest = env.client.get("/api/v1/audit", params={"after": page["cursor"], "limit": 1000}, headers=auditor)
    seqs = [e["seq"] for e in page["entries"] + rest.json()["entries"]]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)) == 13  # 6 users + 6 tokens + 1
    assert rest.json()["cursor"] is None
    mine = env.client.get(
        "/api/v1/audit", params={"actor": USERNAMES["soc_analyst"]}, headers=auditor
    ).json()["entries"]
    assert [(e["action"], e["source"], e["role"]) for e in mine] == [
        ("token.create", "testclient", "soc_analyst")
    ]
    tokens = env.client.get("/api/v1/audit", params={"action": "token."}, headers=auditor).json()
    assert [e["action"] for e in tokens["entries"]] == ["token.create"] * 7
    added = env.client.get("/api/v1/audit", params={"action": "user.add", "since": "1h"}, headers=auditor)
    assert len(added.json()["entries"]) == 6
    assert env.client.get("/api/v1/audit", params={"since": "soon"}, headers=auditor).status_code == 400
    assert env.client.get("/api/v1/audit/verify", headers=auditor).json()["ok"] is True
    assert env.client.get("/api/v1/audit", headers=env.auth("soc_analyst")).status_code == 403
    # the auditor reads alerts and evidence, and changes nothing
    assert env.client.get("/api/v1/alerts", headers=auditor).status_code == 200
    assert env.client.post("/api/v1/users", json={}, headers=auditor).status_code == 403
    assert env.client.post("/api/v1/ingest/raw?source=x", content=b"a", headers=auditor).status_code == 403
