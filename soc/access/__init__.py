"""Who may do what: roles, principals and agency scoping."""

from soc.access.roles import (
    ALL_ROLES,
    READ_ALERT_ROLES,
    ROLE_ADMIN,
    ROLE_AGENCY_OFFICER,
    ROLE_AUDITOR,
    ROLE_RESPONDER,
    ROLE_SERVICE,
    ROLE_SOC_ANALYST,
    TRIAGE_ROLES,
    Principal,
)

__all__ = [
    "ALL_ROLES",
    "READ_ALERT_ROLES",
    "ROLE_ADMIN",
    "ROLE_AGENCY_OFFICER",
    "ROLE_AUDITOR",
    "ROLE_RESPONDER",
    "ROLE_SERVICE",
    "ROLE_SOC_ANALYST",
    "TRIAGE_ROLES",
    "Principal",
]
