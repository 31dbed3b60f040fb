"""Who may do what: roles, principals and agency scoping; users, API tokens, login
sessions and login limits (:class:`AccessControl` ties them to one state store)."""

from soc.access.control import AccessControl
from soc.access.errors import (
    AccessError,
    Conflict,
    InvalidCredentials,
    InvalidRequest,
    LockedOut,
    NotFound,
)
from soc.access.roles import (
    ADMIN_ROLES,
    ALL_ROLES,
    AUDIT_ROLES,
    HUNT_ROLES,
    INGEST_ROLES,
    METRICS_ROLES,
    PIPELINE_ROLES,
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
    "ADMIN_ROLES",
    "ALL_ROLES",
    "AUDIT_ROLES",
    "HUNT_ROLES",
    "INGEST_ROLES",
    "METRICS_ROLES",
    "PIPELINE_ROLES",
    "READ_ALERT_ROLES",
    "ROLE_ADMIN",
    "ROLE_AGENCY_OFFICER",
    "ROLE_AUDITOR",
    "ROLE_RESPONDER",
    "ROLE_SERVICE",
    "ROLE_SOC_ANALYST",
    "TRIAGE_ROLES",
    "AccessControl",
    "AccessError",
    "Conflict",
    "InvalidCredentials",
    "InvalidRequest",
    "LockedOut",
    "NotFound",
    "Principal",
]
