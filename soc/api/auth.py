"""Authentication and role checks as FastAPI dependencies.

Who is calling (:func:`require_principal`):

* ``Authorization: Bearer <token>``: a user's API token (``soc_<id>_<secret>``, the
  token's role, the owner's agency), or the engine's own token (``api.token`` or
  ``SOC_API_TOKEN``), the bootstrap credential of the machine the engine runs on,
  which acts as ``admin`` under the name ``engine-token``.
* the ``soc_session`` cookie of a login (``POST /api/v1/auth/login``); a
  state-changing request (not GET/HEAD/OPTIONS) must also send the session's CSRF
  token in ``X-CSRF-Token``.

Routes declare who may call them with :func:`require_roles` (403 for other roles);
the few open routes depend on :data:`public`. Both leave a mark on the dependency
(``allowed_roles``, ``public``) that the role x route test reads, so a route that
declares neither fails that test.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from soc.access import ALL_ROLES, ROLE_ADMIN, Principal
from soc.api.context import ApiContext

SESSION_COOKIE = "soc_session"
CSRF_COOKIE = "soc_csrf"
CSRF_HEADER = "X-CSRF-Token"
ENGINE_TOKEN_PRINCIPAL = "engine-token"
ENGINE_TOKEN_ROLE = ROLE_ADMIN
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An API token (`soc tokens create`) or the engine's token: `Authorization: Bearer <token>`.",
)
session_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    description=f"The session cookie of `POST /api/v1/auth/login`; unsafe methods also need `{CSRF_HEADER}`.",
)


def get_context(request: Request) -> ApiContext:
    """The :class:`ApiContext` of the app serving ``request``."""
    return request.app.state.ctx


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = f'Bearer error="{error}"' if error else "Bearer"
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": challenge})


def check_token(ctx: ApiContext, credentials: HTTPAuthorizationCredentials) -> Principal:
    """The principal of a bearer token: the engine's token (constant-time compare) or a
    user's API token; 401 otherwise. (:func:`require_principal` adds the client address.)"""
    raw = credentials.credentials
    if hmac.compare_digest(raw.encode(), ctx.token.encode()):
        return Principal(name=ENGINE_TOKEN_PRINCIPAL, role=ENGINE_TOKEN_ROLE)
    if ctx.access is not None:
        principal = ctx.access.principal_from_token(raw, "")
        if principal is not None:
            return principal
    raise _unauthorized("invalid bearer token", "invalid_token")


def check_session(ctx: ApiContext, request: Request, session_id: str, source: str) -> Principal:
    """The principal of a session cookie; unsafe methods need the session's CSRF token."""
    found = ctx.access.principal_from_session(session_id, source) if ctx.access is not None else None
    if found is None:
        raise _unauthorized("session expired or invalid: log in again / phiên đăng nhập đã hết hạn")
    principal, session = found
    if request.method not in SAFE_METHODS and not ctx.access.sessions.check_csrf(  # type: ignore[union-attr]
        session, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"missing or invalid CSRF token: send the {CSRF_HEADER} header of your session / "
            "thiếu mã CSRF",
        )
    return principal


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
"""The bearer credentials of a request, if any (``None`` when absent)."""
SessionCookie = Annotated[str | None, Depends(session_scheme)]


def require_principal(request: Request, credentials: Credentials, session_id: SessionCookie) -> Principal:
    """The authenticated principal (any role), or 401."""
    ctx = get_context(request)
    source = client_address(request)
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise _unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
        return dataclasses.replace(check_token(ctx, credentials), source=source)
    if session_id:
        return check_session(ctx, request, session_id, source)
    raise _unauthorized(
        "missing bearer token or session: send 'Authorization: Bearer <token>' or log in / chưa xác thực"
    )


Authenticated = Annotated[Principal, Depends(require_principal)]


def require_roles(
    *roles: str, public_if: Callable[[ApiContext], bool] | None = None
) -> Callable[..., Principal]:
    """A dependency admitting principals with one of ``roles`` (403 for the others).

    ``public_if(ctx)`` true makes the route open (an anonymous principal with no role):
    ``/metrics`` while ``api.metrics_public`` is on.
    """
    unknown = set(roles) - set(ALL_ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown or no roles {sorted(unknown)}; known: {', '.join(ALL_ROLES)}")

    def dependency(request: Request, credentials: Credentials, session_id: SessionCookie) -> Principal:
        if public_if is not None and public_if(get_context(request)):
            return Principal(name="anonymous", role="", source=client_address(request))
        principal = require_principal(request, credentials, session_id)
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role!r} may not do this; allowed: {', '.join(roles)} / "
                "vai trò không được phép",
            )
        return principal

    dependency.allowed_roles = roles  # type: ignore[attr-defined]  # read by the role x route test
    dependency.public_if = public_if  # type: ignore[attr-defined]
    return dependency


def public() -> None:
    """The dependency of a route open to anyone (``/healthz``, login)."""


public.public = True  # type: ignore[attr-defined]
