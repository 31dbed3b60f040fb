"""``/api/v1/forwarding`` and ``/api/v1/notifications``: national reports (L4) waiting
for a SOC lead's approval, and the notification queue (L1/L2).

Approving or rejecting needs role ``admin`` or ``soc_analyst`` (and, once users carry
it, the SOC-lead flag); each decision is an audit-log entry written in the same
transaction as the outbox change.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field

from soc.access import ROLE_ADMIN, ROLE_AUDITOR, ROLE_RESPONDER, ROLE_SOC_ANALYST, Principal
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.forwarding.outbox import STATUSES, Outbox
from soc.notify.queue import STATUSES as NOTIFICATION_STATUSES
from soc.notify.queue import NotificationQueue
from soc.routing.national import decide

APPROVER_ROLES = (ROLE_ADMIN, ROLE_SOC_ANALYST)
READER_ROLES = (ROLE_ADMIN, ROLE_SOC_ANALYST, ROLE_RESPONDER, ROLE_AUDITOR)

router = APIRouter(
    tags=["forwarding"],
    responses=error_responses(401, 403, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require_roles(*READER_ROLES))]
Approver = Annotated[Principal, Depends(require_roles(*APPROVER_ROLES))]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1, description="Outbox record id")]


class DecisionIn(BaseModel):
    note: str = Field("", max_length=2000, description="Why (kept in the audit log)")


def _state(ctx: ApiContext) -> Any:
    if ctx.state is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no state store in this server")
    return ctx.state


@router.get("/api/v1/forwarding", summary="Forwarding records (national reports), newest first")
def list_forwarding(
    ctx: Ctx,
    principal: Reader,
    status_: Annotated[str | None, Query(alias="status", description=", ".join(STATUSES))] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if status_ is not None and status_ not in STATUSES:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail=f"status must be one of {', '.join(STATUSES)}"
        )
    records = Outbox(_state(ctx)).list(status_, limit)  # type: ignore[arg-type]
    return {"records": [r.to_dict() for r in records]}


def _decide(
    ctx: ApiContext, principal: Principal, record_id: int, approve: bool, note: str
) -> dict[str, Any]:
    # users may carry a SOC-lead flag (the access layer): an analyst without it cannot decide
    if principal.role != ROLE_ADMIN and getattr(principal, "soc_lead", True) is False:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only a SOC lead may approve national reports")
    try:
        decision = decide(
            _state(ctx),
            record_id,
            approve=approve,
            actor=principal.name,
            role=principal.role,
            source=principal.source,
            note=note,
        )
    except KeyError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc.args[0])) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    return {"record": decision.record.to_dict(), "action": decision.action}


@router.post("/api/v1/forwarding/{record_id}/approve", summary="Approve a report waiting for a SOC lead")
def approve(
    ctx: Ctx, principal: Approver, record_id: RecordId, body: Annotated[DecisionIn | None, Body()] = None
) -> dict[str, Any]:
    return _decide(ctx, principal, record_id, True, body.note if body else "")


@router.post("/api/v1/forwarding/{record_id}/reject", summary="Reject a report waiting for a SOC lead")
def reject(
    ctx: Ctx, principal: Approver, record_id: RecordId, body: Annotated[DecisionIn | None, Body()] = None
) -> dict[str, Any]:
    return _decide(ctx, principal, record_id, False, body.note if body else "")


@router.get("/api/v1/notifications", summary="The notification queue, newest first")
def list_notifications(
    ctx: Ctx,
    principal: Reader,
    status_: Annotated[
        str | None, Query(alias="status", description=", ".join(NOTIFICATION_STATUSES))
    ] = None,
    alert_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    if status_ is not None and status_ not in NOTIFICATION_STATUSES:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, detail=f"status must be one of {', '.join(NOTIFICATION_STATUSES)}"
        )
    items = NotificationQueue(_state(ctx)).list(status_, limit, alert_id=alert_id)  # type: ignore[arg-type]
    return {"notifications": [n.to_dict() for n in items]}
