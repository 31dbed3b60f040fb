"""``/api/v1/tokens``: API tokens. Everyone manages their own; an admin anyone's.
Another user's token answers 404 to a non-admin, so its id cannot be confirmed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status

from soc.access import ALL_ROLES, ROLE_ADMIN, Principal
from soc.api.auth import ENGINE_TOKEN_PRINCIPAL, get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.api.models_access import TokenCreated, TokenIn, TokenOut, TokensOut
from soc.api.routes_auth import access_of

router = APIRouter(
    prefix="/api/v1/tokens",
    tags=["tokens"],
    responses=error_responses(400, 401, 403, 404, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Anyone = Annotated[Principal, Depends(require_roles(*ALL_ROLES))]


def _owner_scope(principal: Principal, owner: str | None) -> str | None:
    """Whose tokens the caller acts on: an admin any user's (``None``: all), the others
    only their own."""
    if principal.role == ROLE_ADMIN:
        return owner or None
    if owner not in (None, "", principal.name):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an admin manages other users' tokens")
    return principal.name


@router.get("", response_model=TokensOut, summary="API tokens (yours; an admin: anyone's)")
def list_tokens(
    ctx: Ctx, principal: Anyone, owner: str | None = None, include_revoked: bool = False
) -> dict[str, Any]:
    tokens = access_of(ctx).tokens.list(_owner_scope(principal, owner), include_revoked=include_revoked)
    return {"tokens": [t.to_dict() for t in tokens]}


@router.post("", response_model=TokenCreated, status_code=201, summary="Create an API token (shown once)")
def create_token(ctx: Ctx, principal: Anyone, body: TokenIn) -> dict[str, Any]:
    owner = _owner_scope(principal, body.owner)
    if owner is None or owner == ENGINE_TOKEN_PRINCIPAL:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail="owner: name the user the token is for")
    record, raw = access_of(ctx).tokens.create(
        owner, body.name, principal, role=body.role, expires_days=body.expires_days
    )
    return {"token": raw, "record": record.to_dict()}


@router.delete("/{token_id}", response_model=TokenOut, summary="Revoke an API token")
def revoke_token(ctx: Ctx, principal: Anyone, token_id: str) -> dict[str, Any]:
    owner = None if principal.role == ROLE_ADMIN else principal.name
    return access_of(ctx).tokens.revoke(token_id, principal, owner=owner).to_dict()
