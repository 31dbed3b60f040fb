"""The forwarding core: alerts in, reports out through the durable outbox.

:meth:`ForwardingService.on_alert` (called by the alert stage for every alert
change) enqueues one report per target whose ``min_severity`` the new alert meets.
:meth:`ForwardingService.run` delivers due reports until stopped, retrying with
exponential backoff and jitter; a report that gets a permanent error or exhausts
``max_attempts`` is marked failed with the reason and kept. Because the report is
in the state store before delivery starts, a crash or restart never loses one.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from detectors.base import severity_rank
from soc.alerts import AlertChange, AlertFilter, AlertRepository
from soc.alerts.model import Alert
from soc.durable_queue import backoff_delay, drain_until_stopped, receiver_answered
from soc.event import utcnow
from soc.forwarding import DeliveryError, ForwardingTarget
from soc.forwarding.outbox import Outbox, OutboxRecord
from soc.forwarding.report import build_report
from soc.metrics import Metrics

log = logging.getLogger(__name__)

DEFAULT_REPORTER = {"id": "soc", "name": "SOC"}


class ForwardingPolicy(Protocol):
    """Decides which alerts are reported and enqueues them (``soc.routing.national``);
    without one, every new alert at a target's ``min_severity`` is reported."""

    min_severity: str

    def enqueue(self, alert: Alert) -> list[int]: ...


@dataclass(slots=True)
class DeliveryStats:
    """What one delivery pass did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


class ForwardingService:
    """Enqueues reports of new alerts and delivers them to ``targets``."""

    def __init__(
        self,
        outbox: Outbox,
        targets: Sequence[ForwardingTarget],
        metrics: Metrics,
        *,
        reporter: dict[str, Any] | None = None,
        max_attempts: int = 12,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        poll_interval_s: float = 1.0,
        batch_size: int = 100,
        rng: random.Random | None = None,
    ) -> None:
        names = [t.name for t in targets]
        if len(set(names)) != len(names):
            raise ValueError(f"forwarding target names must be unique, got {names}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        self.outbox = outbox
        self.targets = list(targets)
        self.metrics = metrics
        self.reporter = dict(reporter or DEFAULT_REPORTER)
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self.policy: ForwardingPolicy | None = None
        metrics.outbox_backlog.set_function(outbox.backlog)

    # enqueue -------------------------------------------------------------------

    def on_alert(self, change: AlertChange) -> list[int]:
        """Enqueue reports of a newly created alert (dedup updates are not reported
        again, unless a policy decides: it sees updates too); returns the new outbox ids."""
        if not change.created and self.policy is None:
            return []
        return self.enqueue_alert(change.alert)

    def enqueue_alert(self, alert: Alert) -> list[int]:
        """Enqueue ``alert`` for every target whose ``min_severity`` it meets, or as the
        policy decides (idempotent)."""
        if self.policy is not None:
            ids = self.policy.enqueue(alert)
            if ids:
                self._wake.set()
            return ids
        wanted = [t for t in self.targets if severity_rank(alert.severity) >= severity_rank(t.min_severity)]
        if not wanted:
            return []
        report = build_report(alert, reporter=self.reporter)
        ids = []
        for target in wanted:
            record_id = self.outbox.enqueue(target.name, alert.id, report)
            if record_id is not None:
                ids.append(record_id)
        if ids:
            self._wake.set()
        return ids

    def catch_up(self, alerts: AlertRepository, since: datetime) -> int:
        """Enqueue alerts seen since ``since`` that have no report yet (after a crash
        between recording an alert and enqueueing it); returns how many were added."""
        if not self.targets:
            return 0
        lowest = min(self.targets, key=lambda t: severity_rank(t.min_severity)).min_severity
        if self.policy is not None:
            lowest = self.policy.min_severity
        added, cursor = 0, None
        while True:
            page, cursor = alerts.list(AlertFilter(min_severity=lowest, since=since), limit=200, after=cursor)
            for alert in page:
                added += len(self.enqueue_alert(alert))
            if cursor is None:
                return added

    # deliver -------------------------------------------------------------------

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: exponential, capped, with jitter
        (uniform in the upper half, so retries of many reports spread out)."""
        return backoff_delay(attempts, self.base_backoff_s, self.max_backoff_s, self._rng)

    def deliver_due(self, now: datetime | None = None) -> DeliveryStats:
        """One pass: try every due report of every target once."""
        now = now or utcnow()
        stats = DeliveryStats()
        for target in self.targets:
            for record in self.outbox.due(target.name, now, self.batch_size):
                if not self._deliver(target, record, now, stats):
                    break  # the receiver is unreachable: leave the rest for the next pass
        return stats

    def _deliver(
        self, target: ForwardingTarget, record: OutboxRecord, now: datetime, stats: DeliveryStats
    ) -> bool:
        """Try one report; returns False when the target looks down (stop this pass)."""
        report_id = str(record.payload.get("report_id", record.id))
        try:
            target.send(target.encode(record.payload), report_id)
        except DeliveryError as exc:
            return self._failed_attempt(target, record, exc, now, stats)
        except Exception as exc:  # a target bug must not stop forwarding
            log.exception("forwarding target %s crashed sending report %s", target.name, report_id)
            error = DeliveryError("error", f"{type(exc).__name__}: {exc}", retryable=True)
            return self._failed_attempt(target, record, error, now, stats)
        self.outbox.mark_delivered(record.id, now=utcnow())
        self.metrics.outbox_delivered.inc()
        stats.delivered += 1
        log.info("report %s of alert %s delivered to %s", report_id, record.alert_id, target.name)
        return True

    def _failed_attempt(
        self,
        target: ForwardingTarget,
        record: OutboxRecord,
        exc: DeliveryError,
        now: datetime,
        stats: DeliveryStats,
    ) -> bool:
        attempts = record.attempts + 1
        if not exc.retryable or attempts >= self.max_attempts:
            why = str(exc) if not exc.retryable else f"gave up after {attempts} attempts: {exc}"
            self.outbox.mark_failed(record.id, why)
            self.metrics.outbox_failed.labels(reason=exc.reason).inc()
            stats.failed += 1
            log.warning("report of alert %s to %s failed: %s", record.alert_id, target.name, why)
            return True
        delay = self.backoff(attempts)
        self.outbox.mark_retry(record.id, str(exc), now + timedelta(seconds=delay))
        stats.retried += 1
        log.info(
            "report of alert %s to %s: attempt %d failed (%s), retry in %.1fs",
            record.alert_id,
            target.name,
            attempts,
            exc,
            delay,
        )
        return receiver_answered(exc.reason)

    def run(self, stop: threading.Event) -> None:
        """Deliver due reports until ``stop`` is set (the engine runs this in a thread)."""
        drain_until_stopped(
            stop, self._wake, lambda: self.deliver_due().delivered, self.poll_interval_s, log, "forwarding"
        )

    def wake(self) -> None:
        """Start the next delivery pass now (e.g. after ``soc outbox retry``)."""
        self._wake.set()


def build_forwarding(
    settings: Any, state: Any, metrics: Metrics, *, environ: Mapping[str, str] | None = None
) -> ForwardingService:
    """The engine's forwarding service from ``soc.config.ForwardingConfig``: one
    :class:`~soc.forwarding.http_target.HttpTarget` per configured target (secrets
    read from the environment variables the config names), over the state store's outbox."""
    from soc.forwarding.http_target import HttpTarget, HttpTargetConfig

    targets = [HttpTarget(HttpTargetConfig.from_settings(t, environ)) for t in settings.targets]
    reporter = {"id": settings.reporter.id, "name": settings.reporter.name}
    return ForwardingService(
        Outbox(state), targets, metrics, reporter=reporter, max_attempts=settings.max_attempts
    )
