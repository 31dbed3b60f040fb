"""``/api/v1/auth``: log in (a session cookie and its CSRF token), log out, who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status

from soc.access import ALL_ROLES, AccessControl, Principal
from soc.api.auth import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    client_address,
    get_context,
    public,
    require_roles,
)
from soc.api.context import ApiContext
from soc.api.models import ErrorOut, error_responses
from soc.api.models_access import LoginIn, LoginOut, MeOut

router = APIRouter(
    prefix="/api/v1/auth",
    tags=["auth"],
    responses=error_responses(401, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Anyone = Annotated[Principal, Depends(require_roles(*ALL_ROLES))]


def access_of(ctx: ApiContext) -> AccessControl:
    """The context's :class:`AccessControl`, or 503 when this server has none."""
    if ctx.access is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no user store in this server")
    return ctx.access


def _set_cookies(response: Response, request: Request, session_id: str, csrf: str, max_age: int) -> None:
    secure = request.url.scheme == "https"
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=max_age, path="/", secure=secure, httponly=True, samesite="strict"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=max_age, path="/", secure=secure, httponly=False, samesite="strict"
    )


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in with username and password: a session cookie and its CSRF token",
    dependencies=[Depends(public)],
    responses={429: {"model": ErrorOut, "description": "Locked out after too many failures"}},
)
def login(body: LoginIn, request: Request, response: Response, ctx: Ctx) -> dict[str, Any]:
    access = access_of(ctx)
    user, new = access.login(body.username, body.password, client_address(request))
    max_age = int(access.sessions.absolute.total_seconds())
    _set_cookies(response, request, new.session_id, new.csrf_token, max_age)
    response.headers["Cache-Control"] = "no-store"
    return {"user": user.to_dict(), "csrf_token": new.csrf_token, "expires": new.expires.isoformat()}


@router.post("/logout", summary="End the session of the cookie (a bearer token stays valid)")
def logout(request: Request, response: Response, ctx: Ctx, principal: Anyone) -> dict[str, bool]:
    session_id = request.cookies.get(SESSION_COOKIE)
    ended = False
    if session_id and ctx.access is not None and "authorization" not in request.headers:
        ended = ctx.access.logout(session_id, principal)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"ended": ended}


@router.get("/me", response_model=MeOut, summary="Who the caller is: name, role, agency")
def me(ctx: Ctx, principal: Anyone) -> dict[str, Any]:
    user = ctx.access.users.get(principal.name) if ctx.access is not None else None
    return {
        "name": principal.name,
        "role": principal.role,
        "agency_id": principal.agency_id,
        "source": principal.source,
        "soc_lead": principal.soc_lead,
        "user": user.to_dict() if user is not None else None,
    }
