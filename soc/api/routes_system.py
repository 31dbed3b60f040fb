"""``/healthz`` (open) and ``/metrics`` (open unless ``metrics_public`` is off)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from soc.access import METRICS_ROLES
from soc.api.auth import get_context, public, require_roles
from soc.api.context import VERSION, ApiContext
from soc.api.models import Health
from soc.event import format_ts, utcnow

log = logging.getLogger(__name__)
router = APIRouter(tags=["system"])
Ctx = Annotated[ApiContext, Depends(get_context)]


def _metrics_public(ctx: ApiContext) -> bool:
    return ctx.metrics_public


@router.get(
    "/healthz",
    response_model=Health,
    summary="Liveness and engine facts (no auth)",
    dependencies=[Depends(public)],
)
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
    dependencies=[Depends(require_roles(*METRICS_ROLES, public_if=_metrics_public))],
)
def metrics(ctx: Ctx) -> Response:
    body, content_type = ctx.metrics.render()
    return Response(body, media_type=content_type)
