"""A forwarding target that POSTs signed JSON reports over HTTP or HTTPS.

Outcomes (:meth:`HttpTarget.classify`, :func:`.http_post.classify`): any 2xx is
delivered; 408, 425, 429 and 5xx, timeouts, connection and TLS errors are retryable;
every other status is a permanent failure (the receiver refused this report and will
refuse it again).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import urllib3

from detectors.base import SEVERITIES
from soc.forwarding import DeliveryError
from soc.forwarding.http_post import RETRYABLE_STATUSES, classify, json_headers, pool_manager, post
from soc.forwarding.signing import signed_headers

log = logging.getLogger(__name__)

__all__ = ["RETRYABLE_STATUSES", "USER_AGENT", "HttpTarget", "HttpTargetConfig"]

USER_AGENT = "soc-forwarder/1"


@dataclass(frozen=True, slots=True)
class HttpTargetConfig:
    """One HTTP(S) receiver. ``secret`` (the HMAC key) is hidden from ``repr``."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    ca_file: str | None = None
    verify_tls: bool = True
    timeout_s: float = 10.0
    min_severity: str = "high"

    def __post_init__(self) -> None:
        if isinstance(self.secret, str):
            object.__setattr__(self, "secret", self.secret.encode())
        if not self.secret:
            raise ValueError(f"forwarding target {self.name!r}: secret is empty")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"forwarding target {self.name!r}: url must start with http:// or https://")
        if self.min_severity not in SEVERITIES:
            raise ValueError(
                f"forwarding target {self.name!r}: min_severity {self.min_severity!r} is not one of "
                f"{', '.join(SEVERITIES)}"
            )
        if self.timeout_s <= 0:
            raise ValueError(f"forwarding target {self.name!r}: timeout_s must be > 0")

    @classmethod
    def from_settings(cls, settings: Any, environ: Mapping[str, str] | None = None) -> HttpTargetConfig:
        """Build from a ``soc.config.ForwardingTargetConfig``, reading the secret from
        the environment variable it names."""
        env = os.environ if environ is None else environ
        secret = env.get(settings.secret_env, "")
        if not secret:
            raise ValueError(
                f"forwarding target {settings.name!r}: environment variable {settings.secret_env} is not set"
            )
        return cls(
            name=settings.name,
            url=settings.url,
            secret=secret.encode(),
            ca_file=settings.ca_file,
            verify_tls=settings.verify_tls,
            timeout_s=settings.timeout_s,
            min_severity=settings.min_severity,
        )


class HttpTarget:
    """POSTs reports to ``config.url`` with ``X-SOC-*`` signature headers."""

    def __init__(self, config: HttpTargetConfig) -> None:
        self.config = config
        self.name = config.name
        self.min_severity = config.min_severity
        self._http = pool_manager(
            config.url,
            timeout_s=config.timeout_s,
            verify_tls=config.verify_tls,
            ca_file=config.ca_file,
            num_pools=2,
        )

    def __repr__(self) -> str:
        return f"HttpTarget(name={self.name!r}, url={self.config.url!r})"

    def encode(self, report: dict[str, Any]) -> bytes:
        return orjson.dumps(report)

    def send(self, body: bytes, report_id: str) -> None:
        """POST one report; raise :class:`DeliveryError` unless the receiver answered 2xx."""
        headers = json_headers(USER_AGENT, signed_headers(body, self.config.secret, report_id))
        post(self._http, self.config.url, body, headers)

    @staticmethod
    def classify(outcome: int | BaseException) -> DeliveryError | None:
        """``None`` for a 2xx status; otherwise the :class:`DeliveryError` it means."""
        return classify(outcome)

    def healthcheck(self) -> bool:
        """Whether the receiver answers HTTP at all (a HEAD request; any status below 500)."""
        try:
            resp = self._http.request("HEAD", self.config.url, headers={"User-Agent": USER_AGENT})
        except urllib3.exceptions.HTTPError as exc:
            log.info("forwarding target %s unreachable: %s", self.name, exc)
            return False
        return resp.status < 500

    def close(self) -> None:
        self._http.clear()
