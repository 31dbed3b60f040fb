"""Signed JSON POSTs and what their outcomes mean, for every HTTP sender: forwarding
targets (:mod:`.http_target`) and notification webhooks (``soc.notify.webhook_channel``).

Outcomes (:func:`classify`): any 2xx is delivered; 408, 425, 429 and 5xx, timeouts,
connection and TLS errors are retryable; every other status is a permanent failure
(the receiver refused this body and will refuse it again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import urllib3

from soc.forwarding import DeliveryError

RETRYABLE_STATUSES = frozenset({408, 425, 429})
DETAIL_BYTES = 200


def pool_manager(
    url: str, *, timeout_s: float, verify_tls: bool, ca_file: str | None, num_pools: int
) -> urllib3.PoolManager:
    """A pool for one receiver: no urllib3 retries (the queue retries), a total timeout,
    and for ``https://`` certificate checks (``verify_tls``) against ``ca_file`` if given."""
    kwargs: dict[str, Any] = {"retries": False, "timeout": urllib3.Timeout(total=timeout_s)}
    if url.startswith("https://"):
        kwargs["cert_reqs"] = "CERT_REQUIRED" if verify_tls else "CERT_NONE"
        if ca_file:
            kwargs["ca_certs"] = ca_file
    return urllib3.PoolManager(num_pools=num_pools, maxsize=2, **kwargs)


def json_headers(user_agent: str, signature: Mapping[str, str]) -> dict[str, str]:
    """The headers of a signed JSON POST (``signature``: the ``X-SOC-*`` ones)."""
    return {"Content-Type": "application/json", "User-Agent": user_agent, **signature}


def post(pool: urllib3.PoolManager, url: str, body: bytes, headers: Mapping[str, str]) -> None:
    """POST once; raise the :class:`DeliveryError` of the outcome unless it is a 2xx."""
    try:
        resp = pool.request("POST", url, body=body, headers=dict(headers))
    except urllib3.exceptions.HTTPError as exc:
        raise classify(exc) from exc  # type: ignore[misc]
    outcome = classify(resp.status)
    if outcome is not None:
        detail = resp.data[:DETAIL_BYTES].decode("utf-8", "replace").strip()
        raise DeliveryError(outcome.reason, detail, retryable=outcome.retryable)


def classify(outcome: int | BaseException) -> DeliveryError | None:
    """``None`` for a 2xx status; otherwise the :class:`DeliveryError` it means."""
    if isinstance(outcome, int):
        if 200 <= outcome < 300:
            return None
        retryable = outcome in RETRYABLE_STATUSES or outcome >= 500
        return DeliveryError(f"http_{outcome}", retryable=retryable)
    exc: BaseException = outcome
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    if isinstance(exc, urllib3.exceptions.NewConnectionError):  # before TimeoutError: a subclass of it
        return DeliveryError("connection", str(exc), retryable=True)
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return DeliveryError("timeout", str(exc), retryable=True)
    if isinstance(exc, urllib3.exceptions.SSLError):
        return DeliveryError("tls", str(exc), retryable=True)
    if isinstance(exc, (urllib3.exceptions.ProtocolError, OSError)):
        return DeliveryError("connection", str(exc), retryable=True)
    if isinstance(exc, urllib3.exceptions.LocationValueError):
        return DeliveryError("bad_url", str(exc), retryable=False)
    return DeliveryError("error", f"{type(exc).__name__}: {exc}", retryable=True)
