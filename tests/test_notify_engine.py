"""Notifications in the engine: alerts from the pipeline reach the L1 and L2 webhooks
through the notification worker; crash catch-up; ``soc notify test|list``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from collectors.inputs.base import MemoryCheckpoints
from detectors.base import Match, RuleInfo
from soc.alerts import AlertRepository
from soc.cli.main import main as soc_main
from soc.config import load_config
from soc.event import Event, RawRecord, get_field
from soc.metrics import Metrics
from soc.notify import build_notifications
from soc.pipeline.engine import Engine
from soc.routing import RoutingPolicy
from soc.routing.service import RoutingService
from soc.state import StateStore
from soc.store import MemoryStore
from tests.helpers_api import Receiver, make_event, record_alert, wait_for
from tests.helpers_engine import write_config
from tests.helpers_smtp import SmtpServer
from tests.helpers_tls import Pki, make_pki

SOC_KEY = "soc-webhook-key"
AGENCY_KEY = "agency-webhook-key"
LINES = [
    "Nov 27 10:00:02 web01 sshd[101]: Invalid user admin from 203.0.113.9 port 40002",
    "Nov 27 10:00:03 db01 sshd[102]: Invalid user oracle from 203.0.113.7 port 40003",
]


class EverySshLineDetector:
    """A real streaming detector: one high-severity match per sshd event."""

    name = "every-ssh-line"

    def observe(self, event: Event) -> list[Match]:
        if get_field(event, "process.name") != "sshd":
            return []
        rule = RuleInfo(id="t-ssh", title="SSH invalid user", type="test", severity="high", author="test")
        return [Match(rule=rule, events=[event], timestamp=datetime.now(UTC))]

    def tick(self, now: datetime) -> list[Match]:
        return []


def records(lines: list[str]) -> list[RawRecord]:
    out, offset = [], 0
    for line in lines:
        out.append(RawRecord(raw=line.encode(), source="file:/var/log/auth.log", position=offset, meta={}))
        offset += len(line) + 1
    return out


def notify_config(tmp_path: Path, soc_url: str, agency_url: str, **extra: object) -> Path:
    key_file = tmp_path / "agency.key"
    key_file.write_text(AGENCY_KEY + "\n")
    return write_config(
        tmp_path / "soc.yaml",
        store={"backend": "memory"},
        detection={"sigma": {"enabled": False}},
        agencies=[{"id": "so-tttt", "name": "Sở Thông tin và Truyền thông", "hosts": ["web01"]}],
        routing={
            "agency": {"contacts": [{"agency_id": "so-tttt", "webhooks": ["so-tttt-chat"]}]},
            "soc": {"webhooks": ["soc-chat"], "min_severity": "medium"},
        },
        notifications={
            "webhooks": [
                {"name": "soc-chat", "url": soc_url, "secret_env": "SOC_TEST_SOC_HOOK"},
                {"name": "so-tttt-chat", "url": agency_url, "secret_file": str(key_file)},
            ],
            **extra,
        },
    )


@pytest.fixture
def receivers():
    soc, agency = Receiver(SOC_KEY.encode()).start(), Receiver(AGENCY_KEY.encode()).start()
    yield soc, agency
    soc.stop()
    agency.stop()


def test_engine_routes_alerts_to_agency_and_soc_webhooks(
    tmp_path: Path, receivers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOC_TEST_SOC_HOOK", SOC_KEY)
    soc, agency = receivers
    config = load_config(notify_config(tmp_path, soc.url, agency.url))
    data = tmp_path / "data"
    engine = Engine(
        config, data, inputs=[], serve_api=False, checkpoints=MemoryCheckpoints(), store=MemoryStore(),
        detectors=[EverySshLineDetector()],
    )  # fmt: skip
    engine.start()
    try:
        engine.accept(records(LINES), "test")
        assert engine.wait_drained(30)
        assert wait_for(lambda: engine.notifications.queue.backlog() == 0 and len(agency.accepted) == 1, 15)
        metrics = engine.metrics.render()[0].decode()
    finally:
        engine.stop()
    # L1: only the alert on the agency's own host (web01), signed with the agency's key
    assert len(agency.accepted) == 1
    l1 = orjson.loads(agency.accepted[0].body)
    assert l1["layer"] == "L1" and l1["alert"]["host"] == "web01" and l1["alert"]["agency_id"] == "so-tttt"
    # L2: every alert (two hosts: one message and maybe a digest, never a loss)
    soc_hosts = set()
    for req in soc.accepted:
        body = orjson.loads(req.body)
        soc_hosts |= (
            {i["alert"]["host"] for i in body["items"]} if body.get("digest") else {body["alert"]["host"]}
        )
    assert soc_hosts == {"web01", "db01"}
    assert 'soc_notifications_sent_total{channel="webhook"} 3.0' in metrics
    assert soc_main(["notify", "list", "--data-dir", str(data), "--status", "sent", "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)["notifications"]
    assert sorted((n["layer"], n["recipient"]) for n in listed) == [
        ("L1", "so-tttt-chat"), ("L2", "soc-chat"), ("L2", "soc-chat"),
    ]  # fmt: skip
    assert soc_main(["notify", "list", "--data-dir", str(data), "--config", str(config.source)]) == 0
    assert "-- 3 notifications" in capsys.readouterr().out


def test_catch_up_queues_alerts_a_crash_kept_from_the_queue(tmp_path: Path, receivers, monkeypatch) -> None:
    monkeypatch.setenv("SOC_TEST_SOC_HOOK", SOC_KEY)
    soc, agency = receivers
    settings = load_config(notify_config(tmp_path, soc.url, agency.url)).settings
    state = StateStore(tmp_path / "state.db")
    try:
        alerts = AlertRepository(state)
        record_alert(alerts, [make_event(1)])  # stored; the engine died before routing it
        service = build_notifications(settings, state, Metrics())
        routing = RoutingService(RoutingPolicy.from_settings(settings.routing), service)
        since = datetime(2024, 1, 1, tzinfo=UTC)
        assert routing.catch_up(alerts, since) == 1
        assert routing.catch_up(alerts, since) == 0  # already queued
        assert service.deliver_due().sent == 1 and len(soc.accepted) == 1
    finally:
        state.close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_cli_notify_test_email_webhook_and_errors(
    tmp_path: Path, receivers, pki: Pki, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOC_TEST_SOC_HOOK", SOC_KEY)
    monkeypatch.setenv("SOC_TEST_SMTP_PASSWORD", "pw-not-logged")
    soc, agency = receivers
    data = ["--data-dir", str(tmp_path / "data")]
    with SmtpServer(pki, users={"soc": "pw-not-logged"}) as smtp, SmtpServer(None) as plain:
        email = {
            "enabled": True, "host": "127.0.0.1", "port": smtp.port, "ca_file": str(pki.ca),
            "username": "soc", "password_env": "SOC_TEST_SMTP_PASSWORD", "from_address": "soc@tinh.gov.vn",
        }  # fmt: skip
        config = notify_config(tmp_path, soc.url, agency.url, email=email)
        args = ["--config", str(config), *data, "--json"]
        assert soc_main(["notify", "test", "--channel", "webhook", *args]) == 0
        assert orjson.loads(capsys.readouterr().out)["to"] == "soc-chat"
        assert orjson.loads(soc.accepted[0].body)["layer"] == "test"
        assert soc_main(["notify", "test", "--channel", "webhook", "--to", "so-tttt-chat", *args]) == 0
        assert len(agency.accepted) == 1
        assert soc_main(["notify", "test", "--channel", "email", "--to", "it@tinh.gov.vn", *args]) == 0
        capsys.readouterr()
        [mail] = smtp.received
        assert mail.tls and mail.authenticated_as == "soc" and "Thông báo thử" in mail.message["Subject"]
        assert soc_main(["notify", "test", "--channel", "webhook", "--to", "nope", *args]) == 2
        assert soc_main(["notify", "test", "--channel", "email", *args]) == 2  # no recipient
        capsys.readouterr()
        plain_config = notify_config(tmp_path, soc.url, agency.url, email={**email, "port": plain.port})
        code = soc_main(
            ["notify", "test", "--channel", "email", "--to", "a@b.vn", "--config", str(plain_config), *data]
        )
        assert code == 1
        assert "does not offer STARTTLS" in capsys.readouterr().err and plain.received == []
    monkeypatch.delenv("SOC_TEST_SOC_HOOK")
    assert soc_main(["notify", "test", "--channel", "webhook", *args]) == 2  # secret missing: config error
    assert "SOC_TEST_SOC_HOOK is not set" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        soc_main(["notify", "test", "--channel", "sms", *args])
    assert exc.value.code == 2


def test_engine_holds_national_reports_for_a_soc_lead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOC_TEST_NATIONAL_KEY", "national-key")
    national = Receiver(b"national-key").start()
    path = write_config(
        tmp_path / "soc.yaml",
        store={"backend": "memory"},
        detection={"sigma": {"enabled": False}},
        forwarding={
            "enabled": True,
            "targets": [
                {"name": "national-cert", "url": national.url, "secret_env": "SOC_TEST_NATIONAL_KEY"}
            ],
        },
        # alerts carry no asset level until the triage stage sets it
        routing={"national": {"approval": "soc_lead", "include_unknown_level": True}},
    )
    data = tmp_path / "data"
    engine = Engine(
        load_config(path), data, inputs=[], serve_api=False, checkpoints=MemoryCheckpoints(),
        store=MemoryStore(), detectors=[EverySshLineDetector()],
    )  # fmt: skip
    engine.start()
    try:
        engine.accept(records(LINES[:1]), "test")
        assert engine.wait_drained(30)
        [record] = engine.forwarding.outbox.list()
        assert record.status == "pending_approval" and record.payload["incident"]["type"] == "other"
        engine.forwarding.wake()
        assert not wait_for(lambda: national.requests, timeout=1.5)  # held back
        # a SOC lead approves from the command line while the engine runs
        assert soc_main(["forwarding", "approve", str(record.id), "--data-dir", str(data), "--json"]) == 0
        assert wait_for(lambda: len(national.accepted) == 1, timeout=15)
        assert wait_for(lambda: engine.forwarding.outbox.get(record.id).status == "delivered", timeout=5)
    finally:
        engine.stop()
        national.stop()
    report = orjson.loads(national.accepted[0].body)
    assert report["incident"]["first_seen_local"].endswith("+07:00") and report["incident"]["summary_vi"]


@pytest.mark.parametrize(
    "command",
    [
        ["notify", "test"],
        ["notify", "list"],
        ["forwarding", "list"],
        ["forwarding", "approve"],
        ["forwarding", "reject"],
    ],
)
def test_commands_have_help_and_json(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        soc_main([*command, "--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and out.startswith(f"usage: soc {' '.join(command)}") and "--json" in out
