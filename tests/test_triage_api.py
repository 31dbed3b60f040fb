"""The triage, suppression and asset routes through the real FastAPI app with a real
state store: the engine token, roles, agency scoping (404 for another agency's alert),
per-id bulk results and the audit log of every change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.testclient import TestClient

import soc.api.auth as auth
from soc.access import ROLE_AGENCY_OFFICER, ROLE_AUDITOR, Principal
from soc.alerts import AlertRepository
from soc.api import ApiContext, create_app
from soc.assets import AssetStore, Inventory
from soc.assets.yaml_loader import parse_inventory
from soc.audit import AuditLog
from soc.metrics import Metrics
from soc.state import StateStore
from soc.store.memory import MemoryStore
from tests.helpers_api import TOKEN, make_event, record_alert

AUTH = {"Authorization": f"Bearer {TOKEN}"}
OFFICER = {"Authorization": "Bearer officer-ubnd"}
AUDITOR = {"Authorization": "Bearer auditor-l3"}


@dataclass
class Env:
    client: TestClient
    state: StateStore
    alerts: AlertRepository
    tttt: str  # an alert of so-tttt
    ubnd: str  # an alert of ubnd-tinh


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    real_check = auth.check_token

    def check_token(ctx: ApiContext, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        # principals other than the engine token, until users and tokens exist
        if credentials is not None and credentials.credentials == "officer-ubnd":
            return Principal("hoa.le", ROLE_AGENCY_OFFICER, agency_id="ubnd-tinh")
        if credentials is not None and credentials.credentials == "auditor-l3":
            return Principal("kiem.toan", ROLE_AUDITOR)
        return real_check(ctx, credentials)

    monkeypatch.setattr(auth, "check_token", check_token)
    state = StateStore(tmp_path / "state.db")
    alerts = AlertRepository(state)
    store = MemoryStore()
    events = [make_event(i, source_ip=f"203.0.113.{i}") for i in range(4)]
    for i, ev in enumerate(events):
        agency = ("so-tttt", "Sở TTTT") if i % 2 == 0 else ("ubnd-tinh", "Văn phòng UBND tỉnh")
        ev["organization"] = {"id": agency[0], "name": agency[1]}
    store.write(events)
    tttt = record_alert(alerts, events[0:1]).alert.id
    ubnd = record_alert(alerts, events[1:2]).alert.id
    record_alert(alerts, events[2:3], severity="medium")
    record_alert(alerts, events[3:4], severity="critical")
    inventory = Inventory()
    inventory.extend(
        parse_inventory(
            {
                "agencies": [
                    {
                        "id": "so-tttt",
                        "systems": [{"name": "Portal", "assets": [{"host": "web01", "security_level": 3}]}],
                    },
                    {"id": "ubnd-tinh", "assets": [{"ip": "10.20.0.0/16", "security_level": 2}]},
                ]
            }
        ).assets
    )
    ctx = ApiContext(store=store, alerts=alerts, metrics=Metrics(), token=TOKEN, inventory=inventory)
    yield Env(TestClient(create_app(ctx)), state, alerts, tttt, ubnd)
    state.close()


def post(env: Env, path: str, body: Any, headers: dict[str, str] = AUTH, expect: int = 200) -> Any:
    resp = env.client.post(path, json=body, headers=headers)
    assert resp.status_code == expect, resp.text
    return resp.json()


def test_routes_need_a_token(env: Env) -> None:
    for method, path in [
        ("GET", "/api/v1/triage/queue"),
        ("POST", f"/api/v1/alerts/{env.tttt}/status"),
        ("GET", f"/api/v1/alerts/{env.tttt}/comments"),
        ("POST", "/api/v1/alerts/bulk"),
        ("GET", "/api/v1/suppressions"),
        ("GET", "/api/v1/assets"),
    ]:
        assert env.client.request(method, path).status_code == 401, path


def test_status_flow_and_errors_over_http(env: Env) -> None:
    url = f"/api/v1/alerts/{env.tttt}/status"
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
    entries = AuditLog(env.state).entries(target_id=env.tttt)
    assert [e.action for e in entries] == ["alert.status", "alert.status", "alert.reopen"]
    assert entries[0].actor == "engine-token" and entries[0].source == "testclient"
    assert AuditLog(env.state).verify().ok


def test_assignee_comments_tags_incident_type(env: Env) -> None:
    base = f"/api/v1/alerts/{env.tttt}"
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
    post(env, f"/api/v1/alerts/{env.ubnd}/status", {"status": "acknowledged"})
    out = post(
        env,
        "/api/v1/alerts/bulk",
        {"ids": [env.tttt, env.ubnd, "gone"], "action": "status", "params": {"status": "acknowledged"}},
    )
    assert (out["ok"], out["failed"]) == (1, 2)
    codes = {r["id"]: r["code"] for r in out["results"]}
    assert codes == {env.tttt: None, env.ubnd: "conflict", "gone": "not_found"}


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
        "/api/v1/triage/queue", params={"agency_id": "ubnd-tinh", "min_severity": "critical"}, headers=AUTH
    )
    assert [a["severity"] for a in only.json()["alerts"]] == ["critical"]
    bad = env.client.get("/api/v1/triage/queue", params={"sort": "name"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("sort:")
    assert env.client.get("/api/v1/triage/queue", params={"status": "open"}, headers=AUTH).status_code == 400


def test_agency_officer_sees_and_changes_only_their_agency(env: Env) -> None:
    queue = env.client.get("/api/v1/triage/queue", headers=OFFICER).json()["alerts"]
    assert {a["agency_id"] for a in queue} == {"ubnd-tinh"} and len(queue) == 2
    other = env.client.get("/api/v1/triage/queue", params={"agency_id": "so-tttt"}, headers=OFFICER).json()
    assert other["alerts"] == []
    assert post(env, f"/api/v1/alerts/{env.tttt}/status", {"status": "acknowledged"}, OFFICER, 404)
    assert env.client.get(f"/api/v1/alerts/{env.tttt}/comments", headers=OFFICER).status_code == 404
    assert (
        post(env, f"/api/v1/alerts/{env.ubnd}/status", {"status": "acknowledged"}, OFFICER)["status"]
        == "acknowledged"
    )
    out = post(
        env,
        "/api/v1/alerts/bulk",
        {"ids": [env.tttt, env.ubnd], "action": "comment", "params": {"body": "ok"}},
        OFFICER,
    )
    assert {r["id"]: r["code"] for r in out["results"]} == {env.tttt: "not_found", env.ubnd: None}
    assets = env.client.get("/api/v1/assets", headers=OFFICER).json()["assets"]
    assert {a["agency_id"] for a in assets} == {"ubnd-tinh"}
    assert env.client.get("/api/v1/assets/unknown", headers=OFFICER).status_code == 403
    assert env.client.get("/api/v1/suppressions", headers=OFFICER).status_code == 403
    entry = AuditLog(env.state).entries(target_id=env.ubnd)[0]
    assert (entry.actor, entry.role) == ("hoa.le", ROLE_AGENCY_OFFICER)


def test_auditor_reads_but_changes_nothing(env: Env) -> None:
    assert env.client.get("/api/v1/triage/queue", headers=AUDITOR).status_code == 200
    assert env.client.get(f"/api/v1/alerts/{env.tttt}/comments", headers=AUDITOR).status_code == 200
    refused = post(env, f"/api/v1/alerts/{env.tttt}/status", {"status": "acknowledged"}, AUDITOR, 403)
    assert "may not do this" in refused["detail"]
    post(env, "/api/v1/suppressions", {"rule_id": "r-ssh-bf", "reason": "x"}, AUDITOR, 403)
    assert AuditLog(env.state).entries() == []


def test_suppressions_over_http(env: Env) -> None:
    created = post(
        env,
        "/api/v1/suppressions",
        {"rule_id": "r-ssh-bf", "conditions": {"agency": "so-tttt"}, "reason": "pentest", "expires": "8h"},
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
    assert systems == [{"agency_id": "so-tttt", "system": "Portal", "security_level": 3, "assets": 1}]
    AssetStore(env.state).record_unknown(
        {("host.name", "kiosk"): (2, "2026-12-01T00:00:00Z", "2026-12-01T01:00:00Z")}
    )
    unknown = env.client.get("/api/v1/assets/unknown", headers=AUTH).json()["unknown"]
    assert unknown[0]["value"] == "kiosk" and unknown[0]["count"] == 2
