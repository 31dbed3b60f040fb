"""Bearer-token authentication as a FastAPI dependency.

Routes depend on :func:`require_principal`; a later user/role system replaces its
body (and :class:`Principal`) without touching the routes.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from soc.api.context import ApiContext

bearer_scheme = HTTPBearer(
    auto_error=False, description="The engine's API token: `Authorization: Bearer <token>`."
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made the request. With a single shared token there is one principal."""

    name: str
    roles: tuple[str, ...] = ("admin",)


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
    return Principal(name="token")


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
"""The bearer credentials of a request, if any (``None`` when absent)."""


def require_principal(request: Request, credentials: Credentials) -> Principal:
    """Dependency of every ``/api`` route: the authenticated principal, or 401."""
    return check_token(get_context(request), credentials)
