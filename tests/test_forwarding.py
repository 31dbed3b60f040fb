"""Forwarding: reports, signatures, the durable outbox and delivery to real HTTP(S) receivers."""

from __future__ import annotations

import logging
import random
import ssl
import threading
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from soc.alerts import AlertChange, AlertRepository
from soc.event import utcnow
from soc.forwarding import DeliveryError, ForwardingService, HttpTarget, HttpTargetConfig, Outbox
from soc.forwarding.report import SCHEMA, build_report, report_id_for
from soc.forwarding.signing import sign, signed_headers, verify
from soc.metrics import Metrics
from soc.state import StateStore
from tests.helpers_api import (
    Receiver,
    free_port,
    make_event,
    make_self_signed_cert,
    record_alert,
    report_ids,
    wait_for,
)

SECRET = b"s3cr3t-hmac-key-do-not-log"
REPORTER = {"id": "soc-hn", "name": "Trung tâm Giám sát an toàn thông tin tỉnh"}


@pytest.fixture
def state(tmp_path: Path) -> StateStore:
    s = StateStore(tmp_path / "state.db")
    yield s
    s.close()


def new_alert(state: StateStore, severity: str = "high", n: int = 1) -> AlertChange:
    repo = AlertRepository(state)
    return record_alert(repo, [make_event(n)], severity=severity, rule_id=f"rule-{severity}-{n}")


def service(state: StateStore, *targets: HttpTarget, **kwargs: object) -> tuple[ForwardingService, Metrics]:
    metrics = Metrics()
    kwargs.setdefault("base_backoff_s", 0.01)
    kwargs.setdefault("rng", random.Random(1))
    svc = ForwardingService(Outbox(state), list(targets), metrics, reporter=REPORTER, **kwargs)  # type: ignore[arg-type]
    return svc, metrics


def target(url: str, *, name: str = "cert", min_severity: str = "high", **kw: object) -> HttpTarget:
    return HttpTarget(
        HttpTargetConfig(name=name, url=url, secret=SECRET, min_severity=min_severity, timeout_s=3, **kw)
    )  # type: ignore[arg-type]


def later(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)


# --- report and signing ------------------------------------------------------------


def test_report_shape_and_vietnamese_summary(state: StateStore) -> None:
    alert = new_alert(state).alert
    report = build_report(alert, reporter=REPORTER)
    assert report["schema"] == SCHEMA == "soc.report/v1"
    assert report["report_id"] == report_id_for("soc-hn", alert.id)
    assert build_report(alert, reporter=REPORTER)["report_id"] == report["report_id"]  # stable
    assert report["reporter"] == REPORTER
    assert report["summary_vi"].startswith("Cảnh báo mức cao: SSH brute force trên máy web01 từ 203.0.113.9")
    assert report["summary_en"].startswith(
        "High severity alert: SSH brute force on host web01 from 203.0.113.9"
    )
    a = report["alert"]
    assert a["rule"]["id"] == alert.rule_id and a["rule"]["author"] == "SOC team"
    assert a["severity"] == "high" and a["severity_vi"] == "cao" and a["count"] == 1
    assert a["evidence_ids"] == alert.evidence and a["excerpts"] and a["tags"] == ["attack.t1110"]
    assert a["first_seen"].endswith("Z") and report["created"].endswith("Z")
    orjson.dumps(report)
    with pytest.raises(ValueError, match="reporter"):
        build_report(alert, reporter={"name": "x"})


def test_sign_and_verify() -> None:
    body = b'{"a": 1}'
    sig = sign(body, SECRET, 1_700_000_000)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify(body, SECRET, 1_700_000_000, sig, now=1_700_000_100)
    assert verify(body, SECRET, "1700000000", sig, now=1_700_000_000)
    assert not verify(body + b" ", SECRET, 1_700_000_000, sig, now=1_700_000_000)
    assert not verify(body, b"other", 1_700_000_000, sig, now=1_700_000_000)
    assert not verify(body, SECRET, 1_700_000_001, sig, now=1_700_000_000)
    assert not verify(body, SECRET, 1_700_000_000, sig, now=1_700_000_301)  # too old: replay
    assert not verify(body, SECRET, "nan", sig)
    assert not verify(body, SECRET, 1_700_000_000, sig[7:], now=1_700_000_000)
    headers = signed_headers(body, SECRET, "rid-1")
    assert headers["X-SOC-Report-Id"] == "rid-1"
    assert verify(body, SECRET, headers["X-SOC-Timestamp"], headers["X-SOC-Signature"])


def test_classify() -> None:
    assert HttpTarget.classify(200) is None and HttpTarget.classify(204) is None
    for status in (408, 425, 429, 500, 502, 503):
        err = HttpTarget.classify(status)
        assert err is not None and err.retryable and err.reason == f"http_{status}"
    for status in (400, 401, 403, 404, 413, 422):
        err = HttpTarget.classify(status)
        assert err is not None and not err.retryable
    assert HttpTarget.classify(ConnectionRefusedError("refused")).retryable  # type: ignore[union-attr]


# --- outbox ------------------------------------------------------------------------


def test_outbox_is_idempotent_and_tracks_status(state: StateStore) -> None:
    box = Outbox(state)
    first = box.enqueue("cert", "alert-1", {"report_id": "r1"})
    assert first is not None
    assert box.enqueue("cert", "alert-1", {"report_id": "r1"}) is None  # once per target
    second = box.enqueue("regional", "alert-1", {"report_id": "r1"})
    assert second is not None and box.backlog() == 2 and box.backlog("cert") == 1
    assert [r.id for r in box.due("cert", utcnow())] == [first]
    box.mark_retry(first, "http_503", later(60))
    assert box.due("cert", utcnow()) == []
    assert [r.id for r in box.due("cert", later(61))] == [first]
    rec = box.get(first)
    assert rec is not None and rec.attempts == 1 and rec.last_error == "http_503" and rec.status == "pending"
    box.mark_failed(first, "http_400: bad report")
    box.mark_delivered(second)
    assert box.backlog() == 0
    assert [r.status for r in box.list()] == ["delivered", "failed"]
    assert [r.alert_id for r in box.list("failed")] == ["alert-1"]
    assert box.list("failed")[0].to_dict()["last_error"] == "http_400: bad report"
    assert box.requeue(first) and box.backlog() == 1 and box.get(first).attempts == 0  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="status"):
        box.list("lost")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        box.mark_delivered(999)


# --- delivery to real receivers -----------------------------------------------------


def test_signed_delivery_once_per_target_above_severity(state: StateStore) -> None:
    recv = Receiver(SECRET).start()
    try:
        svc, metrics = service(
            state, target(recv.url), target(recv.url, name="regional", min_severity="medium")
        )
        high = new_alert(state, "high")
        medium = new_alert(state, "medium", n=2)
        low = new_alert(state, "low", n=3)
        assert len(svc.on_alert(high)) == 2
        assert len(svc.on_alert(medium)) == 1  # only the regional target takes medium
        assert svc.on_alert(low) == []
        assert svc.on_alert(AlertChange(high.alert, created=False)) == []  # dedup update
        assert svc.on_alert(high) == []  # already enqueued
        assert svc.outbox.backlog() == 3
        stats = svc.deliver_due()
        assert (stats.delivered, stats.retried, stats.failed) == (3, 0, 0)
        assert len(recv.accepted) == 3 and all(r.valid_signature for r in recv.requests)
        bodies = [orjson.loads(r.body) for r in recv.accepted]
        assert {b["alert"]["id"] for b in bodies} == {high.alert.id, medium.alert.id}
        assert report_ids(recv.accepted)[0] == bodies[0]["report_id"]
        assert svc.deliver_due().delivered == 0  # nothing delivered twice
        body, _ = metrics.render()
        assert b"soc_outbox_delivered_total 3.0" in body and b"soc_outbox_backlog 0.0" in body
    finally:
        recv.stop()


def test_retry_with_backoff_then_delivered_once(state: StateStore) -> None:
    recv = Receiver(SECRET, script=[503, 503]).start()
    try:
        svc, _ = service(state, target(recv.url), base_backoff_s=10)
        svc.on_alert(new_alert(state))
        assert svc.deliver_due().retried == 1
        rec = svc.outbox.list()[0]
        assert rec.attempts == 1 and rec.last_error.startswith("http_503")  # type: ignore[union-attr]
        assert 5 <= (rec.next_attempt_at - utcnow()).total_seconds() <= 10  # backoff with jitter
        assert svc.deliver_due().retried == 0  # not due yet
        second_try = later(11)
        assert svc.deliver_due(second_try).retried == 1
        rec = svc.outbox.list()[0]
        assert 10 <= (rec.next_attempt_at - second_try).total_seconds() <= 20  # doubled
        assert svc.deliver_due(later(100)).delivered == 1
        assert len(recv.requests) == 3 and len(recv.accepted) == 1
        assert len(set(report_ids(recv.requests))) == 1  # retries carry the same report id
        final = svc.outbox.list()[0]
        assert final.status == "delivered" and final.attempts == 3 and final.delivered_at
    finally:
        recv.stop()


def test_backoff_is_capped_and_jittered(state: StateStore) -> None:
    svc, _ = service(state, base_backoff_s=1, max_backoff_s=300)
    delays = [svc.backoff(n) for n in range(1, 15)]
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4
    assert all(150 <= d <= 300 for d in delays[9:])


def test_permanent_error_fails_without_retry(state: StateStore) -> None:
    recv = Receiver(SECRET, default_status=400).start()
    try:
        svc, metrics = service(state, target(recv.url))
        svc.on_alert(new_alert(state))
        assert svc.deliver_due().failed == 1
        assert svc.deliver_due(later(1000)).failed == 0
        assert len(recv.requests) == 1
        rec = svc.outbox.list("failed")[0]
        assert rec.last_error.startswith("http_400") and "refused" in rec.last_error  # type: ignore[union-attr]
        assert b'soc_outbox_failed_total{reason="http_400"} 1.0' in metrics.render()[0]
    finally:
        recv.stop()


def test_exhausted_attempts_fail_with_reason(state: StateStore) -> None:
    recv = Receiver(SECRET, default_status=500).start()
    try:
        svc, _ = service(state, target(recv.url), max_attempts=3)
        svc.on_alert(new_alert(state))
        for step in range(3):
            svc.deliver_due(later(1000 * (step + 1)))
        rec = svc.outbox.list()[0]
        assert rec.status == "failed" and rec.attempts == 3
        assert "gave up after 3 attempts" in rec.last_error  # type: ignore[operator]
        assert len(recv.requests) == 3
    finally:
        recv.stop()


def test_receiver_down_then_up(state: StateStore) -> None:
    port = free_port()
    svc, _ = service(state, target(f"http://127.0.0.1:{port}/reports"))
    svc.on_alert(new_alert(state, n=1))
    svc.on_alert(new_alert(state, n=2))
    stats = svc.deliver_due()
    assert stats.retried == 1 and stats.delivered == 0  # the pass stops at an unreachable target
    assert svc.outbox.list()[-1].last_error.startswith("connection")  # type: ignore[union-attr]
    recv = Receiver(SECRET, port=port).start()
    try:
        assert svc.deliver_due(later(600)).delivered == 2
        assert len(recv.accepted) == 2 and svc.outbox.backlog() == 0
    finally:
        recv.stop()


def test_restart_keeps_pending_reports(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = StateStore(path)
    svc, _ = service(first, target("http://127.0.0.1:9/reports"))
    alert = new_alert(first)
    svc.on_alert(alert)
    first.close()  # "crash" before any delivery

    recv = Receiver(SECRET).start()
    second = StateStore(path)
    try:
        svc2, _ = service(second, target(recv.url))
        assert svc2.outbox.backlog() == 1
        assert svc2.on_alert(alert) == []  # the same alert is not enqueued twice after restart
        assert svc2.deliver_due().delivered == 1
        assert orjson.loads(recv.accepted[0].body)["alert"]["id"] == alert.alert.id
    finally:
        recv.stop()
        second.close()


def test_catch_up_enqueues_alerts_missing_from_the_outbox(state: StateStore) -> None:
    svc, _ = service(state, target("http://127.0.0.1:9/r"))
    missed = new_alert(state, "critical")  # recorded, but the engine died before on_alert
    new_alert(state, "low", n=2)
    assert svc.catch_up(AlertRepository(state), since=utcnow() - timedelta(days=3650)) == 1
    assert [r.alert_id for r in svc.outbox.list()] == [missed.alert.id]
    assert svc.catch_up(AlertRepository(state), since=utcnow() - timedelta(days=3650)) == 0


def test_run_loop_delivers_and_stops(state: StateStore) -> None:
    recv = Receiver(SECRET, script=[503]).start()
    try:
        svc, _ = service(state, target(recv.url), poll_interval_s=0.05)
        stop = threading.Event()
        thread = threading.Thread(target=svc.run, args=(stop,), daemon=True)
        thread.start()
        svc.on_alert(new_alert(state))
        assert wait_for(lambda: len(recv.accepted) == 1, timeout=10)
        stop.set()
        svc.wake()
        thread.join(timeout=5)
        assert not thread.is_alive()
        assert len(recv.requests) == 2 and svc.outbox.backlog() == 0
    finally:
        recv.stop()


def test_https_with_self_signed_ca_file(state: StateStore, tmp_path: Path) -> None:
    made = make_self_signed_cert(tmp_path)
    if made is None:
        pytest.skip("the openssl CLI is not installed, cannot make a test certificate")
    cert, key = made
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    recv = Receiver(SECRET, ssl_context=ctx).start()
    try:
        untrusted, _ = service(state, target(recv.url, name="untrusted"))
        svc, _ = service(state, target(recv.url, name="trusted", ca_file=str(cert)))
        alert = new_alert(state)
        untrusted.on_alert(alert)
        svc.on_alert(alert)
        assert untrusted.deliver_due().retried == 1  # unknown CA: refused, retried later
        assert untrusted.outbox.list(target="untrusted")[0].last_error.startswith("tls")  # type: ignore[union-attr]
        assert svc.deliver_due().delivered == 1
        assert len(recv.accepted) == 1 and recv.accepted[0].valid_signature
        assert svc.targets[0].healthcheck()  # type: ignore[attr-defined]
    finally:
        recv.stop()


def test_secret_never_in_repr_or_logs(state: StateStore, caplog: pytest.LogCaptureFixture) -> None:
    cfg = HttpTargetConfig(name="cert", url="http://127.0.0.1:9/r", secret=SECRET.decode())  # str accepted
    assert cfg.secret == SECRET
    assert SECRET.decode() not in repr(cfg) and SECRET.decode() not in repr(HttpTarget(cfg))
    recv = Receiver(SECRET, script=[503], default_status=400).start()
    try:
        svc, _ = service(state, target(recv.url))
        caplog.set_level(logging.DEBUG)
        svc.on_alert(new_alert(state))
        svc.deliver_due()
        svc.deliver_due(later(100))
        assert caplog.records, "delivery should log something"
        assert SECRET.decode() not in caplog.text
        assert SECRET.decode() not in repr(svc.outbox.list()[0])
    finally:
        recv.stop()


def test_config_validation_and_env_secret() -> None:
    class Settings:
        name, url, secret_env, ca_file, verify_tls, timeout_s, min_severity = (
            "cert", "https://cert.example/api", "SOC_TEST_SECRET", None, True, 5.0, "critical",
        )  # fmt: skip

    cfg = HttpTargetConfig.from_settings(Settings, {"SOC_TEST_SECRET": "abc"})
    assert cfg.secret == b"abc" and cfg.min_severity == "critical"
    with pytest.raises(ValueError, match="SOC_TEST_SECRET is not set"):
        HttpTargetConfig.from_settings(Settings, {})
    with pytest.raises(ValueError, match="min_severity"):
        HttpTargetConfig(name="x", url="http://a", secret=b"k", min_severity="urgent")
    with pytest.raises(ValueError, match="url"):
        HttpTargetConfig(name="x", url="ftp://a", secret=b"k")
    with pytest.raises(ValueError, match="secret"):
        HttpTargetConfig(name="x", url="http://a", secret=b"")
    with pytest.raises(ValueError, match="unique"):
        ForwardingService(Outbox.__new__(Outbox), [target("http://a"), target("http://b")], Metrics())
    err = DeliveryError("http_503", "busy", retryable=True)
    assert str(err) == "http_503: busy" and err.retryable


def test_build_forwarding_from_config(state: StateStore) -> None:
    from soc.config import ForwardingConfig, ForwardingTargetConfig
    from soc.forwarding import build_forwarding

    recv = Receiver(b"from-env").start()
    try:
        cfg = ForwardingConfig(
            enabled=True,
            targets=[ForwardingTargetConfig(name="cert", url=recv.url, secret_env="SOC_TEST_FWD")],
            max_attempts=4,
        )
        svc = build_forwarding(cfg, state, Metrics(), environ={"SOC_TEST_FWD": "from-env"})
        assert svc.max_attempts == 4 and svc.reporter["id"] == cfg.reporter.id
        svc.on_alert(new_alert(state, "critical"))
        assert svc.deliver_due().delivered == 1 and recv.accepted[0].valid_signature
        assert "Trung tâm" in orjson.loads(recv.accepted[0].body)["reporter"]["name"]
    finally:
        recv.stop()
