"""HMAC-SHA256 signatures of forwarded reports.

For receivers: every delivery is a ``POST`` of a JSON body with these headers:

* ``X-SOC-Timestamp``: Unix time in seconds when the request was signed;
* ``X-SOC-Signature``: ``sha256=<hex>``, the HMAC-SHA256 with the shared secret of
  the bytes ``f"{timestamp}.".encode() + body`` (the raw body, exactly as received);
* ``X-SOC-Report-Id``: the report's id; a retried delivery carries the same id, so
  a receiver de-duplicates on it.

To verify: recompute the HMAC over the timestamp header, a dot and the raw body,
compare in constant time (``hmac.compare_digest``), and refuse timestamps more than
a few minutes from your clock (replay protection). :func:`verify` does all of it.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-SOC-Timestamp"
SIGNATURE_HEADER = "X-SOC-Signature"
REPORT_ID_HEADER = "X-SOC-Report-Id"
_PREFIX = "sha256="


def sign(body: bytes, secret: bytes, timestamp: int) -> str:
    """The ``X-SOC-Signature`` value of ``body`` signed at ``timestamp``."""
    mac = hmac.new(secret, f"{int(timestamp)}.".encode() + body, hashlib.sha256)
    return _PREFIX + mac.hexdigest()


def verify(
    body: bytes,
    secret: bytes,
    timestamp: int | str,
    signature: str,
    *,
    max_skew_s: int = 300,
    now: float | None = None,
) -> bool:
    """Whether ``signature`` is valid for ``body`` and ``timestamp`` is within
    ``max_skew_s`` seconds of ``now`` (default: the current time)."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - ts) > max_skew_s:
        return False
    if not isinstance(signature, str) or not signature.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret, ts), signature)


def signed_headers(
    body: bytes,
    secret: bytes,
    report_id: str,
    *,
    timestamp: int | None = None,
    id_header: str = REPORT_ID_HEADER,
) -> dict[str, str]:
    """The three signature headers of one delivery (the id under ``id_header``:
    ``X-SOC-Notification-Id`` for notification webhooks)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: sign(body, secret, ts),
        id_header: report_id,
    }
