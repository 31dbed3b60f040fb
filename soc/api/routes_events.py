"""``/api/v1/events``: search, count, aggregations and one event by id."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from soc.access import READ_ALERT_ROLES, Principal
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import (
    CountResult,
    DistinctResult,
    EventsPage,
    HistogramResult,
    TermsResult,
    error_responses,
)
from soc.api.params import BadParameter, build_query, parse_interval
from soc.api.scope import scoped_query, visible_events
from soc.event import format_ts
from soc.store.base import Sort
from soc.store.fields import SORTABLE

router = APIRouter(
    prefix="/api/v1/events",
    tags=["events"],
    responses=error_responses(400, 401, 403),
)

Ctx = Annotated[ApiContext, Depends(get_context)]
Reader = Annotated[Principal, Depends(require_roles(*READ_ALERT_ROLES))]
Q = Annotated[str | None, Query(description="Search query, e.g. `event.outcome:failure source.ip:10.0.*`")]
Since = Annotated[str | None, Query(description="Start (inclusive): `15m`, `2h`, `7d`, `1w` ago or ISO 8601")]
Until = Annotated[str | None, Query(description="End (exclusive): same forms as `since`")]
FieldName = Annotated[str, Query(min_length=1, description="ECS field, e.g. `source.ip`")]


def _store_value_error(exc: ValueError, *candidates: str) -> BadParameter:
    """A store refusing a request (``ValueError``) as a 400 naming the likely parameter."""
    message = str(exc)
    for name in candidates:
        if name in message:
            return BadParameter(name, message)
    return BadParameter("q", message)


def _json(content: Any) -> Response:
    return Response(orjson.dumps(content, default=str), media_type="application/json")


@router.get("", response_model=EventsPage, summary="Search events")
def search_events(
    ctx: Ctx,
    principal: Reader,
    q: Q = None,
    since: Since = None,
    until: Until = None,
    size: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(description="`cursor` of the previous page")] = None,
    sort: Annotated[str, Query(description=f"Sort field, one of {', '.join(SORTABLE)}")] = "@timestamp",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> Response:
    if sort not in SORTABLE:
        raise BadParameter("sort", f"cannot sort on {sort!r}; sortable fields: {', '.join(SORTABLE)}")
    query = scoped_query(build_query(q, since, until), principal)
    try:
        page = ctx.store.search(
            query, size=size, sort=Sort(sort, descending=order == "desc"), after=cursor or None
        )
        total = page.total if page.total is not None else ctx.store.count(query)
    except ValueError as exc:
        raise _store_value_error(exc, "cursor", "sort") from None
    return _json({"events": page.events, "cursor": page.cursor, "total": total})


@router.get("/count", response_model=CountResult, summary="Count matching events")
def count_events(
    ctx: Ctx, principal: Reader, q: Q = None, since: Since = None, until: Until = None
) -> dict[str, int]:
    query = scoped_query(build_query(q, since, until), principal)
    try:
        return {"count": ctx.store.count(query)}
    except ValueError as exc:
        raise _store_value_error(exc) from None


@router.get("/terms", response_model=TermsResult, summary="Top values of a field")
def terms(
    ctx: Ctx,
    principal: Reader,
    field: FieldName,
    q: Q = None,
    since: Since = None,
    until: Until = None,
    size: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> dict[str, Any]:
    query = scoped_query(build_query(q, since, until), principal)
    try:
        buckets = ctx.store.count_by(query, field, size=size)
    except ValueError as exc:
        raise _store_value_error(exc, "field") from None
    return {"field": field, "buckets": [{"key": b.key, "count": b.count} for b in buckets]}


@router.get("/histogram", response_model=HistogramResult, summary="Event counts per time bucket")
def histogram(
    ctx: Ctx,
    principal: Reader,
    interval: Annotated[str, Query(description="Bucket width: seconds, or `1m`, `5m`, `1h`, `1d`")] = "1h",
    q: Q = None,
    since: Since = None,
    until: Until = None,
) -> dict[str, Any]:
    seconds = parse_interval(interval)
    query = scoped_query(build_query(q, since, until), principal)
    try:
        buckets = ctx.store.histogram(query, seconds)
    except ValueError as exc:
        raise _store_value_error(exc, "interval") from None
    return {
        "interval_seconds": seconds,
        "buckets": [{"key": format_ts(b.key), "count": b.count} for b in buckets],
    }


@router.get("/distinct", response_model=DistinctResult, summary="Number of distinct values of a field")
def distinct(
    ctx: Ctx, principal: Reader, field: FieldName, q: Q = None, since: Since = None, until: Until = None
) -> dict[str, Any]:
    query = scoped_query(build_query(q, since, until), principal)
    try:
        return {"field": field, "count": ctx.store.distinct_count(query, field)}
    except ValueError as exc:
        raise _store_value_error(exc, "field") from None


@router.get(
    "/{event_id}",
    response_model=dict[str, Any],
    summary="One event by its event.id",
    responses=error_responses(404),
)
def get_event(ctx: Ctx, principal: Reader, event_id: str) -> Response:
    events = visible_events(ctx.store.get([event_id]), principal)
    if not events:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"event {event_id!r} not found")
    return _json(events[0])
