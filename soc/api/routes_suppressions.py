"""``/api/v1/suppressions``: analysts' silences of matches (scope, reason, expiry).

Listing is open to the SOC roles and the auditor; creating and removing to the admin
and SOC analysts (a suppression silences every agency's matching alerts). Both are
audited. See :mod:`soc.alerts.suppressions` for the scope's syntax.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from soc.access import ROLE_ADMIN, ROLE_AUDITOR, ROLE_RESPONDER, ROLE_SOC_ANALYST, Principal
from soc.alerts.suppressions import SuppressionError, SuppressionStore, parse_expiry
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.api.routes_triage import actor_of

router = APIRouter(
    prefix="/api/v1/suppressions",
    tags=["suppressions"],
    responses=error_responses(400, 401, 403),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[
    Principal, Depends(require_roles(ROLE_ADMIN, ROLE_SOC_ANALYST, ROLE_RESPONDER, ROLE_AUDITOR))
]
Editor = Annotated[Principal, Depends(require_roles(ROLE_ADMIN, ROLE_SOC_ANALYST))]


class SuppressionIn(BaseModel):
    rule_id: str | None = Field(None, description="Only matches of this rule")
    conditions: dict[str, str] = Field(
        default_factory=dict,
        description="field -> value (exact, glob or CIDR): agency, host, user, ip, domain or an ECS field",
    )
    reason: str = Field(description="Why these matches are silenced")
    expires: str | None = Field(None, description="`8h`, `7d` from now, or an ISO 8601 time; none: never")


def _store(ctx: ApiContext) -> SuppressionStore:
    return SuppressionStore(ctx.alerts.state)


@router.get("", summary="Suppressions, newest first, with their hit counts")
def list_suppressions(ctx: Ctx, principal: Reader, include_inactive: bool = False) -> dict[str, Any]:
    found = _store(ctx).list(include_inactive=include_inactive)
    return {"suppressions": [s.to_dict() for s in found]}


@router.post("", summary="Create a suppression")
def create_suppression(ctx: Ctx, principal: Editor, body: SuppressionIn, request: Request) -> dict[str, Any]:
    try:
        expires = parse_expiry(body.expires) if body.expires else None
        created = _store(ctx).create(
            actor_of(principal, request),
            reason=body.reason,
            rule_id=body.rule_id,
            conditions=body.conditions,
            expires=expires,
        )
    except SuppressionError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    return created.to_dict()


@router.delete("/{suppression_id}", summary="Remove a suppression", responses=error_responses(404))
def remove_suppression(ctx: Ctx, principal: Editor, suppression_id: str, request: Request) -> dict[str, Any]:
    removed = _store(ctx).remove(actor_of(principal, request), suppression_id)
    if removed is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no active suppression {suppression_id!r}")
    return removed.to_dict()
