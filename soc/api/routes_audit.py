"""``/api/v1/audit``: the hash-chained audit log (auditor, admin): entries with
filters and paging, and a verification of the whole chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from soc.access import AUDIT_ROLES, Principal
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.api.models_access import AuditPage, AuditVerifyOut
from soc.api.params import parse_time_param
from soc.api.routes_auth import access_of

router = APIRouter(
    prefix="/api/v1/audit",
    tags=["audit"],
    responses=error_responses(401, 403, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Auditor = Annotated[Principal, Depends(require_roles(*AUDIT_ROLES))]


@router.get("", response_model=AuditPage, summary="Audit entries, oldest first")
def list_audit(
    ctx: Ctx,
    principal: Auditor,
    target_type: str | None = None,
    target_id: str | None = None,
    actor: str | None = None,
    action: Annotated[str | None, Query(description="`user.add`, or a family: `auth.`")] = None,
    since: Annotated[str | None, Query(description="`15m`, `2h`, `7d` ago or ISO 8601")] = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="`cursor` of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    entries = access_of(ctx).audit.entries(
        target_type=target_type or None,
        target_id=target_id or None,
        actor=actor or None,
        action=action or None,
        since=parse_time_param("since", since),
        after_seq=after,
        limit=limit + 1,
    )
    page = entries[:limit]
    return {
        "entries": [e.to_dict() for e in page],
        "cursor": page[-1].seq if len(entries) > limit else None,
    }


@router.get("/verify", response_model=AuditVerifyOut, summary="Verify the hash chain of the audit log")
async def verify_audit(ctx: Ctx, principal: Auditor) -> dict[str, Any]:
    result = await run_in_threadpool(access_of(ctx).audit.verify)
    return result.to_dict()
