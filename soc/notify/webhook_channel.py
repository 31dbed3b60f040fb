"""Webhook notifications: HMAC-signed JSON POSTs.

The signature is the forwarding one (``soc.forwarding.signing``):
``X-SOC-Timestamp`` and ``X-SOC-Signature: sha256=<hex of HMAC(key, "<timestamp>." +
body)>``; ``X-SOC-Notification-Id`` names the queued notification (the same on a
retry, so receivers can de-duplicate). Outcomes are classified like forwarding
targets': 2xx sent; 408/425/429/5xx, timeouts and connection errors retried; other
4xx failed for good with the reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import orjson
import urllib3

from soc.forwarding import DeliveryError
from soc.forwarding.http_post import json_headers, pool_manager, post
from soc.forwarding.signing import signed_headers
from soc.notify.content import Message

log = logging.getLogger(__name__)

NOTIFICATION_ID_HEADER = "X-SOC-Notification-Id"
USER_AGENT = "soc-notify/1"


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """One webhook. ``secret`` (the HMAC key) is hidden from ``repr``."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    ca_file: str | None = None
    verify_tls: bool = True
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError(f"webhook {self.name!r}: the HMAC secret is empty")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"webhook {self.name!r}: url must start with http:// or https://")


class WebhookChannel:
    """POSTs notifications to the named webhooks."""

    name = "webhook"

    def __init__(self, webhooks: list[WebhookSettings]) -> None:
        self.webhooks = {w.name: w for w in webhooks}
        self._pools: dict[str, urllib3.PoolManager] = {}
        for hook in webhooks:
            self._pools[hook.name] = pool_manager(
                hook.url,
                timeout_s=hook.timeout_s,
                verify_tls=hook.verify_tls,
                ca_file=hook.ca_file,
                num_pools=1,
            )

    def __repr__(self) -> str:
        return f"WebhookChannel({sorted(self.webhooks)})"

    def knows(self, recipient: str) -> bool:
        return recipient in self.webhooks

    def encode(self, message: Message, notification_id: str) -> bytes:
        return orjson.dumps({"id": notification_id, **message.payload}, default=str)

    def send(self, recipient: str, message: Message, *, notification_id: str = "") -> None:
        """POST once to the webhook named ``recipient``; raises :class:`DeliveryError`."""
        hook = self.webhooks.get(recipient)
        if hook is None:
            raise DeliveryError("unknown_webhook", f"no webhook named {recipient!r}", retryable=False)
        body = self.encode(message, notification_id)
        signature = signed_headers(
            body, hook.secret, notification_id, timestamp=int(time.time()), id_header=NOTIFICATION_ID_HEADER
        )
        post(self._pools[recipient], hook.url, body, json_headers(USER_AGENT, signature))

    def close(self) -> None:
        for pool in self._pools.values():
            pool.clear()
