"""``/api/v1/assets``: the asset inventory, information systems and unknown assets.

Every alert reader may list assets and systems (an agency officer: their agency's
only); the unknown assets (not tied to any agency) are for the SOC roles and the
auditor.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from soc.access import READ_ALERT_ROLES, ROLE_ADMIN, ROLE_AUDITOR, ROLE_RESPONDER, ROLE_SOC_ANALYST, Principal
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.assets import AssetStore, Inventory

router = APIRouter(
    prefix="/api/v1/assets",
    tags=["assets"],
    responses=error_responses(401, 403),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require_roles(*READ_ALERT_ROLES))]
SocReader = Annotated[
    Principal, Depends(require_roles(ROLE_ADMIN, ROLE_SOC_ANALYST, ROLE_RESPONDER, ROLE_AUDITOR))
]


def _inventory(ctx: ApiContext) -> Inventory:
    if isinstance(ctx.inventory, Inventory):
        return ctx.inventory
    inventory = Inventory()
    inventory.extend(AssetStore(ctx.alerts.state).assets())
    return inventory


@router.get("", summary="Assets, by agency")
def list_assets(
    ctx: Ctx,
    principal: Reader,
    agency_id: str | None = None,
    kind: Annotated[str | None, Query(description="host, ip, domain or url")] = None,
) -> dict[str, Any]:
    assets = [
        a
        for a in _inventory(ctx).assets
        if principal.can_see_agency(a.agency_id)
        and (agency_id is None or a.agency_id == agency_id)
        and (kind is None or a.kind == kind)
    ]
    return {"assets": [a.to_dict() for a in assets]}


@router.get("/systems", summary="Information systems with their security level (max of their parts)")
def list_systems(ctx: Ctx, principal: Reader) -> dict[str, Any]:
    systems = [s for s in _inventory(ctx).systems() if principal.can_see_agency(s["agency_id"])]
    return {"systems": systems}


@router.get("/unknown", summary="Hosts and addresses seen in events that match no asset")
def list_unknown(
    ctx: Ctx, principal: SocReader, limit: Annotated[int, Query(ge=1, le=10_000)] = 100
) -> dict[str, Any]:
    return {"unknown": [u.to_dict() for u in AssetStore(ctx.alerts.state).unknown(limit=limit)]}
