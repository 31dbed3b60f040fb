"""``/api/v1/deadletters``: records no parser could read, and their replay after a fix."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from starlette.concurrency import run_in_threadpool

from soc.access import PIPELINE_ROLES
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import error_responses
from soc.pipeline.deadletter import replay_dead_letters

router = APIRouter(
    prefix="/api/v1/deadletters",
    tags=["dead letters"],
    dependencies=[Depends(require_roles(*PIPELINE_ROLES))],
    responses=error_responses(401, 403, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]


def _store(ctx: ApiContext) -> Any:
    if ctx.dead_letters is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no dead-letter store in this server")
    return ctx.dead_letters


@router.get("", summary="Dead letters, newest first")
def list_dead_letters(
    ctx: Ctx,
    stage: str | None = None,
    parser: str | None = None,
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    store = _store(ctx)
    return {
        "dead_letters": store.list(limit, stage=stage, parser=parser, source=source),
        "total": store.count(),
    }


@router.post("/replay", summary="Send dead letters through the pipeline again")
async def replay(
    ctx: Ctx,
    stage: str | None = "parse",
    parser: str | None = None,
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> dict[str, int]:
    store = _store(ctx)
    if ctx.ingest is None or ctx.wait_drained is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no running pipeline to replay into")
    result = await run_in_threadpool(
        replay_dead_letters,
        store,
        ctx.ingest,
        ctx.wait_drained,
        limit=limit,
        stage=stage,
        parser=parser,
        source=source,
    )
    return {"replayed": result.replayed, "resolved": result.resolved, "still_failing": result.still_failing}
