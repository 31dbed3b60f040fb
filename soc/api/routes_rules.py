"""``/api/v1/rules``: run Sigma rules backwards over stored events (hunting), and the status
of the scheduled rules (``GET /api/v1/rules/status``: ``{"rules": [...]}``, see
``soc.scheduling.status``).

``POST /api/v1/rules/hunt`` takes a JSON body ``{"rules": [file or id, ...], "since":
"7d", "until": null, "limit": 100}`` (any content type, so the CLI's raw-body client
can send it). Rule ids are looked up under the engine's Sigma rule folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from detectors.sigma.query.hunt import hunt_refs, result_dict
from soc.access import HUNT_ROLES
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.api.params import BadParameter
from soc.query import QuerySyntaxError, parse_since

router = APIRouter(
    prefix="/api/v1/rules",
    tags=["rules"],
    dependencies=[Depends(require_roles(*HUNT_ROLES))],
    responses=error_responses(400, 401, 403),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
MAX_LIMIT = 10_000


def sigma_setup(ctx: ApiContext) -> tuple[list[Path], dict[str, Any]]:
    """Rule folders and Sigma config: the context's (``sigma_rule_paths``,
    ``sigma_config``) when the engine sets them, else those of the default config file."""
    paths = getattr(ctx, "sigma_rule_paths", None)
    sigma_config = getattr(ctx, "sigma_config", None)
    if paths is None or sigma_config is None:
        from detectors.sigma.engine import load_config as load_sigma_config
        from soc.config import load_config

        loaded = load_config()
        sigma = loaded.settings.detection.sigma
        if paths is None:
            paths = [loaded.resolve(p) for p in sigma.paths]
        if sigma_config is None:
            sigma_config = load_sigma_config(loaded.resolve(sigma.mappings))
    return [Path(p) for p in paths], dict(sigma_config)


def _when(body: dict[str, Any], key: str) -> Any:
    text = body.get(key)
    if text is None:
        return None
    try:
        return parse_since(str(text))
    except (QuerySyntaxError, ValueError) as exc:
        raise BadParameter(key, f"{text!r}: {exc}") from None


@router.post("/hunt", summary="Run Sigma rules over stored events")
async def hunt_rules(ctx: Ctx, request: Request) -> Response:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadParameter("body", f"body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadParameter("body", "body must be a JSON object")
    refs = body.get("rules")
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r for r in refs):
        raise BadParameter("rules", "must be a non-empty list of rule files or ids")
    limit = body.get("limit", 100)
    if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise BadParameter("limit", f"must be an integer between 1 and {MAX_LIMIT}")
    since, until = _when(body, "since"), _when(body, "until")
    paths, sigma_config = sigma_setup(ctx)
    result = await run_in_threadpool(
        hunt_refs,
        refs,
        ctx.store,
        rule_paths=paths,
        config=sigma_config,
        since=since,
        until=until,
        limit=limit,
    )
    return Response(orjson.dumps(result_dict(result), default=str), media_type="application/json")


@router.get("/status", summary="Scheduled rules: last run, window, duration, hits, alerts, errors, lag")
async def rules_status(ctx: Ctx) -> Response:
    """One object per scheduled rule (see ``soc.scheduling.status``), by rule id."""
    status_of = getattr(ctx, "rule_status", None)
    if status_of is None:
        raise HTTPException(503, "no scheduler in this engine")
    rows = await run_in_threadpool(status_of)
    return Response(orjson.dumps({"rules": rows}, default=str), media_type="application/json")
