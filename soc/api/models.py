"""Response models of the API (they document ``/openapi.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from soc.alerts.model import Alert


class Health(BaseModel, extra="allow"):
    status: str = Field(description='"ok" or "degraded"')
    version: str
    time: str = Field(description="Server time, ISO 8601 UTC")


class EventsPage(BaseModel):
    events: list[dict[str, Any]] = Field(description="ECS events as stored (nested objects)")
    cursor: str | None = Field(description="Pass back as `cursor` for the next page; null on the last page")
    total: int = Field(description="How many events match the query")


class CountResult(BaseModel):
    count: int


class TermBucket(BaseModel):
    key: Any
    count: int


class TermsResult(BaseModel):
    field: str
    buckets: list[TermBucket]


class HistogramBucket(BaseModel):
    key: str = Field(description="Bucket start, ISO 8601 UTC")
    count: int


class HistogramResult(BaseModel):
    interval_seconds: int
    buckets: list[HistogramBucket]


class DistinctResult(BaseModel):
    field: str
    count: int


class AlertsPage(BaseModel):
    alerts: list[Alert]
    cursor: str | None


@dataclass
class AlertDetail(Alert):
    """An alert and its evidence events still in the store."""

    events: list[dict[str, Any]] = field(default_factory=list)


class IngestResult(BaseModel):
    accepted: int = Field(description="Records handed to the engine (empty lines are skipped)")
    next_offset: int = Field(description="`offset` + body length: the offset of the next request")


class ErrorOut(BaseModel):
    detail: str


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """A router's ``responses``: each status answers an :class:`ErrorOut`."""
    return {code: {"model": ErrorOut} for code in statuses}
