"""Notifications of the 4-layer model's L1 (agency teams) and L2 (the SOC).

The parts: :mod:`.templates` (sandboxed Jinja2, shipped bilingual templates under
``configs/templates``, user overrides with fallback), :mod:`.content` (the template
context and rendered :class:`~.content.Message`), :mod:`.queue` (the durable queue in
the state store, with de-duplication), :mod:`.ratelimit` (token buckets),
:mod:`.worker` (the notification core: enqueue, deliver with retries, rate limits and
digests) and one module per channel (``email_channel``, ``webhook_channel``), each with
``knows(recipient)`` and ``send(recipient, message)`` raising
``soc.forwarding.DeliveryError``. What to notify is decided by ``soc.routing``.
"""

from __future__ import annotations

from soc.notify.builder import build_channels, build_notifications
from soc.notify.email_channel import EmailChannel, EmailSettings
from soc.notify.queue import Notification, NotificationQueue
from soc.notify.webhook_channel import WebhookChannel, WebhookSettings
from soc.notify.worker import NotificationService, NotifyStats

CHANNELS: dict[str, type] = {"email": EmailChannel, "webhook": WebhookChannel}
"""Channel kinds by their name in the queue."""

__all__ = [
    "CHANNELS",
    "EmailChannel",
    "EmailSettings",
    "Notification",
    "NotificationQueue",
    "NotificationService",
    "NotifyStats",
    "WebhookChannel",
    "WebhookSettings",
    "build_channels",
    "build_notifications",
]
