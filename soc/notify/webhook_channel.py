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
from typing import Any

import orjson
import urllib3

from soc.forwarding import DeliveryError
from soc.forwarding.http_target import HttpTarget
from soc.forwarding.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
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
            kwargs: dict[str, Any] = {"retries": False, "timeout": urllib3.Timeout(total=hook.timeout_s)}
            if hook.url.startswith("https://"):
                kwargs["cert_reqs"] = "CERT_REQUIRED" if hook.verify_tls else "CERT_NONE"
                if hook.ca_file:
                    kwargs["ca_certs"] = hook.ca_file
            self._pools[hook.name] = urllib3.PoolManager(num_pools=1, maxsize=2, **kwargs)

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
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: str(ts),
            SIGNATURE_HEADER: sign(body, hook.secret, ts),
            NOTIFICATION_ID_HEADER: notification_id,
        }
        try:
            resp = self._pools[recipient].request("POST", hook.url, body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            raise HttpTarget.classify(exc) from exc  # type: ignore[misc]
        outcome = HttpTarget.classify(resp.status)
        if outcome is not None:
            detail = resp.data[:200].decode("utf-8", "replace").strip()
            raise DeliveryError(outcome.reason, detail, retryable=outcome.retryable)

    def close(self) -> None:
        for pool in self._pools.values():
            pool.clear()
