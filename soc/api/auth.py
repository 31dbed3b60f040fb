"""Bearer-token authentication and role checks as FastAPI dependencies.

Routes depend on :func:`require_principal` (any authenticated principal) or on
:func:`require_roles` (one of the named roles, 403 otherwise). Authentication
decides who the :class:`~soc.access.Principal` is; the routes only declare roles.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from soc.access import ALL_ROLES, Principal
from soc.api.context import ApiContext

bearer_scheme = HTTPBearer(
    auto_error=False, description="The engine's API token: `Authorization: Bearer <token>`."
)


def get_context(request: Request) -> ApiContext:
    """The :class:`ApiContext` of the app serving ``request``."""
    return request.app.state.ctx


def check_token(ctx: ApiContext, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """Compare the presented bearer token with the configured one in constant time."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), ctx.token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="invalid bearer token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Principal(name="engine-token")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
"""The bearer credentials of a request, if any (``None`` when absent)."""


def require_principal(request: Request, credentials: Credentials) -> Principal:
    """Dependency of every ``/api`` route: the authenticated principal, or 401."""
    return check_token(get_context(request), credentials)


def require_roles(*roles: str) -> Callable[..., Principal]:
    """A dependency admitting principals with one of ``roles`` (403 for the others)."""
    unknown = set(roles) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ALL_ROLES)}")

    def dependency(request: Request, credentials: Credentials) -> Principal:
        principal = require_principal(request, credentials)
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"role {principal.role!r} may not do this; allowed: {', '.join(roles)}",
            )
        return principal

    dependency.allowed_roles = roles  # type: ignore[attr-defined]  # read by the role x route test
    return dependency
