"""``/healthz`` (open) and ``/metrics`` (open unless ``metrics_public`` is off)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from soc.api.auth import Credentials, check_token, get_context
from soc.api.context import VERSION, ApiContext
from soc.api.models import Health
from soc.event import format_ts, utcnow

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])
Ctx = Annotated[ApiContext, Depends(get_context)]


@router.get("/healthz", response_model=Health, summary="Liveness and engine facts (no auth)")
def healthz(ctx: Ctx) -> dict[str, Any]:
    try:
        facts = dict(ctx.health())
    except Exception as exc:  # a failing health hook is itself a health fact
        log.warning("health hook failed: %s", exc)
        facts = {"status": "degraded", "health_error": str(exc)}
    state = facts.pop("status", "ok")
    return {
        "status": state if state in ("ok", "degraded") else "degraded",
        "version": VERSION,
        "time": format_ts(utcnow()),
        **facts,
    }


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"}},
)
def metrics(request: Request, ctx: Ctx, credentials: Credentials) -> Response:
    if not ctx.metrics_public:
        check_token(ctx, credentials)
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)
