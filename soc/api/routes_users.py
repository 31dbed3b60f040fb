"""``/api/v1/users``: user accounts (admin only). Users are disabled, never deleted,
so the audit log's names keep meaning something."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from soc.access import ADMIN_ROLES, Principal
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.api.models_access import UserIn, UserOut, UserPatch, UsersOut
from soc.api.routes_auth import access_of

router = APIRouter(
    prefix="/api/v1/users",
    tags=["users"],
    responses=error_responses(400, 401, 403, 404, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Admin = Annotated[Principal, Depends(require_roles(*ADMIN_ROLES))]


@router.get("", response_model=UsersOut, summary="Users, by username")
def list_users(
    ctx: Ctx,
    principal: Admin,
    role: str | None = None,
    include_disabled: Annotated[bool, Query()] = True,
) -> dict[str, Any]:
    users = access_of(ctx).users.list(role=role or None, include_disabled=include_disabled)
    return {"users": [u.to_dict() for u in users]}


@router.post(
    "", response_model=UserOut, status_code=201, summary="Add a user", responses=error_responses(409)
)
def add_user(ctx: Ctx, principal: Admin, body: UserIn) -> dict[str, Any]:
    user = access_of(ctx).users.add(
        body.username,
        body.role,
        principal,
        password=body.password,
        display_name=body.display_name,
        agency_id=body.agency_id,
        organization=body.organization,
        soc_lead=body.soc_lead,
    )
    return user.to_dict()


@router.get("/{username}", response_model=UserOut, summary="One user")
def get_user(ctx: Ctx, principal: Admin, username: str) -> dict[str, Any]:
    return access_of(ctx).users.require(username).to_dict()


@router.patch(
    "/{username}", response_model=UserOut, summary="Change a user (role, agency, disabled, password)"
)
def update_user(ctx: Ctx, principal: Admin, username: str, body: UserPatch) -> dict[str, Any]:
    users = access_of(ctx).users
    changes = body.model_dump(exclude_unset=True, exclude={"password"})
    user = users.update(username, changes, principal) if changes else users.require(username)
    if body.password is not None:
        user = users.set_password(username, body.password, principal)
    return user.to_dict()


@router.delete("/{username}", response_model=UserOut, summary="Disable a user (users are never deleted)")
def disable_user(ctx: Ctx, principal: Admin, username: str) -> dict[str, Any]:
    return access_of(ctx).users.disable(username, principal).to_dict()
