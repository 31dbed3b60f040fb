"""Agency scoping: what an ``agency_officer`` (L1) may see of alerts and events.

Every alert and event route passes its query through these helpers, so an officer
sees only data of their own agency (``organization.id``). Another agency's alert or
event answers 404, as if it did not exist, so its id cannot be confirmed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from soc.access import ROLE_AGENCY_OFFICER, Principal
from soc.alerts import AlertFilter
from soc.event import get_field
from soc.store.base import FieldFilter, Query

AGENCY_FIELD = "organization.id"
NO_AGENCY = "\x00no-agency"
"""Matches no event: the filter value of an officer without an agency."""


def is_scoped(principal: Principal) -> bool:
    return principal.role == ROLE_AGENCY_OFFICER


def scoped_query(query: Query, principal: Principal) -> Query:
    """``query`` restricted to the principal's agency (unchanged for unscoped roles)."""
    if not is_scoped(principal):
        return query
    agency = FieldFilter(AGENCY_FIELD, "eq", principal.agency_id or NO_AGENCY)
    return dataclasses.replace(query, filters=(*query.filters, agency))


def visible_events(events: list[dict[str, Any]], principal: Principal) -> list[dict[str, Any]]:
    """The events of ``events`` the principal may see."""
    if not is_scoped(principal):
        return events
    return [e for e in events if principal.can_see_agency(get_field(e, AGENCY_FIELD))]


def scoped_alert_filter(flt: AlertFilter, principal: Principal) -> AlertFilter | None:
    """``flt`` restricted to the principal's agency; ``None`` when it asks for another
    agency (nothing to show)."""
    if not is_scoped(principal):
        return flt
    if flt.agency_id is not None and flt.agency_id != principal.agency_id:
        return None
    return dataclasses.replace(flt, agency_id=principal.agency_id or NO_AGENCY)
