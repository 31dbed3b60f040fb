"""Prometheus metrics of notifications, on the engine's registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from soc.metrics import Metrics


class NotificationMetrics:
    """``soc_notifications_{sent,failed,retried,rate_limited,deduplicated}_total`` by
    channel, template errors by slot, and the pending backlog."""

    def __init__(self, metrics: Metrics) -> None:
        reg, ns = metrics.registry, metrics.namespace
        self.sent = Counter(
            "notifications_sent", "Notifications delivered (a digest counts each notification in it).",
            ["channel"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.failed = Counter(
            "notifications_failed", "Notifications given up on, by channel and reason.",
            ["channel", "reason"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.retried = Counter(
            "notifications_retried", "Failed delivery attempts scheduled for a retry.",
            ["channel"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.rate_limited = Counter(
            "notifications_rate_limited", "Notifications delayed by a rate limit (not dropped).",
            ["channel"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.deduplicated = Counter(
            "notifications_deduplicated", "Alert updates not notified again (same alert and recipient).",
            ["channel"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.template_errors = Counter(
            "notification_template_errors", "User templates that failed (the shipped one was used).",
            ["template"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.backlog = Gauge(
            "notifications_backlog", "Notifications pending delivery.", namespace=ns, registry=reg
        )
