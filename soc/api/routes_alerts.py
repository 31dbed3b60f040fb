"""``/api/v1/alerts``: the alert queue and one alert with its evidence events."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from detectors.base import SEVERITIES
from soc.access import READ_ALERT_ROLES, Principal
from soc.alerts import AlertFilter
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import AlertDetail, AlertsPage, error_responses
from soc.api.params import BadParameter, parse_time_param
from soc.api.scope import scoped_alert_filter, visible_events

router = APIRouter(
    prefix="/api/v1/alerts",
    tags=["alerts"],
    responses=error_responses(400, 401, 403),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require_roles(*READ_ALERT_ROLES))]
MAX_EVIDENCE_EVENTS = 100


@router.get("", response_model=AlertsPage, summary="List alerts, newest first")
def list_alerts(
    ctx: Ctx,
    principal: Reader,
    status_: Annotated[str | None, Query(alias="status", description="new, acknowledged, ...")] = None,
    min_severity: Annotated[str | None, Query(description=f"One of {', '.join(SEVERITIES)}")] = None,
    rule_id: str | None = None,
    host: str | None = None,
    user: str | None = None,
    source_ip: str | None = None,
    agency_id: str | None = None,
    since: Annotated[str | None, Query(description="Last seen after: `15m`, `2h`, `7d` or ISO 8601")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    if min_severity is not None and min_severity not in SEVERITIES:
        raise BadParameter("min_severity", f"{min_severity!r} is not one of {', '.join(SEVERITIES)}")
    flt = AlertFilter(
        status=status_ or None,
        min_severity=min_severity,
        rule_id=rule_id or None,
        host=host or None,
        user=user or None,
        source_ip=source_ip or None,
        agency_id=agency_id or None,
        since=parse_time_param("since", since),
    )
    scoped = scoped_alert_filter(flt, principal)
    if scoped is None:  # an agency officer asking for another agency: nothing to see
        return {"alerts": [], "cursor": None}
    try:
        alerts, next_cursor = ctx.alerts.list(scoped, limit=limit, after=cursor or None)
    except ValueError as exc:
        raise BadParameter("cursor", str(exc)) from None
    return {"alerts": [a.to_dict() for a in alerts], "cursor": next_cursor}


@router.get(
    "/{alert_id}",
    response_model=AlertDetail,
    summary="One alert with its evidence events",
    responses=error_responses(404),
)
def get_alert(ctx: Ctx, principal: Reader, alert_id: str) -> Response:
    alert = ctx.alerts.get(alert_id)
    if alert is None or not principal.can_see_agency(alert.agency_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id!r} not found")
    body = alert.to_dict()
    found = ctx.store.get(alert.evidence[-MAX_EVIDENCE_EVENTS:]) if alert.evidence else []
    body["events"] = visible_events(found, principal)
    if len(body["events"]) < len(found):  # evidence of another agency: show none of it
        body["evidence"] = [e["event"]["id"] for e in body["events"]]
        body["excerpts"] = []
    return Response(orjson.dumps(body, default=str), media_type="application/json")
