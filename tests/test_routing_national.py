"""L4: alerts meeting the national policy become outbox records, approved automatically
or by a SOC lead (API and CLI), every decision in the audit log; the report carries the
incident section a national center needs."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from soc.access import AccessControl, Principal
from soc.access.passwords import Passwords
from soc.alerts import AlertChange, AlertRepository
from soc.alerts.model import Alert
from soc.api import ApiContext, create_app
from soc.audit import AuditLog
from soc.cli.main import main as soc_main
from soc.config import AccessConfig
from soc.forwarding import ForwardingService, HttpTarget, HttpTargetConfig, Outbox
from soc.metrics import Metrics
from soc.routing import RoutingPolicy, build_national_forwarder
from soc.routing.national import NationalForwarder, build_national_report, decide
from soc.routing.policy import NationalPolicy
from soc.state import StateStore
from soc.store import MemoryStore
from tests.helpers_access import FAST_HASHER
from tests.helpers_api import TOKEN, Receiver, make_event, record_alert

SECRET = b"national-hmac-key"
REPORTER = {"id": "soc-province", "name": "Trung tâm Giám sát an toàn thông tin tỉnh"}


class TriagedAlert(Alert):
    """An alert with the triage stage's attributes (the ``triage`` branch adds them)."""

    __slots__ = ("incident_type", "security_level", "system")


def triaged(alert: Alert, level: int | None = 3, incident: str = "unauthorized_access") -> Alert:
    out = TriagedAlert(**alert.to_dict())
    out.security_level, out.incident_type, out.system = level, incident, "Cổng thông tin điện tử"
    return out


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    yield s
    s.close()


def new_alert(state: StateStore, n: int = 1, severity: str = "high", **kw: object) -> Alert:
    event = make_event(n)
    event["organization"] = {"id": "so-tttt", "name": "Sở Thông tin và Truyền thông"}
    alert = record_alert(AlertRepository(state), [event], severity=severity, rule_id=f"r-{n}").alert
    return triaged(alert, **kw)  # type: ignore[arg-type]


def forwarding(
    state: StateStore, url: str, approval: str = "auto"
) -> tuple[ForwardingService, NationalForwarder]:
    target = HttpTarget(HttpTargetConfig(name="national-cert", url=url, secret=SECRET, timeout_s=3))
    svc = ForwardingService(Outbox(state), [target], Metrics(), reporter=REPORTER, rng=random.Random(1))
    policy = RoutingPolicy(
        national=NationalPolicy(approval=approval, incident_types=frozenset({"unauthorized_access"})),
        forwarding_targets=("national-cert",),
    )
    svc.policy = NationalForwarder(policy, state, svc.outbox, reporter=REPORTER)
    return svc, svc.policy


def test_report_payload_has_incident_section_in_utc_and_local_time(state: StateStore) -> None:
    alert = new_alert(state)
    report = build_national_report(alert, reporter=REPORTER, zone="Asia/Ho_Chi_Minh")
    inc = report["incident"]
    assert report["schema"] == "soc.report/v1" and report["alert"]["id"] == alert.id
    assert inc["type"] == "unauthorized_access" and inc["type_vi"].startswith("Tấn công truy cập trái phép")
    assert inc["agency"] == {"id": "so-tttt", "name": "Sở Thông tin và Truyền thông"}
    assert inc["system"] == "Cổng thông tin điện tử" and inc["security_level"] == 3
    assert inc["first_seen_utc"] == "2024-05-01T10:01:00.000Z"
    assert inc["first_seen_local"] == "2024-05-01T17:01:00+07:00"
    assert inc["summary_vi"].startswith("Tấn công truy cập trái phép, chiếm quyền điều khiển (mức cao)")
    assert "Sở Thông tin và Truyền thông" in inc["summary_vi"] and "cấp độ 3" in inc["summary_vi"]


def test_auto_approval_enqueues_delivers_and_audits(state: StateStore) -> None:
    recv = Receiver(SECRET).start()
    try:
        svc, _ = forwarding(state, recv.url)
        alert = new_alert(state)
        [rid] = svc.on_alert(AlertChange(alert, created=True))
        assert svc.on_alert(AlertChange(alert, created=False)) == []  # idempotent
        assert svc.outbox.get(rid).status == "pending"
        assert svc.deliver_due().delivered == 1
    finally:
        recv.stop()
    body = orjson.loads(recv.accepted[0].body)
    assert body["incident"]["type"] == "unauthorized_access" and body["alert"]["id"] == alert.id
    [entry] = AuditLog(state).entries(target_type="forwarding")
    assert (entry.actor, entry.action, entry.target_id) == (
        "soc-routing",
        "forwarding.auto_approve",
        str(rid),
    )
    assert entry.after["status"] == "pending" and "security level 3" in entry.after["reason"]


def test_alerts_outside_the_policy_are_not_forwarded(state: StateStore) -> None:
    svc, _ = forwarding(state, "http://127.0.0.1:9/x")
    assert svc.on_alert(AlertChange(new_alert(state, 1, severity="medium"), True)) == []
    level_two = new_alert(state, 2, level=2)
    assert svc.on_alert(AlertChange(level_two, True)) == []
    assert svc.on_alert(AlertChange(new_alert(state, 3, level=None), True)) == []
    assert svc.on_alert(AlertChange(new_alert(state, 4, incident="defacement"), True)) == []
    assert svc.outbox.list() == [] and AuditLog(state).entries() == []
    # an update that now qualifies (triage set the level) is forwarded
    assert len(svc.on_alert(AlertChange(triaged(level_two, level=4), False))) == 1


def test_soc_lead_approval_waits_then_approve_or_reject(state: StateStore) -> None:
    recv = Receiver(SECRET).start()
    try:
        svc, _ = forwarding(state, recv.url, approval="soc_lead")
        [first] = svc.on_alert(AlertChange(new_alert(state, 1), True))
        [second] = svc.on_alert(AlertChange(new_alert(state, 2), True))
        assert svc.outbox.get(first).status == "pending_approval"
        assert svc.deliver_due().delivered == 0 and recv.requests == []  # nothing leaves unapproved
        assert svc.outbox.backlog() == 0
        d = decide(
            state, first, approve=True, actor="lan.nguyen", role="soc_analyst", source="10.0.0.5", note="ok"
        )
        assert d.record.status == "pending" and d.action == "forwarding.approve"
        d = decide(
            state, second, approve=False, actor="lan.nguyen", role="soc_analyst", note="false positive"
        )
        assert d.record.status == "rejected"
        assert svc.deliver_due().delivered == 1
        assert svc.deliver_due().delivered == 0
    finally:
        recv.stop()
    assert len(recv.accepted) == 1 and svc.outbox.get(first).status == "delivered"
    assert svc.outbox.get(second).status == "rejected"
    with pytest.raises(ValueError, match="not waiting for approval"):
        decide(state, first, approve=True, actor="x")
    with pytest.raises(KeyError):
        decide(state, 999, approve=True, actor="x")
    entries = AuditLog(state).entries(target_type="forwarding")
    assert [e.action for e in entries] == [
        "forwarding.await_approval", "forwarding.await_approval", "forwarding.approve", "forwarding.reject",
    ]  # fmt: skip
    approve = entries[2]
    assert (approve.actor, approve.role, approve.source) == ("lan.nguyen", "soc_analyst", "10.0.0.5")
    assert approve.before == {"status": "pending_approval"} and approve.after["status"] == "pending"
    assert entries[3].after["note"] == "false positive"
    assert AuditLog(state).verify().ok


def test_catch_up_respects_the_policy(state: StateStore) -> None:
    svc, _ = forwarding(state, "http://127.0.0.1:9/x")
    new_alert(state, 1)  # level unknown in the repository (triage not merged): not forwarded
    assert svc.catch_up(AlertRepository(state), since=make_since()) == 0


def make_since():
    from datetime import UTC, datetime

    return datetime(2024, 1, 1, tzinfo=UTC)


def test_old_outbox_table_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE forwarding_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT, target TEXT NOT NULL, alert_id TEXT NOT NULL,
            created TEXT NOT NULL, payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, last_error TEXT,
            delivered_at TEXT, UNIQUE (target, alert_id));
        INSERT INTO forwarding_outbox (target, alert_id, created, payload, status, next_attempt_at)
        VALUES ('cert', 'old', '2024-01-01T00:00:00.000Z', '{"report_id": "r"}', 'delivered', 0);
        """
    )
    conn.close()
    state = StateStore(path)
    try:
        outbox = Outbox(state)
        assert outbox.get(1).status == "delivered" and outbox.get(1).alert_id == "old"
        rid = outbox.enqueue("cert", "new", {"report_id": "n"}, status="pending_approval")
        assert rid == 2 and outbox.get(rid).status == "pending_approval"
        Outbox(state)  # idempotent
    finally:
        state.close()


def test_build_national_forwarder_from_config(state: StateStore) -> None:
    from soc.config import SocConfig

    svc, _ = forwarding(state, "http://127.0.0.1:9/x")
    settings = SocConfig.model_validate({"routing": {"national": {"approval": "soc_lead"}}})
    national = build_national_forwarder(settings, state, svc)
    assert national.policy.national.approval == "soc_lead" and national.min_severity == "high"
    assert national.policy.forwarding_targets == ("national-cert",)
    off = SocConfig.model_validate({"routing": {"national": {"enabled": False}}})
    assert build_national_forwarder(off, state, svc) is None
    bad = SocConfig.model_validate({"routing": {"national": {"targets": ["nope"]}}})
    with pytest.raises(ValueError, match="nope"):
        build_national_forwarder(bad, state, svc)


# --- API -----------------------------------------------------------------------------


def api(state: StateStore) -> TestClient:
    ctx = ApiContext(
        store=MemoryStore(),
        alerts=AlertRepository(state),
        metrics=Metrics(),
        token=TOKEN,
        state=state,
        access=AccessControl(state, AccessConfig(), passwords=Passwords(FAST_HASHER)),
    )
    return TestClient(create_app(ctx))


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_api_approve_reject_and_roles(state: StateStore) -> None:
    svc, _ = forwarding(state, "http://127.0.0.1:9/x", approval="soc_lead")
    [first] = svc.on_alert(AlertChange(new_alert(state, 1), True))
    [second] = svc.on_alert(AlertChange(new_alert(state, 2), True))
    client = api(state)
    assert client.post(f"/api/v1/forwarding/{first}/approve").status_code == 401
    listed = client.get("/api/v1/forwarding", params={"status": "pending_approval"}, headers=AUTH).json()
    assert {r["id"] for r in listed["records"]} == {first, second}
    resp = client.post(f"/api/v1/forwarding/{first}/approve", headers=AUTH, json={"note": "confirmed"})
    assert resp.status_code == 200 and resp.json()["record"]["status"] == "pending"
    assert client.post(f"/api/v1/forwarding/{first}/approve", headers=AUTH).status_code == 409
    assert client.post("/api/v1/forwarding/999/reject", headers=AUTH).status_code == 404
    assert (
        client.post(f"/api/v1/forwarding/{second}/reject", headers=AUTH).json()["record"]["status"]
        == "rejected"
    )
    entries = [
        e for e in AuditLog(state).entries() if e.action in ("forwarding.approve", "forwarding.reject")
    ]
    assert [(e.action, e.actor, e.role) for e in entries] == [
        ("forwarding.approve", "engine-token", "admin"), ("forwarding.reject", "engine-token", "admin"),
    ]  # fmt: skip
    assert entries[0].after["note"] == "confirmed"

    # real users with their own tokens: L3 reads, never approves; an analyst needs the lead flag
    access = client.app.state.ctx.access
    setup = Principal(name="setup", role="admin")

    def token_of(username: str, role: str, **options: Any) -> dict[str, str]:
        access.users.add(username, role, setup, password="correct horse battery", **options)
        return {"Authorization": f"Bearer {access.tokens.create(username, 'tests', setup)[1]}"}

    auditor = token_of("kiem-dinh", "auditor", organization="kiem-toan-doc-lap")
    assert client.get("/api/v1/forwarding", headers=auditor).status_code == 200
    assert client.get("/api/v1/notifications", headers=auditor).status_code == 200
    [third] = svc.on_alert(AlertChange(new_alert(state, 3), True))
    resp = client.post(f"/api/v1/forwarding/{third}/approve", headers=auditor)
    assert resp.status_code == 403 and "auditor" in resp.json()["detail"]
    officer = token_of("ubnd", "agency_officer", agency_id="ubnd-tinh")
    assert client.post(f"/api/v1/forwarding/{third}/approve", headers=officer).status_code == 403
    assert svc.outbox.get(third).status == "pending_approval"
    analyst = token_of("an", "soc_analyst")
    resp = client.post(f"/api/v1/forwarding/{third}/approve", headers=analyst)
    assert resp.status_code == 403 and "SOC lead" in resp.json()["detail"]
    access.users.update("an", {"soc_lead": True}, setup)
    assert client.post(f"/api/v1/forwarding/{third}/approve", headers=analyst).status_code == 200


# --- CLI -----------------------------------------------------------------------------


def test_cli_forwarding_list_approve_reject(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    state = StateStore(data / "state.db")
    try:
        svc, _ = forwarding(state, "http://127.0.0.1:9/x", approval="soc_lead")
        [first] = svc.on_alert(AlertChange(new_alert(state, 1), True))
        [second] = svc.on_alert(AlertChange(new_alert(state, 2), True))
    finally:
        state.close()
    base = ["--data-dir", str(data)]
    assert soc_main(["forwarding", "list", *base, "--status", "pending_approval", "--json"]) == 0
    assert {r["id"] for r in orjson.loads(capsys.readouterr().out)["records"]} == {first, second}
    assert soc_main(["forwarding", "approve", str(first), *base, "--actor", "lead", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["record"]["status"] == "pending"
    assert soc_main(["forwarding", "reject", str(second), *base, "--note", "fp"]) == 0
    assert "rejected" in capsys.readouterr().out
    assert soc_main(["forwarding", "approve", str(first), *base]) == 1  # not waiting any more
    assert soc_main(["forwarding", "approve", "999", *base]) == 4
    capsys.readouterr()
    assert soc_main(["forwarding", "list", *base]) == 0
    out = capsys.readouterr().out
    assert "rejected" in out and "pending " in out and "-- 2 records" in out
    with pytest.raises(SystemExit) as exc:
        soc_main(["forwarding", "approve", "not-a-number", *base])
    assert exc.value.code == 2
    state = StateStore(data / "state.db")
    try:
        actions = [(e.action, e.actor) for e in AuditLog(state).entries() if e.actor != "soc-routing"]
    finally:
        state.close()
    assert actions == [("forwarding.approve", "lead"), ("forwarding.reject", actions[1][1])]
    assert actions[1][1].endswith("@cli")
