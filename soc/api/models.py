"""Response models of the API (they document ``/openapi.json``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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


class AlertOut(BaseModel, extra="allow"):
    id: str
    rule_id: str
    rule_title: str
    rule_type: str
    severity: str
    status: str
    group_key: str
    first_seen: str
    last_seen: str
    count: int
    created: str
    updated: str
    rule_author: str = ""
    rule_version: str = ""
    rule_description: str = ""
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    agency_id: str | None = None
    agency_name: str | None = None
    tags: list[str] = []
    references: list[str] = []
    evidence: list[str] = []
    excerpts: list[str] = []
    details: dict[str, Any] = {}


class AlertsPage(BaseModel):
    alerts: list[AlertOut]
    cursor: str | None


class AlertDetail(AlertOut):
    events: list[dict[str, Any]] = Field(description="The evidence events still in the store")


class IngestResult(BaseModel):
    accepted: int = Field(description="Records handed to the engine (empty lines are skipped)")
    next_offset: int = Field(description="`offset` + body length: the offset of the next request")


class ErrorOut(BaseModel):
    detail: str
