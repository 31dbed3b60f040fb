"""``POST /api/v1/ingest/raw``: hand raw lines to a running engine.

This is how ``soc ingest FILE`` feeds a running engine: the client sends the file in
pieces with the same ``source`` (``file:/path``) and byte ``offset`` a direct file
read would use, so every record gets the same position, hence the same event id,
and a re-sent piece is stored once.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from starlette.concurrency import run_in_threadpool

from soc.access import INGEST_ROLES
from soc.api.auth import get_context, require_roles
from soc.api.context import ApiContext
from soc.api.models import IngestResult, error_responses
from soc.api.params import BadParameter
from soc.event import RawRecord

router = APIRouter(
    prefix="/api/v1/ingest",
    tags=["ingest"],
    dependencies=[Depends(require_roles(*INGEST_ROLES))],
    responses=error_responses(400, 401, 403, 413, 503),
)

Ctx = Annotated[ApiContext, Depends(get_context)]


def split_lines(body: bytes, source: str, offset: int, meta: dict[str, Any]) -> Iterator[RawRecord]:
    """One record per non-empty line of ``body`` (``\\n`` or ``\\r\\n`` separated; a
    last line without a newline counts too). ``position`` is ``offset`` plus the
    byte offset of the line start."""
    start = 0
    size = len(body)
    while start < size:
        end = body.find(b"\n", start)
        stop = size if end < 0 else end
        line = body[start:stop]
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            yield RawRecord(raw=line, source=source, position=offset + start, meta=dict(meta))
        start = stop + 1


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(
            413,
            detail=f"body: {declared} bytes exceeds the {limit}-byte limit",
        )
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HTTPException(413, detail=f"body: exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/raw",
    response_model=IngestResult,
    summary="Ingest raw log lines",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def ingest_raw(
    request: Request,
    ctx: Ctx,
    source: Annotated[str, Query(min_length=1, description="Stream name, e.g. `file:/var/log/auth.log`")],
    offset: Annotated[int, Query(ge=0, description="Byte offset of the body's first byte in the source")] = 0,
    format: Annotated[str | None, Query(description="Parser name to force")] = None,
    timezone: Annotated[str | None, Query(description="Zone of timestamps that carry none")] = None,
) -> dict[str, int]:
    if ctx.ingest is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="ingest: no engine is running")
    body = await _read_body(request, ctx.max_ingest_bytes)
    meta: dict[str, Any] = {"input": "api"}
    if source.startswith("file:"):
        meta["path"] = source[len("file:") :]
    if format:
        meta["format"] = format
    if timezone:
        meta["timezone"] = timezone
    accepted = 0
    chunk: list[RawRecord] = []
    for record in split_lines(body, source, offset, meta):
        chunk.append(record)
        if len(chunk) >= ctx.ingest_chunk_records:
            await run_in_threadpool(ctx.ingest, chunk)
            accepted += len(chunk)
            chunk = []
    if chunk:
        await run_in_threadpool(ctx.ingest, chunk)
        accepted += len(chunk)
    return {"accepted": accepted, "next_offset": offset + len(body)}


RECORD_META_KEYS = frozenset(
    {"input", "path", "format", "timezone", "zeek_log", "zeek_fields", "zeek_types", "zeek_separators"}
)


def decode_records(body: bytes) -> list[RawRecord]:
    """Records from NDJSON lines ``{"source", "position", "raw" | "raw_b64", "meta"}``;
    ``BadParameter`` names the line and the field that is wrong."""
    records = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise BadParameter("body", f"line {number}: not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise BadParameter("body", f"line {number}: expected a JSON object")
        source, position = doc.get("source"), doc.get("position")
        if not isinstance(source, str) or not source:
            raise BadParameter("body", f"line {number}: field 'source' must be a non-empty string")
        if not isinstance(position, int) or position < 0:
            raise BadParameter("body", f"line {number}: field 'position' must be an integer >= 0")
        if isinstance(doc.get("raw_b64"), str):
            try:
                raw = base64.b64decode(doc["raw_b64"], validate=True)
            except ValueError:
                raise BadParameter("body", f"line {number}: field 'raw_b64' is not base64") from None
        elif isinstance(doc.get("raw"), str):
            raw = doc["raw"].encode("utf-8")
        else:
            raise BadParameter("body", f"line {number}: field 'raw' (text) or 'raw_b64' is required")
        meta = doc.get("meta") or {}
        if not isinstance(meta, dict) or not set(meta) <= RECORD_META_KEYS:
            unknown = sorted(set(meta) - RECORD_META_KEYS) if isinstance(meta, dict) else meta
            raise BadParameter("body", f"line {number}: field 'meta' has unknown keys {unknown}")
        records.append(RawRecord(raw=raw, source=source, position=position, meta=meta))
    return records


@router.post(
    "/records",
    summary="Ingest raw records (NDJSON), e.g. EVTX or Zeek TSV records read by `soc ingest`",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def ingest_records(request: Request, ctx: Ctx) -> dict[str, int]:
    if ctx.ingest is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="ingest: no engine is running")
    records = decode_records(await _read_body(request, ctx.max_ingest_bytes))
    for start in range(0, len(records), ctx.ingest_chunk_records):
        await run_in_threadpool(ctx.ingest, records[start : start + ctx.ingest_chunk_records])
    return {"accepted": len(records)}
