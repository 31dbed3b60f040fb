"""The 4-layer routing policy (L1 agency team, L2 SOC, L3 assessor, L4 national center).

:mod:`.policy` decides (pure: :meth:`RoutingPolicy.route`), :mod:`.facts` reads the
alert, :mod:`.service` hands L1/L2 deliveries to ``soc.notify``, and :mod:`.national`
turns L4 deliveries into forwarding records (automatic or SOC-lead approval, audited).
"""

from __future__ import annotations

from typing import Any

from soc.routing.facts import AlertFacts, alert_facts
from soc.routing.policy import (
    ConfigContacts,
    ContactDirectory,
    Delivery,
    MergedContacts,
    NationalPolicy,
    Recipients,
    RoutingPolicy,
)


def build_national_forwarder(soc_settings: Any, state: Any, forwarding: Any) -> Any:
    """The L4 policy for ``forwarding`` (a ``ForwardingService``), or ``None`` when
    ``routing.national.enabled`` is off (targets' ``min_severity`` alone then decides)."""
    if not soc_settings.routing.national.enabled:
        return None
    from soc.routing.national import NationalForwarder

    names = [t.name for t in forwarding.targets]
    unknown = sorted(set(soc_settings.routing.national.targets) - set(names))
    if unknown:
        raise ValueError(f"routing.national.targets: {unknown} are not forwarding targets ({names})")
    policy = RoutingPolicy.from_settings(soc_settings.routing, forwarding_targets=names)
    return NationalForwarder(
        policy, state, forwarding.outbox, reporter=forwarding.reporter, zone=soc_settings.timezone
    )


__all__ = [
    "AlertFacts",
    "ConfigContacts",
    "ContactDirectory",
    "Delivery",
    "MergedContacts",
    "NationalPolicy",
    "Recipients",
    "RoutingPolicy",
    "alert_facts",
    "build_national_forwarder",
]
