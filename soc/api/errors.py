"""Error responses: always JSON ``{"detail": "..."}`` naming what was wrong."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from soc.access import AccessError, Conflict, InvalidCredentials, InvalidRequest, LockedOut, NotFound
from soc.query import QuerySyntaxError
from soc.store.base import StoreError

log = logging.getLogger(__name__)


def _validation_detail(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body", "header")]
        parts.append(f"{'.'.join(loc) or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


async def _on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(
        {"detail": _validation_detail(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT
    )


async def _on_query_syntax(_: Request, exc: QuerySyntaxError) -> JSONResponse:
    return JSONResponse(
        {"detail": f"q: {exc.message} (term {exc.term!r} at position {exc.position})"},
        status_code=status.HTTP_400_BAD_REQUEST,
    )


async def _on_store_error(request: Request, exc: StoreError) -> JSONResponse:
    log.warning("store error on %s: %s", request.url.path, exc)
    return JSONResponse(
        {"detail": f"store unavailable: {exc}"}, status_code=status.HTTP_503_SERVICE_UNAVAILABLE
    )


_ACCESS_STATUS: tuple[tuple[type[AccessError], int], ...] = (
    (InvalidRequest, status.HTTP_400_BAD_REQUEST),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (InvalidCredentials, status.HTTP_401_UNAUTHORIZED),
    (LockedOut, status.HTTP_429_TOO_MANY_REQUESTS),
)


async def _on_access_error(_: Request, exc: AccessError) -> JSONResponse:
    code = next((c for kind, c in _ACCESS_STATUS if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, LockedOut) else None
    return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)


def install(app: FastAPI) -> None:
    """Register the error handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(QuerySyntaxError, _on_query_syntax)  # type: ignore[arg-type]
    app.add_exception_handler(StoreError, _on_store_error)  # type: ignore[arg-type]
    app.add_exception_handler(AccessError, _on_access_error)  # type: ignore[arg-type]
