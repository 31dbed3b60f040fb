"""Triage of alerts: the sortable queue, status, assignee, comments, tags, the
incident-type override and bulk actions. Every change is audited (who, role, client
address, before and after). ``TRIAGE_ROLES`` may change alerts; every role in
``READ_ALERT_ROLES`` may read the queue and comments; an agency officer sees and
changes only their agency's alerts (another agency's alert answers 404).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from detectors.base import SEVERITIES
from soc.access import READ_ALERT_ROLES, TRIAGE_ROLES, Principal
from soc.alerts import Actor, AlertFilter
from soc.alerts.classify import INCIDENT_TYPES
from soc.alerts.model import Alert
from soc.alerts.queue import SORTS
from soc.alerts.triage import (
    RESOLUTIONS,
    STATUSES,
    AlertNotFoundError,
    TransitionError,
    TriageError,
    TriageService,
)
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import AlertsPage, error_responses
from soc.api.params import BadParameter, parse_time_param

router = APIRouter(
    prefix="/api/v1",
    tags=["triage"],
    responses=error_responses(400, 401, 403),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require_roles(*READ_ALERT_ROLES))]
Triager = Annotated[Principal, Depends(require_roles(*TRIAGE_ROLES))]
NOT_FOUND = error_responses(404)
CHANGE = error_responses(404, 409)


class StatusIn(BaseModel):
    status: str = Field(description=f"One of {', '.join(STATUSES)}")
    resolution: str | None = Field(None, description=f"Required to close: {', '.join(RESOLUTIONS)}")
    reason: str | None = Field(None, description="Required to reopen a closed alert")


class AssigneeIn(BaseModel):
    assignee: str | None = Field(description="User name; null or empty to unassign")


class CommentIn(BaseModel):
    body: str


class TagsIn(BaseModel):
    add: list[str] = []
    remove: list[str] = []


class IncidentTypeIn(BaseModel):
    incident_type: str = Field(description=f"One of {', '.join(INCIDENT_TYPES)}")


class BulkIn(BaseModel):
    ids: list[str] = Field(min_length=1, max_length=1000)
    action: str = Field(description="status, assign, comment, tags or incident_type")
    params: dict[str, Any] = Field(
        default_factory=dict, description="The action's body, e.g. {status: closed, resolution: benign}"
    )


def actor_of(principal: Principal, request: Request) -> Actor:
    source = principal.source or (request.client.host if request.client else "")
    return Actor(principal.name, principal.role, source)


def visible_alert(ctx: ApiContext, principal: Principal, alert_id: str) -> Alert:
    """The alert, or 404 when it does not exist or belongs to another agency."""
    alert = ctx.alerts.get(alert_id)
    if alert is None or not principal.can_see_agency(alert.agency_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"alert {alert_id!r} not found")
    return alert


def _run(call: Any) -> Any:
    try:
        return call()
    except AlertNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except TransitionError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from None
    except TriageError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None


@router.get(
    "/triage/queue",
    response_model=AlertsPage,
    summary="The alert queue: filtered, sorted, paged (`cursor` for the next page)",
)
def queue(
    ctx: Ctx,
    principal: Reader,
    status_: Annotated[str | None, Query(alias="status", description="One or more, comma-separated")] = None,
    min_severity: Annotated[str | None, Query(description=f"One of {', '.join(SEVERITIES)}")] = None,
    min_risk: Annotated[int | None, Query(ge=0, le=100)] = None,
    agency_id: str | None = None,
    assignee: Annotated[str | None, Query(description="A user, or '-' for unassigned")] = None,
    incident_type: str | None = None,
    system: str | None = None,
    min_security_level: Annotated[int | None, Query(ge=1, le=5)] = None,
    rule_id: str | None = None,
    host: str | None = None,
    source_ip: str | None = None,
    tag: Annotated[str | None, Query(description="An analyst tag")] = None,
    since: Annotated[str | None, Query(description="Last seen after: `15m`, `2h`, `7d` or ISO 8601")] = None,
    until: Annotated[str | None, Query(description="Last seen before (same forms)")] = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORTS)} (descending)")] = "last_seen",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> Response:
    if min_severity is not None and min_severity not in SEVERITIES:
        raise BadParameter("min_severity", f"{min_severity!r} is not one of {', '.join(SEVERITIES)}")
    if sort not in SORTS:
        raise BadParameter("sort", f"{sort!r} is not one of {', '.join(SORTS)}")
    if incident_type is not None and incident_type not in INCIDENT_TYPES:
        raise BadParameter("incident_type", f"{incident_type!r} is not one of {', '.join(INCIDENT_TYPES)}")
    for name in (status_ or "").split(","):
        if name.strip() and name.strip() not in STATUSES:
            raise BadParameter("status", f"{name.strip()!r} is not one of {', '.join(STATUSES)}")
    if not principal.can_see_agency(None):  # scoped to one agency: its queue only
        if principal.agency_id is None or (agency_id and agency_id != principal.agency_id):
            return _json({"alerts": [], "cursor": None})
        agency_id = principal.agency_id
    flt = AlertFilter(
        status=status_ or None,
        min_severity=min_severity,
        min_risk=min_risk,
        agency_id=agency_id or None,
        assignee=assignee or None,
        incident_type=incident_type,
        system=system or None,
        min_security_level=min_security_level,
        rule_id=rule_id or None,
        host=host or None,
        source_ip=source_ip or None,
        analyst_tag=tag or None,
        since=parse_time_param("since", since),
        until=parse_time_param("until", until),
    )
    try:
        alerts, next_cursor = ctx.alerts.list(flt, limit=limit, after=cursor or None, sort=sort)
    except ValueError as exc:
        raise BadParameter("cursor", str(exc)) from None
    return _json({"alerts": [a.to_dict() for a in alerts], "cursor": next_cursor})


def _json(body: dict[str, Any]) -> Response:
    """A JSON response serialised once by orjson (the queue is the hot read path)."""
    return Response(orjson.dumps(body, default=str), media_type="application/json")


@router.get("/incident-types", summary="The national incident types (keys and labels)")
def incident_types(principal: Reader) -> dict[str, Any]:
    return {"incident_types": [{"key": k, "vi": vi, "en": en} for k, (vi, en) in INCIDENT_TYPES.items()]}


@router.post("/alerts/bulk", summary="One action on many alerts; results per id")
def bulk(ctx: Ctx, principal: Triager, body: BulkIn, request: Request) -> dict[str, Any]:
    results = _run(
        lambda: TriageService(ctx.alerts).bulk(
            actor_of(principal, request),
            body.ids,
            body.action,
            body.params,
            visible=lambda alert: principal.can_see_agency(alert.agency_id),
        )
    )
    failed = sum(1 for r in results if not r.ok)
    return {"results": [r.to_dict() for r in results], "ok": len(results) - failed, "failed": failed}


@router.post("/alerts/{alert_id}/status", summary="Change the status", responses=CHANGE)
def set_status(
    ctx: Ctx, principal: Triager, alert_id: str, body: StatusIn, request: Request
) -> dict[str, Any]:
    visible_alert(ctx, principal, alert_id)
    service = TriageService(ctx.alerts)
    alert = _run(
        lambda: service.set_status(
            actor_of(principal, request),
            alert_id,
            body.status,
            resolution=body.resolution,
            reason=body.reason,
        )
    )
    return alert.to_dict()


@router.post("/alerts/{alert_id}/assignee", summary="Assign or unassign", responses=CHANGE)
def set_assignee(
    ctx: Ctx, principal: Triager, alert_id: str, body: AssigneeIn, request: Request
) -> dict[str, Any]:
    visible_alert(ctx, principal, alert_id)
    service = TriageService(ctx.alerts)
    return _run(lambda: service.assign(actor_of(principal, request), alert_id, body.assignee)).to_dict()


@router.get("/alerts/{alert_id}/comments", summary="Comments, oldest first", responses=NOT_FOUND)
def list_comments(ctx: Ctx, principal: Reader, alert_id: str) -> dict[str, Any]:
    visible_alert(ctx, principal, alert_id)
    return {"comments": [c.to_dict() for c in TriageService(ctx.alerts).comments(alert_id)]}


@router.post("/alerts/{alert_id}/comments", summary="Add a comment", responses=CHANGE)
def add_comment(
    ctx: Ctx, principal: Triager, alert_id: str, body: CommentIn, request: Request
) -> dict[str, Any]:
    visible_alert(ctx, principal, alert_id)
    service = TriageService(ctx.alerts)
    return _run(lambda: service.comment(actor_of(principal, request), alert_id, body.body)).to_dict()


@router.post("/alerts/{alert_id}/tags", summary="Add and remove analyst tags", responses=CHANGE)
def set_tags(ctx: Ctx, principal: Triager, alert_id: str, body: TagsIn, request: Request) -> dict[str, Any]:
    visible_alert(ctx, principal, alert_id)
    service = TriageService(ctx.alerts)
    actor = actor_of(principal, request)
    return _run(lambda: service.set_tags(actor, alert_id, add=body.add, remove=body.remove)).to_dict()


@router.post("/alerts/{alert_id}/incident-type", summary="Override the incident type", responses=CHANGE)
def set_incident_type(
    ctx: Ctx, principal: Triager, alert_id: str, body: IncidentTypeIn, request: Request
) -> dict[str, Any]:
    visible_alert(ctx, principal, alert_id)
    service = TriageService(ctx.alerts)
    actor = actor_of(principal, request)
    return _run(lambda: service.set_incident_type(actor, alert_id, body.incident_type)).to_dict()
