"""The triage, suppression and asset routes through the real FastAPI app with a real
state store: the engine token, roles, agency scoping (404 for another agency's alert),
per-id bulk results and the audit log of every change."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from soc.access import ROLE_AGENCY_OFFICER
from soc.assets import AssetStore, Inventory
from soc.assets.yaml_loader import parse_inventory
from soc.audit import AuditLog
from tests.helpers_access import AGENCY_A, AGENCY_B, USERNAMES, AccessEnv, make_access_env
from tests.helpers_api import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}  # the engine's own token (admin)


class Env:
    """Real users and API tokens of every role (the agency officer belongs to
    ``AGENCY_A``), alerts of two agencies, an inventory."""

    def __init__(self, access_env: AccessEnv) -> None:
        self.access = access_env
        self.client = access_env.client
        self.state = access_env.state
        self.alerts = access_env.alerts
        self.own = access_env.alert_ids[AGENCY_A][0]  # the officer's agency
        self.other = access_env.alert_ids[AGENCY_B][0]

    def auth(self, role: str) -> dict[str, str]:
        return self.access.auth(role)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    inventory = Inventory()
    inventory.extend(
        parse_inventory(
            {
                "agencies": [
                    {
                        "id": AGENCY_A,
                        "systems": [{"name": "Portal", "assets": [{"host": "web01", "security_level": 3}]}],
                    },
                    {"id": AGENCY_B, "assets": [{"ip": "10.20.0.0/16", "security_level": 2}]},
                ]
            }
        ).assets
    )
    access_env = make_access_env(tmp_path, inventory=inventory)
    yield Env(access_env)
    access_env.close()


def post(env: Env, path: str, body: Any, headers: dict[str, str] = AUTH, expect: int = 200) -> Any:
    resp = env.client.post(path, json=body, headers=headers)
    assert resp.status_code == expect, resp.text
    return resp.json()


def test_routes_need_a_token(env: Env) -> None:
    for method, path in [
        ("GET", "/api/v1/triage/queue"),
        ("POST", f"/api/v1/alerts/{env.own}/status"),
        ("GET", f"/api/v1/alerts/{env.own}/comments"),
        ("POST", "/api/v1/alerts/bulk"),
        ("GET", "/api/v1/suppressions"),
        ("GET", "/api/v1/assets"),
    ]:
        assert env.client.request(method, path).status_code == 401, path


def test_status_flow_and_errors_over_http(env: Env) -> None:
    url = f"/api/v1/alerts/{env.own}/status"
    analyst = env.auth("soc_analyst")
    refused = post(env, url, {"status": "closed", "resolution": "benign"}, expect=409)
    assert "cannot go from new to closed" in refused["detail"]
    assert post(env, url, {"status": "acknowledged"})["status"] == "acknowledged"
    missing = post(env, url, {"status": "closed"}, expect=400)
    assert missing["detail"].startswith("resolution: closing needs one of")
    closed = post(env, url, {"status": "closed", "resolution": "true_positive"})
    assert closed["resolution"] == "true_positive"
    assert "needs a reason" in post(env, url, {"status": "new"}, expect=400)["detail"]
    assert post(env, url, {"status": "new", "reason": "seen again"})["status"] == "new"
    assert post(env, "/api/v1/alerts/nope/status", {"status": "acknowledged"}, expect=404)["detail"]
    entries = AuditLog(env.state).entries(target_id=env.own)
    assert [e.action for e in entries] == ["alert.status", "alert.status", "alert.reopen"]
    assert entries[0].actor == "engine-token" and entries[0].source == "testclient"
    post(env, url, {"status": "acknowledged"}, analyst)
    last = AuditLog(env.state).entries(target_id=env.own)[-1]
    assert (last.actor, last.role) == (USERNAMES["soc_analyst"], "soc_analyst")
    assert AuditLog(env.state).verify().ok


def test_assignee_comments_tags_incident_type(env: Env) -> None:
    base = f"/api/v1/alerts/{env.own}"
    assert post(env, f"{base}/assignee", {"assignee": "lan"})["assignee"] == "lan"
    comment = post(env, f"{base}/comments", {"body": "Đã chặn IP"}, expect=200)
    assert comment["author"] == "engine-token" and comment["body"] == "Đã chặn IP"
    listed = env.client.get(f"{base}/comments", headers=AUTH).json()["comments"]
    assert [c["body"] for c in listed] == ["Đã chặn IP"]
    assert post(env, f"{base}/tags", {"add": ["vip"]})["analyst_tags"] == ["vip"]
    changed = post(env, f"{base}/incident-type", {"incident_type": "malware"})
    assert changed["incident_type"] == "malware" and changed["incident_type_overridden"] is True
    assert "is not one of" in post(env, f"{base}/incident-type", {"incident_type": "x"}, expect=400)["detail"]
    detail = env.client.get(base, headers=AUTH).json()
    assert detail["assignee"] == "lan" and detail["risk_score"] > 0 and "entities" in detail
    types = env.client.get("/api/v1/incident-types", headers=AUTH).json()["incident_types"]
    assert len(types) == 10 and types[0] == {
        "key": "denial_of_service",
        "vi": "Tấn công từ chối dịch vụ",
        "en": "Denial of service",
    }


def test_bulk_partial_failure_per_id(env: Env) -> None:
    post(env, f"/api/v1/alerts/{env.other}/status", {"status": "acknowledged"})
    out = post(
        env,
        "/api/v1/alerts/bulk",
        {"ids": [env.own, env.other, "gone"], "action": "status", "params": {"status": "acknowledged"}},
    )
    assert (out["ok"], out["failed"]) == (1, 2)
    codes = {r["id"]: r["code"] for r in out["results"]}
    assert codes == {env.own: None, env.other: "conflict", "gone": "not_found"}


def test_queue_filters_sorts_and_pages(env: Env) -> None:
    page = env.client.get("/api/v1/triage/queue", params={"sort": "risk", "limit": 2}, headers=AUTH).json()
    risks = [a["risk_score"] for a in page["alerts"]]
    assert risks == sorted(risks, reverse=True) and page["cursor"]
    rest = env.client.get(
        "/api/v1/triage/queue", params={"sort": "risk", "limit": 2, "cursor": page["cursor"]}, headers=AUTH
    ).json()
    assert len(rest["alerts"]) == 2 and rest["cursor"] is None
    assert {a["id"] for a in page["alerts"]}.isdisjoint(a["id"] for a in rest["alerts"])
    only = env.client.get(
        "/api/v1/triage/queue", params={"agency_id": AGENCY_B, "min_severity": "high"}, headers=AUTH
    )
    assert [(a["agency_id"], a["severity"]) for a in only.json()["alerts"]] == [(AGENCY_B, "high")]
    bad = env.client.get("/api/v1/triage/queue", params={"sort": "name"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("sort:")
    assert env.client.get("/api/v1/triage/queue", params={"status": "open"}, headers=AUTH).status_code == 400


def test_agency_officer_sees_and_changes_only_their_agency(env: Env) -> None:
    officer = env.auth(ROLE_AGENCY_OFFICER)
    queue = env.client.get("/api/v1/triage/queue", headers=officer).json()["alerts"]
    assert {a["agency_id"] for a in queue} == {AGENCY_A} and len(queue) == 2
    other = env.client.get("/api/v1/triage/queue", params={"agency_id": AGENCY_B}, headers=officer).json()
    assert other["alerts"] == []
    assert post(env, f"/api/v1/alerts/{env.other}/status", {"status": "acknowledged"}, officer, 404)
    assert env.client.get(f"/api/v1/alerts/{env.other}/comments", headers=officer).status_code == 404
    changed = post(env, f"/api/v1/alerts/{env.own}/status", {"status": "acknowledged"}, officer)
    assert changed["status"] == "acknowledged"
    out = post(
        env,
        "/api/v1/alerts/bulk",
        {"ids": [env.own, env.other], "action": "comment", "params": {"body": "ok"}},
        officer,
    )
    assert {r["id"]: r["code"] for r in out["results"]} == {env.own: None, env.other: "not_found"}
    assets = env.client.get("/api/v1/assets", headers=officer).json()["assets"]
    assert {a["agency_id"] for a in assets} == {AGENCY_A}
    assert env.client.get("/api/v1/assets/unknown", headers=officer).status_code == 403
    assert env.client.get("/api/v1/suppressions", headers=officer).status_code == 403
    entry = AuditLog(env.state).entries(target_id=env.own)[0]
    assert (entry.actor, entry.role) == (USERNAMES[ROLE_AGENCY_OFFICER], ROLE_AGENCY_OFFICER)
    assert AuditLog(env.state).entries(target_id=env.other) == []


def test_auditor_reads_but_changes_nothing(env: Env) -> None:
    auditor = env.auth("auditor")
    before = len(AuditLog(env.state).entries(limit=10_000))
    assert env.client.get("/api/v1/triage/queue", headers=auditor).status_code == 200
    assert env.client.get(f"/api/v1/alerts/{env.own}/comments", headers=auditor).status_code == 200
    refused = post(env, f"/api/v1/alerts/{env.own}/status", {"status": "acknowledged"}, auditor, 403)
    assert "may not do this" in refused["detail"]
    post(env, "/api/v1/suppressions", {"rule_id": "r-ssh-bf", "reason": "x"}, auditor, 403)
    assert len(AuditLog(env.state).entries(limit=10_000)) == before


def test_suppressions_over_http(env: Env) -> None:
    created = post(
        env,
        "/api/v1/suppressions",
        {"rule_id": "r-ssh-bf", "conditions": {"agency": AGENCY_A}, "reason": "pentest", "expires": "8h"},
        expect=200,
    )
    assert created["active"] and created["creator"] == "engine-token" and created["expires"]
    bad = post(env, "/api/v1/suppressions", {"reason": "x", "expires": "soon", "rule_id": "r"}, expect=400)
    assert bad["detail"].startswith("expires:")
    assert post(env, "/api/v1/suppressions", {"reason": "x"}, expect=400)["detail"].startswith("scope:")
    listed = env.client.get("/api/v1/suppressions", headers=AUTH).json()["suppressions"]
    assert [s["id"] for s in listed] == [created["id"]]
    resp = env.client.delete(f"/api/v1/suppressions/{created['id']}", headers=AUTH)
    assert resp.status_code == 200 and resp.json()["active"] is False
    assert env.client.delete(f"/api/v1/suppressions/{created['id']}", headers=AUTH).status_code == 404
    assert [e.action for e in AuditLog(env.state).entries(target_type="suppression")] == [
        "suppression.create",
        "suppression.remove",
    ]


def test_asset_routes(env: Env) -> None:
    systems = env.client.get("/api/v1/assets/systems", headers=AUTH).json()["systems"]
    assert systems == [{"agency_id": AGENCY_A, "system": "Portal", "security_level": 3, "assets": 1}]
    AssetStore(env.state).record_unknown(
        {("host.name", "kiosk"): (2, "2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z")}
    )
    unknown = env.client.get("/api/v1/assets/unknown", headers=AUTH).json()["unknown"]
    assert unknown[0]["value"] == "kiosk" and unknown[0]["count"] == 2
