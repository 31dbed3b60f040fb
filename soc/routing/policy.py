"""The 4-layer routing policy: which layer hears of an alert, and how.

* **L1**, an agency's on-site team: alerts on its own agency's assets at or above its
  ``min_severity`` (default ``high``), to its e-mail addresses and webhooks.
* **L2**, the provincial SOC: every alert at or above ``routing.soc.min_severity``.
* **L3**, the independent assessor: read-only access (API role ``auditor``); it is
  never notified and never routed to.
* **L4**, the national monitoring center: alerts meeting the forwarding policy
  (severity, asset security level, incident type) become forwarding records, approved
  automatically or by a SOC lead.

:meth:`RoutingPolicy.route` is pure: the same alert and policy give the same
deliveries, with no I/O. De-duplication (one notification per alert and recipient in
a window) is the notification queue's job, since it needs history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from detectors.base import severity_rank
from soc.routing.facts import AlertFacts, alert_facts

Layer = Literal["L1", "L2", "L4"]
Channel = Literal["email", "webhook", "forwarding"]
Approval = Literal["auto", "soc_lead"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One thing to do about one alert: notify ``recipient`` on ``channel`` (an e-mail
    address, a webhook name) or forward it to a target (``channel == "forwarding"``)."""

    layer: Layer
    channel: Channel
    recipient: str
    alert_id: str
    reason: str
    created: bool = True
    approval: Approval | None = None


@dataclass(frozen=True, slots=True)
class Recipients:
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    min_severity: str | None = None


class ContactDirectory(Protocol):
    """Where L1 contacts come from. :class:`ConfigContacts` reads ``routing.agency``;
    the asset inventory's L1 contacts plug in here as another directory."""

    def agency_contacts(self, agency_id: str) -> Recipients | None: ...


@dataclass(frozen=True, slots=True)
class ConfigContacts:
    """L1 contacts from the config, by agency id."""

    by_agency: Mapping[str, Recipients] = field(default_factory=dict)

    def agency_contacts(self, agency_id: str) -> Recipients | None:
        return self.by_agency.get(agency_id)


@dataclass(frozen=True, slots=True)
class MergedContacts:
    """Several directories, their recipients merged (the first one's ``min_severity`` wins)."""

    directories: tuple[ContactDirectory, ...]

    def agency_contacts(self, agency_id: str) -> Recipients | None:
        found = [r for d in self.directories if (r := d.agency_contacts(agency_id)) is not None]
        if not found:
            return None
        emails = tuple(dict.fromkeys(e for r in found for e in r.emails))
        webhooks = tuple(dict.fromkeys(w for r in found for w in r.webhooks))
        level = next((r.min_severity for r in found if r.min_severity), None)
        return Recipients(emails, webhooks, level)


@dataclass(frozen=True, slots=True)
class NationalPolicy:
    """L4: what is reported to the national center."""

    enabled: bool = True
    min_severity: str = "high"
    min_security_level: int = 3
    include_unknown_level: bool = False
    incident_types: frozenset[str] = frozenset()
    approval: Approval = "auto"
    targets: tuple[str, ...] = ()

    def why_not(self, facts: AlertFacts) -> str | None:
        """``None`` if the alert is to be reported, else the reason it is not."""
        if not self.enabled:
            return "national reporting is off"
        if facts.severity_rank < severity_rank(self.min_severity):
            return f"severity {facts.severity} below {self.min_severity}"
        if facts.security_level is None:
            if not self.include_unknown_level:
                return "asset security level unknown"
        elif facts.security_level < self.min_security_level:
            return f"asset security level {facts.security_level} below {self.min_security_level}"
        if self.incident_types and facts.incident_type not in self.incident_types:
            return f"incident type {facts.incident_type} not reported"
        return None


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The whole policy; build it from the config with :meth:`from_settings`."""

    agency_min_severity: str = "high"
    contacts: ContactDirectory = ConfigContacts()
    soc: Recipients = Recipients(min_severity="low")
    national: NationalPolicy = NationalPolicy()
    forwarding_targets: tuple[str, ...] = ()
    """Names of the configured forwarding targets (L4 goes to these, or to ``national.targets``)."""

    @classmethod
    def from_settings(
        cls,
        routing: Any,
        *,
        forwarding_targets: Sequence[str] = (),
        extra_contacts: Sequence[ContactDirectory] = (),
    ) -> RoutingPolicy:
        """From ``soc.config.RoutingConfig``; ``extra_contacts`` (e.g. the asset
        inventory's L1 contacts) are merged with the config's."""
        config_contacts = ConfigContacts(
            {
                c.agency_id: Recipients(tuple(c.emails), tuple(c.webhooks), c.min_severity)
                for c in routing.agency.contacts
            }
        )
        contacts: ContactDirectory = (
            MergedContacts((config_contacts, *extra_contacts)) if extra_contacts else config_contacts
        )
        n = routing.national
        return cls(
            agency_min_severity=routing.agency.min_severity,
            contacts=contacts,
            soc=Recipients(tuple(routing.soc.emails), tuple(routing.soc.webhooks), routing.soc.min_severity),
            national=NationalPolicy(
                enabled=n.enabled,
                min_severity=n.min_severity,
                min_security_level=n.min_security_level,
                include_unknown_level=n.include_unknown_level,
                incident_types=frozenset(n.incident_types),
                approval=n.approval,
                targets=tuple(n.targets),
            ),
            forwarding_targets=tuple(forwarding_targets),
        )

    def route(self, alert: Any, change: Any = None) -> list[Delivery]:
        """Every delivery ``alert`` calls for. ``change`` is its ``AlertChange`` (``None``:
        treated as newly created, as when catching up after a restart)."""
        facts = alert if isinstance(alert, AlertFacts) else alert_facts(alert)
        created = True if change is None else bool(change.created)
        return [
            *self.route_agency(facts, created),
            *self.route_soc(facts, created),
            *self.route_national(facts, created),
        ]

    def route_agency(self, facts: AlertFacts, created: bool = True) -> list[Delivery]:
        """L1: the team of the agency owning the asset, at or above its threshold."""
        if not facts.agency_id:
            return []
        team = self.contacts.agency_contacts(facts.agency_id)
        if team is None:
            return []
        floor = team.min_severity or self.agency_min_severity
        if facts.severity_rank < severity_rank(floor):
            return []
        reason = f"agency {facts.agency_id}: severity {facts.severity} >= {floor}"
        return _notify("L1", team, facts.id, reason, created)

    def route_soc(self, facts: AlertFacts, created: bool = True) -> list[Delivery]:
        """L2: the SOC's channels, for every alert at or above its threshold."""
        floor = self.soc.min_severity or "low"
        if facts.severity_rank < severity_rank(floor):
            return []
        return _notify("L2", self.soc, facts.id, f"SOC: severity {facts.severity} >= {floor}", created)

    def route_national(self, facts: AlertFacts, created: bool = True) -> list[Delivery]:
        """L4: one forwarding delivery per national target when the policy is met."""
        if self.national.why_not(facts) is not None:
            return []
        targets = self.national.targets or self.forwarding_targets
        level = "unknown" if facts.security_level is None else str(facts.security_level)
        reason = (
            f"national: severity {facts.severity}, security level {level}, incident {facts.incident_type}"
        )
        return [
            Delivery("L4", "forwarding", t, facts.id, reason, created, self.national.approval)
            for t in targets
        ]


def _notify(layer: Layer, team: Recipients, alert_id: str, reason: str, created: bool) -> list[Delivery]:
    return [
        *(Delivery(layer, "email", e, alert_id, reason, created) for e in team.emails),
        *(Delivery(layer, "webhook", w, alert_id, reason, created) for w in team.webhooks),
    ]
