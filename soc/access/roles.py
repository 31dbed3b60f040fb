"""Roles of the 4-layer protection model and the principal a request acts as.

* ``admin``: runs the platform (users, tokens, config); sees everything.
* ``soc_analyst`` (L2, the provincial SOC): triages every alert.
* ``responder`` (the incident-response team): works escalated alerts and incidents.
* ``agency_officer`` (L1, an agency's on-site team): sees and acts on its own agency only.
* ``auditor`` (L3, the independent assessor): reads alerts, evidence, reports and the
  audit log; changes nothing.
* ``service``: machine-to-machine (ingest, forwarding); no triage.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLE_ADMIN = "admin"
ROLE_SOC_ANALYST = "soc_analyst"
ROLE_RESPONDER = "responder"
ROLE_AGENCY_OFFICER = "agency_officer"
ROLE_AUDITOR = "auditor"
ROLE_SERVICE = "service"

ALL_ROLES: tuple[str, ...] = (
    ROLE_ADMIN,
    ROLE_SOC_ANALYST,
    ROLE_RESPONDER,
    ROLE_AGENCY_OFFICER,
    ROLE_AUDITOR,
    ROLE_SERVICE,
)
READ_ALERT_ROLES: tuple[str, ...] = (
    ROLE_ADMIN,
    ROLE_SOC_ANALYST,
    ROLE_RESPONDER,
    ROLE_AGENCY_OFFICER,
    ROLE_AUDITOR,
)
"""Who may read alerts and their evidence (agency officers: their agency only)."""
TRIAGE_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_SOC_ANALYST, ROLE_RESPONDER, ROLE_AGENCY_OFFICER)
"""Who may change an alert (status, assignee, comments; agency officers: their agency only)."""
INGEST_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_SERVICE)
"""Who may hand raw records to the engine."""
PIPELINE_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_SOC_ANALYST)
"""Who may see and replay dead letters (records no parser could read)."""
HUNT_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_SOC_ANALYST, ROLE_RESPONDER)
"""Who may run rules over every agency's stored events."""
AUDIT_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_AUDITOR)
"""Who may read and verify the audit log."""
METRICS_ROLES: tuple[str, ...] = (ROLE_ADMIN, ROLE_SOC_ANALYST, ROLE_SERVICE)
"""Who may read ``/metrics`` when it is not public (a scraper uses a service token)."""
ADMIN_ROLES: tuple[str, ...] = (ROLE_ADMIN,)
"""Who may manage users (and everyone's tokens)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: a user or a service token, with one role.

    ``agency_id`` scopes an ``agency_officer`` to one agency; it is ``None`` for the
    roles that see every agency. ``source`` is the client address, for the audit log.
    ``soc_lead`` marks a SOC analyst who may approve national reports (L4).
    """

    name: str
    role: str
    agency_id: str | None = None
    source: str = ""
    soc_lead: bool = False

    @property
    def roles(self) -> tuple[str, ...]:
        return (self.role,)

    def can_see_agency(self, agency_id: str | None) -> bool:
        """Whether this principal may see data of ``agency_id`` (unscoped roles see all)."""
        if self.role != ROLE_AGENCY_OFFICER:
            return True
        return self.agency_id is not None and agency_id == self.agency_id
