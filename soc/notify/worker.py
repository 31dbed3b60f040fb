"""The notification core: deliveries in, messages out through the durable queue.

:meth:`NotificationService.enqueue` renders one message per L1/L2 delivery the
routing policy returned and queues it (skipping duplicates: same alert and recipient
inside the dedup window, unless the severity escalated). :meth:`NotificationService.run`
delivers due messages until stopped: a rate-limited recipient's messages wait for a
token and, when several are due together, go out as one digest; a failed attempt is
retried with exponential backoff and jitter; a permanent error or ``max_attempts``
marks the message failed with the reason.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from soc.durable_queue import backoff_delay, drain_until_stopped, receiver_answered
from soc.event import utcnow
from soc.forwarding import DeliveryError
from soc.notify.content import Message, MessageBuilder
from soc.notify.metrics import NotificationMetrics
from soc.notify.queue import NewNotification, Notification, NotificationQueue
from soc.notify.ratelimit import RateLimiter
from soc.routing.facts import AlertFacts
from soc.routing.policy import Delivery

log = logging.getLogger(__name__)


class NotificationChannel(Protocol):
    """What the core needs of a channel (``email``, ``webhook``)."""

    name: str

    def knows(self, recipient: str) -> bool: ...

    def send(self, recipient: str, message: Message, *, notification_id: str = "") -> None:
        """Deliver once; raise ``DeliveryError`` on failure."""


@dataclass(slots=True)
class NotifyStats:
    """What one delivery pass did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    rate_limited: int = 0
    digests: int = 0


class NotificationService:
    """Queues and delivers notifications through ``channels`` (by channel name)."""

    def __init__(
        self,
        queue: NotificationQueue,
        channels: Mapping[str, NotificationChannel],
        builder: MessageBuilder,
        metrics: NotificationMetrics,
        *,
        limiter: RateLimiter | None = None,
        max_attempts: int = 8,
        base_backoff_s: float = 30.0,
        max_backoff_s: float = 3600.0,
        max_digest_items: int = 50,
        poll_interval_s: float = 1.0,
        batch_size: int = 500,
        rng: random.Random | None = None,
    ) -> None:
        self.queue = queue
        self.channels = dict(channels)
        self.builder = builder
        self.metrics = metrics
        self.limiter = limiter or RateLimiter((120, 30), (6, 3))
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_digest_items = max_digest_items
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        metrics.backlog.set_function(queue.backlog)

    # enqueue -------------------------------------------------------------------

    def enqueue(
        self,
        facts: AlertFacts,
        deliveries: Sequence[Delivery],
        *,
        only_new: bool = False,
        now: datetime | None = None,
    ) -> list[int]:
        """Queue the notifications of ``deliveries`` (L1/L2; others are ignored);
        ``only_new``: skip a recipient who has any notification of this alert (catch-up)."""
        now = now or utcnow()
        ids: list[int] = []
        messages: dict[tuple[str, bool, str], Message] = {}
        for d in deliveries:
            if d.channel not in ("email", "webhook"):
                continue
            if only_new:
                if self.queue.exists(d.channel, d.recipient, d.alert_id):
                    continue
            elif self.queue.is_duplicate(d.channel, d.recipient, d.alert_id, facts.severity_rank, now=now):
                self.metrics.deduplicated.labels(channel=d.channel).inc()
                continue
            key = (d.layer, d.created, d.reason)
            message = messages.get(key)
            if message is None:
                message = self.builder.alert_message(facts, layer=d.layer, created=d.created, reason=d.reason)
                for problem in message.problems:
                    self.metrics.template_errors.labels(template=problem.slot).inc()
                messages[key] = message
            render_error = "; ".join(str(p) for p in message.problems) or None
            payload = {**message.payload}
            ids.append(
                self.queue.enqueue(
                    NewNotification(
                        channel=d.channel,
                        recipient=d.recipient,
                        alert_id=d.alert_id,
                        layer=d.layer,
                        severity_rank=facts.severity_rank,
                        subject=message.subject,
                        body_text=message.text,
                        body_html=message.html,
                        payload=payload,
                        render_error=render_error,
                    ),
                    now=now,
                )
            )
        if ids:
            self._wake.set()
        return ids

    # deliver -------------------------------------------------------------------

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: exponential, capped, jittered."""
        return backoff_delay(attempts, self.base_backoff_s, self.max_backoff_s, self._rng)

    def deliver_due(self, now: datetime | None = None) -> NotifyStats:
        """One pass over the due notifications, grouped by channel and recipient."""
        now = now or utcnow()
        stats = NotifyStats()
        groups: dict[tuple[str, str], list[Notification]] = {}
        for item in self.queue.due(now, self.batch_size):
            groups.setdefault((item.channel, item.recipient), []).append(item)
        down: set[str] = set()
        for (channel_name, recipient), items in groups.items():
            channel = self.channels.get(channel_name)
            if channel is None or not channel.knows(recipient):
                why = f"channel {channel_name} has no recipient {recipient!r} configured"
                self._fail(channel_name, items, DeliveryError("not_configured", why, retryable=False), stats)
                continue
            if channel_name in down:
                continue  # the server did not answer this pass; the rest waits for the next
            wait = self.limiter.acquire(channel_name, recipient, now.timestamp())
            if wait > 0:
                self.queue.delay([i.id for i in items], now + timedelta(seconds=wait))
                self.metrics.rate_limited.labels(channel=channel_name).inc(len(items))
                stats.rate_limited += len(items)
                continue
            batch = items[: self.max_digest_items]
            if not self._send(channel, recipient, batch, now, stats):
                down.add(channel_name)
        return stats

    def _message(self, batch: Sequence[Notification]) -> Message:
        if len(batch) == 1:
            n = batch[0]
            return Message(n.subject, n.body_text, n.body_html, n.payload)
        message = self.builder.digest_message([n.payload for n in batch])
        for problem in message.problems:
            self.metrics.template_errors.labels(template=problem.slot).inc()
        return message

    def _send(
        self,
        channel: NotificationChannel,
        recipient: str,
        batch: list[Notification],
        now: datetime,
        stats: NotifyStats,
    ) -> bool:
        """Send one message (or a digest); returns False when the channel looks down."""
        ids = [n.id for n in batch]
        label = str(ids[0]) if len(ids) == 1 else f"digest-{ids[0]}-{ids[-1]}"
        try:
            channel.send(recipient, self._message(batch), notification_id=label)
        except DeliveryError as exc:
            return self._failed_attempt(channel.name, batch, exc, now, stats)
        except Exception as exc:  # a channel bug must not stop notifications
            log.exception("notification channel %s crashed sending %s", channel.name, label)
            return self._failed_attempt(
                channel.name,
                batch,
                DeliveryError("error", f"{type(exc).__name__}: {exc}", retryable=True),
                now,
                stats,
            )
        self.queue.mark_sent(ids, now=utcnow(), digest_size=len(ids) if len(ids) > 1 else None)
        self.metrics.sent.labels(channel=channel.name).inc(len(ids))
        stats.sent += len(ids)
        stats.digests += len(ids) > 1
        log.info("notification %s sent by %s to %s", label, channel.name, recipient)
        return True

    def _fail(
        self, channel: str, items: Sequence[Notification], exc: DeliveryError, stats: NotifyStats
    ) -> None:
        self.queue.mark_failed([i.id for i in items], str(exc))
        self.metrics.failed.labels(channel=channel, reason=exc.reason).inc(len(items))
        stats.failed += len(items)
        log.warning("notifications %s by %s failed: %s", [i.id for i in items], channel, exc)

    def _failed_attempt(
        self,
        channel: str,
        batch: Sequence[Notification],
        exc: DeliveryError,
        now: datetime,
        stats: NotifyStats,
    ) -> bool:
        retry, give_up = [], []
        for n in batch:
            attempts = n.attempts + 1
            (retry if exc.retryable and attempts < self.max_attempts else give_up).append(n)
        if give_up:
            why = exc if not exc.retryable else DeliveryError(exc.reason, f"gave up: {exc}", retryable=False)
            self._fail(channel, give_up, why, stats)
        if retry:
            delay = self.backoff(max(n.attempts + 1 for n in retry))
            self.queue.mark_retry([n.id for n in retry], str(exc), now + timedelta(seconds=delay))
            self.metrics.retried.labels(channel=channel).inc(len(retry))
            stats.retried += len(retry)
            log.info("notifications %s by %s: %s, retry in %.1fs", [n.id for n in retry], channel, exc, delay)
        return receiver_answered(exc.reason)

    def run(self, stop: threading.Event) -> None:
        """Deliver due notifications until ``stop`` is set (the engine runs this in a thread)."""
        drain_until_stopped(
            stop, self._wake, lambda: self.deliver_due().sent, self.poll_interval_s, log, "notification"
        )

    def wake(self) -> None:
        self._wake.set()

    def send_test(self, channel_name: str, recipient: str) -> Message:
        """Send a test message now, bypassing the queue (``soc notify test``); raises
        ``DeliveryError`` or ``KeyError`` (channel or recipient not configured)."""
        channel = self.channels.get(channel_name)
        if channel is None:
            raise KeyError(f"channel {channel_name!r} is not configured")
        if not channel.knows(recipient):
            raise KeyError(f"channel {channel_name!r} has no recipient {recipient!r}")
        message = self.builder.alert_message(
            test_facts(), layer="test", created=True, reason="soc notify test"
        )
        channel.send(recipient, message, notification_id="test")
        return message


def test_facts() -> AlertFacts:
    """The made-up alert of a test notification."""
    now = utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return AlertFacts(
        id="test-notification",
        rule_id="soc-notify-test",
        rule_title="Thông báo thử / Test notification",
        severity="informational",
        status="new",
        first_seen=now,
        last_seen=now,
        count=1,
    )
