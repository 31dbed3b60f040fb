"""The routing stage: each alert change through the policy, L1/L2 deliveries to the
notification queue. (L4 deliveries are enqueued by the forwarding service, whose
policy is :class:`~soc.routing.national.NationalForwarder`, from the same
:meth:`~soc.routing.policy.RoutingPolicy.route_national`.)"""

from __future__ import annotations

import logging
from datetime import datetime

from soc.alerts import AlertChange, AlertFilter, AlertRepository
from soc.notify.worker import NotificationService
from soc.routing.facts import alert_facts
from soc.routing.policy import RoutingPolicy

log = logging.getLogger(__name__)


class RoutingService:
    """Applies ``policy`` to alert changes; notifications go to ``notifications``."""

    def __init__(self, policy: RoutingPolicy, notifications: NotificationService | None) -> None:
        self.policy = policy
        self.notifications = notifications

    def on_alert(self, change: AlertChange) -> list[int]:
        """Queue the notifications of one alert change; returns their ids. A failure is
        logged, never raised: the alert is stored, and :meth:`catch_up` at the next
        start queues what is missing."""
        if self.notifications is None:
            return []
        try:
            facts = alert_facts(change.alert)
            deliveries = [d for d in self.policy.route(facts, change) if d.layer in ("L1", "L2")]
            return self.notifications.enqueue(facts, deliveries) if deliveries else []
        except Exception:
            log.exception("routing alert %s failed; it is queued at the next start", change.alert.id)
            return []

    def catch_up(self, alerts: AlertRepository, since: datetime) -> int:
        """Queue notifications of alerts seen since ``since`` that a crash kept from
        the queue (recipients with no notification of the alert at all)."""
        if self.notifications is None:
            return 0
        added, cursor = 0, None
        while True:
            page, cursor = alerts.list(AlertFilter(since=since), limit=200, after=cursor)
            for alert in page:
                facts = alert_facts(alert)
                deliveries = [d for d in self.policy.route(facts) if d.layer in ("L1", "L2")]
                if deliveries:
                    added += len(self.notifications.enqueue(facts, deliveries, only_new=True))
            if cursor is None:
                return added
