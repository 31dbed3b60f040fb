"""Forwarding: alerts above a severity become signed reports in a durable outbox,
delivered to targets (the national CERT, a regional SOC) with retries.

The parts: :mod:`.report` builds the JSON report, :mod:`.signing` signs it,
:mod:`.outbox` keeps it until delivered, :mod:`.worker` (the forwarding core)
enqueues and delivers, and each target module (``http_target``) only knows how to
``encode``, ``send``, ``classify`` an outcome and ``healthcheck``.
"""

# ruff: noqa: E402  (the submodules import DeliveryError from here, so they come last)
from __future__ import annotations

from typing import Any, Protocol


class DeliveryError(Exception):
    """A delivery attempt failed. ``retryable`` says whether the same report may be
    accepted later; ``reason`` is a short label (``http_503``, ``timeout``) used in
    metrics and kept on the outbox row."""

    def __init__(self, reason: str, message: str = "", *, retryable: bool) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason
        self.retryable = retryable


class ForwardingTarget(Protocol):
    """What the forwarding core needs of a target."""

    name: str
    min_severity: str

    def encode(self, report: dict[str, Any]) -> bytes: ...

    def send(self, body: bytes, report_id: str) -> None:
        """Deliver once; raise :class:`DeliveryError` on failure."""

    def healthcheck(self) -> bool: ...


from soc.forwarding.http_target import HttpTarget, HttpTargetConfig
from soc.forwarding.outbox import Outbox, OutboxRecord
from soc.forwarding.worker import DeliveryStats, ForwardingService, build_forwarding

TARGETS: dict[str, type] = {"http": HttpTarget}
"""Target kinds by their config name."""

__all__ = [
    "TARGETS",
    "DeliveryError",
    "DeliveryStats",
    "ForwardingService",
    "ForwardingTarget",
    "HttpTarget",
    "HttpTargetConfig",
    "Outbox",
    "OutboxRecord",
    "build_forwarding",
]
