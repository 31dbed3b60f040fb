"""Notification delivery through real servers: SMTP with STARTTLS (aiosmtpd), signed
webhooks (a local HTTP server verifying the HMAC), retries, rate limits, dedup and
the durable queue across a restart."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from soc.alerts import AlertRepository
from soc.event import utcnow
from soc.metrics import Metrics
from soc.notify import EmailChannel, EmailSettings, NotificationQueue, NotificationService
from soc.notify.content import MessageBuilder
from soc.notify.metrics import NotificationMetrics
from soc.notify.ratelimit import RateLimiter, TokenBucket
from soc.notify.templates import TemplateRenderer
from soc.notify.webhook_channel import NOTIFICATION_ID_HEADER, WebhookChannel, WebhookSettings
from soc.routing import Recipients, RoutingPolicy, alert_facts
from soc.state import StateStore
from tests.helpers_api import Receiver, free_port, make_event, record_alert
from tests.helpers_smtp import SmtpServer
from tests.helpers_tls import Pki, make_pki

SECRET = b"webhook-hmac-key-never-logged"
SMTP_PASSWORD = "smtp-password-never-logged"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    yield s
    s.close()


def make_service(
    state: StateStore, channels: dict, *, limiter: RateLimiter | None = None, **kw: object
) -> tuple[NotificationService, Metrics]:
    metrics = Metrics()
    svc = NotificationService(
        NotificationQueue(state),
        channels,
        MessageBuilder(TemplateRenderer(), zone="Asia/Ho_Chi_Minh", soc_name="SOC tỉnh"),
        NotificationMetrics(metrics),
        limiter=limiter or RateLimiter((1000, 1000), (1000, 1000)),
        base_backoff_s=1.0,
        rng=random.Random(1),
        **kw,  # type: ignore[arg-type]
    )
    return svc, metrics


def email_channel(port: int, pki: Pki | None, **kw: object) -> EmailChannel:
    return EmailChannel(
        EmailSettings(
            host="127.0.0.1",
            port=port,
            from_address="soc@tinh.gov.vn",
            ca_file=str(pki.ca) if pki else None,
            timeout_s=5,
            **kw,  # type: ignore[arg-type]
        )
    )


def webhook_channel(url: str, name: str = "soc-chat") -> WebhookChannel:
    return WebhookChannel([WebhookSettings(name=name, url=url, secret=SECRET, timeout_s=3)])


EMAIL_POLICY = RoutingPolicy(soc=Recipients(("soc@tinh.gov.vn",), (), "low"))
HOOK_POLICY = RoutingPolicy(soc=Recipients((), ("soc-chat",), "low"))


def new_alert(state: StateStore, n: int = 1, severity: str = "high"):
    return record_alert(AlertRepository(state), [make_event(n)], severity=severity, rule_id=f"r-{n}").alert


def enqueue(svc: NotificationService, policy: RoutingPolicy, alert) -> list[int]:
    facts = alert_facts(alert)
    return svc.enqueue(facts, policy.route(facts))


def later(seconds: float):
    return utcnow() + timedelta(seconds=seconds)


# --- email -------------------------------------------------------------------------


def test_email_over_starttls_with_auth_multipart(state: StateStore, pki: Pki, caplog) -> None:
    with SmtpServer(pki, users={"soc": SMTP_PASSWORD}) as smtp:
        channel = email_channel(smtp.port, pki, username="soc", password=SMTP_PASSWORD)
        svc, metrics = make_service(state, {"email": channel})
        alert = new_alert(state)
        [nid] = enqueue(svc, EMAIL_POLICY, alert)
        stats = svc.deliver_due()
        assert stats.sent == 1, svc.queue.get(nid)
        [mail] = smtp.received
    assert mail.tls and mail.authenticated_as == "soc"
    assert mail.rcpt_tos == ["soc@tinh.gov.vn"] and mail.mail_from == "soc@tinh.gov.vn"
    msg = mail.message
    assert msg["Subject"].startswith("[SOC][CAO] Cảnh báo mới: SSH brute force (web01)")
    assert msg["X-SOC-Alert-Id"] == alert.id and msg["X-SOC-Notification-Id"] == str(nid)
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Cảnh báo mức cao" in text and "High severity alert" in text and "+07" in text
    assert "<table" in html
    row = svc.queue.get(nid)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at
    assert 'soc_notifications_sent_total{channel="email"} 1.0' in metrics.render()[0].decode()
    assert SMTP_PASSWORD not in caplog.text and SMTP_PASSWORD not in repr(channel.settings)


def test_starttls_required_plain_server_refused(state: StateStore) -> None:
    with SmtpServer(None) as smtp:  # no STARTTLS offered
        svc, _ = make_service(state, {"email": email_channel(smtp.port, None)})
        [nid] = enqueue(svc, EMAIL_POLICY, new_alert(state))
        assert svc.deliver_due().failed == 1
        assert smtp.received == []  # nothing went out in clear text
    row = svc.queue.get(nid)
    assert row.status == "failed"
    assert row.last_error.startswith("starttls_unavailable: SMTP server 127.0.0.1:")
    assert "does not offer STARTTLS" in row.last_error


def test_email_temporary_error_retried_permanent_failed(state: StateStore, pki: Pki) -> None:
    with SmtpServer(pki, script=["451 4.3.0 try again later", "550 5.1.1 no such mailbox"]) as smtp:
        svc, metrics = make_service(state, {"email": email_channel(smtp.port, pki)})
        [first] = enqueue(svc, EMAIL_POLICY, new_alert(state, 1))
        assert svc.deliver_due().retried == 1
        row = svc.queue.get(first)
        assert row.status == "pending" and row.attempts == 1 and "smtp_451" in row.last_error
        assert row.next_attempt_at > utcnow()
        assert svc.deliver_due(later(3)).failed == 1  # the 550 reply: given up, with the reason
        assert "smtp_550" in svc.queue.get(first).last_error
        [second] = enqueue(svc, EMAIL_POLICY, new_alert(state, 2))
        assert svc.deliver_due().sent == 1 and len(smtp.received) == 1
    assert svc.queue.get(second).status == "sent"
    body = metrics.render()[0].decode()
    assert 'soc_notifications_retried_total{channel="email"} 1.0' in body
    assert 'soc_notifications_failed_total{channel="email",reason="smtp_550"} 1.0' in body


# --- webhooks ----------------------------------------------------------------------


def test_webhook_signed_json_verified_by_receiver(state: StateStore, caplog) -> None:
    recv = Receiver(SECRET).start()
    try:
        svc, _ = make_service(state, {"webhook": webhook_channel(recv.url)})
        alert = new_alert(state)
        [nid] = enqueue(svc, HOOK_POLICY, alert)
        assert svc.deliver_due().sent == 1
    finally:
        recv.stop()
    [req] = recv.accepted  # the receiver verified X-SOC-Signature over timestamp + body
    assert req.valid_signature and req.headers["X-SOC-Signature"].startswith("sha256=")
    assert req.headers[NOTIFICATION_ID_HEADER] == str(nid)
    body = orjson.loads(req.body)
    assert body["schema"] == "soc.notification/v1" and body["id"] == str(nid) and body["layer"] == "L2"
    assert body["alert"]["id"] == alert.id and "Cảnh báo mức cao" in body["text"]
    assert SECRET.decode() not in caplog.text


def test_webhook_wrong_key_is_refused_by_receiver_and_failed(state: StateStore) -> None:
    recv = Receiver(b"the-receiver-has-another-key").start()
    try:
        svc, _ = make_service(state, {"webhook": webhook_channel(recv.url)})
        [nid] = enqueue(svc, HOOK_POLICY, new_alert(state))
        assert svc.deliver_due().failed == 1
    finally:
        recv.stop()
    assert not recv.requests[0].valid_signature
    assert svc.queue.get(nid).last_error.startswith("http_401")  # 4xx: not retried


def test_webhook_retries_after_server_error_then_succeeds(state: StateStore) -> None:
    recv = Receiver(SECRET, script=[503, 500]).start()
    try:
        svc, metrics = make_service(state, {"webhook": webhook_channel(recv.url)})
        [nid] = enqueue(svc, HOOK_POLICY, new_alert(state))
        assert svc.deliver_due().retried == 1
        assert svc.deliver_due().sent == 0  # not due yet: backoff
        assert svc.deliver_due(later(2)).retried == 1
        assert "http_500" in svc.queue.get(nid).last_error
        assert svc.deliver_due(later(10)).sent == 1
    finally:
        recv.stop()
    row = svc.queue.get(nid)
    assert row.status == "sent" and row.attempts == 3 and row.last_error is None
    assert len(recv.requests) == 3 and len(recv.accepted) == 1
    assert {r.headers[NOTIFICATION_ID_HEADER] for r in recv.requests} == {str(nid)}  # same id on retry
    assert 'soc_notifications_retried_total{channel="webhook"} 2.0' in metrics.render()[0].decode()


def test_webhook_4xx_fails_without_retry_and_gives_up_after_max_attempts(state: StateStore) -> None:
    recv = Receiver(SECRET, script=[422]).start()
    try:
        svc, _ = make_service(state, {"webhook": webhook_channel(recv.url)}, max_attempts=2)
        [bad] = enqueue(svc, HOOK_POLICY, new_alert(state, 1))
        assert svc.deliver_due().failed == 1
        assert svc.queue.get(bad).status == "failed" and svc.queue.get(bad).last_error.startswith("http_422")
    finally:
        recv.stop()
    # a receiver that is down: retried, then given up after max_attempts with the reason
    svc, _ = make_service(
        state, {"webhook": webhook_channel(f"http://127.0.0.1:{free_port()}/x")}, max_attempts=2
    )
    [down] = enqueue(svc, HOOK_POLICY, new_alert(state, 2))
    assert svc.deliver_due().retried == 1
    assert svc.deliver_due(later(5)).failed == 1
    row = svc.queue.get(down)
    assert row.status == "failed" and row.attempts == 2 and "gave up" in row.last_error
    assert "connection" in row.last_error


def test_unconfigured_recipient_fails_with_reason(state: StateStore) -> None:
    svc, _ = make_service(state, {})
    [nid] = enqueue(svc, HOOK_POLICY, new_alert(state))
    assert svc.deliver_due().failed == 1
    assert "not_configured" in svc.queue.get(nid).last_error


# --- rate limits, digests, dedup ---------------------------------------------------


def test_token_bucket() -> None:
    bucket = TokenBucket(per_minute=6, burst=2)
    assert bucket.wait_time(0) == 0
    bucket.take(0)
    bucket.take(0)
    assert bucket.wait_time(0) == pytest.approx(10.0)
    assert bucket.wait_time(5) == pytest.approx(5.0)
    assert bucket.wait_time(10) == 0
    assert bucket.wait_time(1000) == 0 and bucket.tokens == 2  # capped at burst


def test_rate_limit_delays_and_batches_into_a_digest_never_drops(state: StateStore) -> None:
    recv = Receiver(SECRET).start()
    try:
        limiter = RateLimiter((1000, 1000), (1, 1))  # one message a minute per recipient
        svc, metrics = make_service(state, {"webhook": webhook_channel(recv.url)}, limiter=limiter)
        [first] = enqueue(svc, HOOK_POLICY, new_alert(state, 1))
        t0 = utcnow()
        assert svc.deliver_due(t0).sent == 1
        held = [enqueue(svc, HOOK_POLICY, new_alert(state, n))[0] for n in (2, 3, 4)]
        stats = svc.deliver_due(t0 + timedelta(seconds=1))
        assert stats.rate_limited == 3 and stats.sent == 0
        for nid in held:
            row = svc.queue.get(nid)
            assert row.status == "pending" and row.attempts == 0  # delayed, not an attempt, not dropped
            assert row.next_attempt_at >= t0 + timedelta(seconds=59)
        assert svc.deliver_due(t0 + timedelta(seconds=30)).sent == 0  # nothing due yet
        stats = svc.deliver_due(t0 + timedelta(seconds=61))
        assert stats.sent == 3 and stats.digests == 1
    finally:
        recv.stop()
    assert len(recv.accepted) == 2  # one message, then one digest of the three held back
    digest = orjson.loads(recv.accepted[1].body)
    assert digest["digest"] and digest["count"] == 3
    assert "3 cảnh báo" in digest["subject"] and "3 alerts" in digest["subject"]
    assert {i["alert"]["rule_id"] for i in digest["items"]} == {"r-2", "r-3", "r-4"}
    assert all(svc.queue.get(n).status == "sent" and svc.queue.get(n).digest_size == 3 for n in held)
    assert svc.queue.get(first).digest_size is None
    assert 'soc_notifications_rate_limited_total{channel="webhook"} 3.0' in metrics.render()[0].decode()


def test_channel_rate_limit_spans_recipients(state: StateStore) -> None:
    recv = Receiver(SECRET).start()
    try:
        hooks = WebhookChannel(
            [WebhookSettings(name=n, url=recv.url, secret=SECRET, timeout_s=3) for n in ("a", "b")]
        )
        svc, _ = make_service(state, {"webhook": hooks}, limiter=RateLimiter((1, 1), (100, 100)))
        policy = RoutingPolicy(soc=Recipients((), ("a", "b"), "low"))
        ids = enqueue(svc, policy, new_alert(state))
        t0 = utcnow()
        stats = svc.deliver_due(t0)
        assert (stats.sent, stats.rate_limited) == (1, 1)
        assert svc.deliver_due(t0 + timedelta(seconds=61)).sent == 1
    finally:
        recv.stop()
    assert all(svc.queue.get(n).status == "sent" for n in ids) and len(recv.accepted) == 2


def test_one_notification_per_alert_and_recipient_unless_escalated(state: StateStore) -> None:
    svc, metrics = make_service(state, {})
    alert = new_alert(state, severity="medium")
    facts = alert_facts(alert)
    assert len(svc.enqueue(facts, HOOK_POLICY.route(facts))) == 1
    assert svc.enqueue(facts, HOOK_POLICY.route(facts)) == []  # the alert was updated: no repeat
    escalated = replace(facts, severity="critical")
    assert len(svc.enqueue(escalated, HOOK_POLICY.route(escalated))) == 1  # severity went up
    assert svc.enqueue(escalated, HOOK_POLICY.route(escalated)) == []
    assert len(svc.enqueue(escalated, HOOK_POLICY.route(escalated), now=later(3601))) == 1  # window over
    assert 'soc_notifications_deduplicated_total{channel="webhook"} 2.0' in metrics.render()[0].decode()
    other = RoutingPolicy(soc=Recipients(("x@tinh.gov.vn",), ("soc-chat",), "low"))
    assert len(svc.enqueue(facts, other.route(facts))) == 1  # a new recipient is notified once


# --- durability --------------------------------------------------------------------


def test_pending_notifications_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    state = StateStore(path)
    svc, _ = make_service(state, {})
    ids = enqueue(svc, HOOK_POLICY, new_alert(state, 1)) + enqueue(svc, HOOK_POLICY, new_alert(state, 2))
    state.close()  # the engine stops (or dies) before delivering

    recv = Receiver(SECRET).start()
    state = StateStore(path)
    try:
        svc, _ = make_service(state, {"webhook": webhook_channel(recv.url)})
        assert [n.id for n in svc.queue.due()] == ids
        assert svc.deliver_due().sent == 2
        assert all(svc.queue.get(n).status == "sent" for n in ids)
    finally:
        recv.stop()
        state.close()
    assert len(recv.accepted) == 1 and orjson.loads(recv.accepted[0].body)["count"] == 2  # one digest


# --- TLS variants and template errors on the queue ----------------------------------


def test_webhook_over_https_verifies_the_server_certificate(state: StateStore, pki: Pki) -> None:
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    recv = Receiver(SECRET, ssl_context=ctx).start()
    try:
        trusted = WebhookChannel(
            [WebhookSettings("soc-chat", recv.url, SECRET, ca_file=str(pki.ca), timeout_s=3)]
        )
        untrusted = WebhookChannel([WebhookSettings("soc-chat", recv.url, SECRET, timeout_s=3)])
        svc, _ = make_service(state, {"webhook": untrusted})
        [nid] = enqueue(svc, HOOK_POLICY, new_alert(state, 1))
        assert svc.deliver_due().retried == 1
        assert svc.queue.get(nid).last_error.startswith("tls")  # unknown CA: refused, retried later
        svc.channels["webhook"] = trusted
        assert svc.deliver_due(later(5)).sent == 1
    finally:
        recv.stop()
    assert len(recv.accepted) == 1 and recv.url.startswith("https://")


def test_email_over_implicit_tls(state: StateStore, pki: Pki) -> None:
    import ssl

    from aiosmtpd.controller import Controller

    from tests.helpers_smtp import SmtpHandler

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    handler, port = SmtpHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=ctx)
    controller.start()
    try:
        svc, _ = make_service(state, {"email": email_channel(port, pki, security="tls")})
        enqueue(svc, EMAIL_POLICY, new_alert(state))
        assert svc.deliver_due().sent == 1
    finally:
        controller.stop()
    assert len(handler.received) == 1 and handler.received[0].message["To"] == "soc@tinh.gov.vn"


def test_template_error_is_kept_on_the_queued_notification(state: StateStore, tmp_path: Path) -> None:
    bad = tmp_path / "subject.txt.j2"
    bad.write_text("{{ cycler.__init__.__globals__ }}\n")
    metrics = Metrics()
    svc = NotificationService(
        NotificationQueue(state),
        {},
        MessageBuilder(
            TemplateRenderer({"email_subject": str(bad)}), zone="Asia/Ho_Chi_Minh", soc_name="SOC"
        ),
        NotificationMetrics(metrics),
    )
    [nid] = enqueue(svc, HOOK_POLICY, new_alert(state))
    row = svc.queue.get(nid)
    assert row.subject.startswith("[SOC][CAO]")  # the shipped subject: nothing lost
    assert f"{bad}:1" in row.render_error and "SecurityError" in row.render_error
    assert (
        'soc_notification_template_errors_total{template="email_subject"} 1.0' in metrics.render()[0].decode()
    )
