"""A small client of the engine's HTTP API (used by the CLI against a running engine).

Every method mirrors one route; failures raise :class:`EngineClientError` carrying
the HTTP status (0 when the engine could not be reached) and the server's detail.
"""

from __future__ import annotations

import base64
from typing import Any, Self
from urllib.parse import quote, urlencode

import orjson
import urllib3

from soc.event import RawRecord


class EngineClientError(Exception):
    """An API call failed: ``status`` is the HTTP status (0: no response), ``detail``
    the server's message."""

    def __init__(self, status: int, detail: str, *, method: str = "", path: str = "") -> None:
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}HTTP {status}: {detail}" if status else f"{where}{detail}")
        self.status = status
        self.detail = detail


class EngineClient:
    """Client of the API at ``base_url`` (``http://127.0.0.1:8080``) with a bearer token."""

    def __init__(self, base_url: str, token: str, timeout: float = 30, *, ca_file: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = urllib3.Timeout(total=timeout)
        pool_kwargs: dict[str, Any] = {"ca_certs": ca_file} if ca_file else {}
        self._http = urllib3.PoolManager(retries=False, **pool_kwargs)

    def __repr__(self) -> str:
        return f"EngineClient({self.base_url!r})"

    def close(self) -> None:
        self._http.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # transport -----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        body: bytes | None = None,
        auth: bool = True,
        content_type: str = "application/octet-stream",
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.base_url + path + (("?" + urlencode(query)) if query else "")
        headers = {"Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            resp = self._http.request(method, url, body=body, headers=headers, timeout=self._timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise EngineClientError(
                0, f"cannot reach engine at {self.base_url}: {exc}", method=method, path=path
            ) from exc
        if resp.status >= 400:
            raise EngineClientError(resp.status, _detail(resp.data), method=method, path=path)
        try:
            return orjson.loads(resp.data)
        except orjson.JSONDecodeError as exc:
            raise EngineClientError(resp.status, f"response is not JSON: {resp.data[:200]!r}") from exc

    # routes ----------------------------------------------------------------------

    def healthz(self) -> dict[str, Any]:
        return self._request("GET", "/healthz", auth=False)

    def search(
        self,
        q: str | None = None,
        since: str | None = None,
        until: str | None = None,
        size: int = 50,
        cursor: str | None = None,
        *,
        sort: str | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        """``{"events": [...], "cursor": str | None, "total": int}``."""
        params = {
            "q": q,
            "since": since,
            "until": until,
            "size": size,
            "cursor": cursor,
            "sort": sort,
            "order": order,
        }
        return self._request("GET", "/api/v1/events", params)

    def count(self, q: str | None = None, since: str | None = None, until: str | None = None) -> int:
        return int(
            self._request("GET", "/api/v1/events/count", {"q": q, "since": since, "until": until})["count"]
        )

    def event(self, event_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/events/{_quote(event_id)}")

    def terms(
        self, field: str, q: str | None = None, since: str | None = None, size: int = 10
    ) -> dict[str, Any]:
        return self._request(
            "GET", "/api/v1/events/terms", {"field": field, "q": q, "since": since, "size": size}
        )

    def alerts(self, **filters: Any) -> dict[str, Any]:
        """``{"alerts": [...], "cursor": ...}``; filters: status, min_severity, rule_id,
        host, user, source_ip, agency_id, since, limit, cursor."""
        return self._request("GET", "/api/v1/alerts", filters)

    def alert(self, alert_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/alerts/{_quote(alert_id)}")

    def alert_queue(self, **filters: Any) -> dict[str, Any]:
        """The triage queue (``/api/v1/triage/queue``): the filters of ``alerts`` plus
        assignee, incident_type, min_risk, system, tag, until and sort."""
        return self._request("GET", "/api/v1/triage/queue", filters)

    def alert_comments(self, alert_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v1/alerts/{_quote(alert_id)}/comments")

    def ingest_raw(
        self, source: str, offset: int, body: bytes, format: str | None = None, timezone: str | None = None
    ) -> dict[str, Any]:
        """``{"accepted": n, "next_offset": offset + len(body)}``."""
        params = {"source": source, "offset": offset, "format": format, "timezone": timezone}
        return self._request("POST", "/api/v1/ingest/raw", params, body=body)

    def ingest_records(self, records: list[RawRecord]) -> dict[str, Any]:
        """Send raw records (any bytes, any meta the parsers use); ``{"accepted": n}``."""
        body = b"\n".join(
            orjson.dumps(
                {
                    "source": r.source,
                    "position": r.position,
                    "raw_b64": base64.b64encode(r.raw).decode(),
                    "meta": r.meta,
                }
            )
            for r in records
        )
        return self._request("POST", "/api/v1/ingest/records", None, body=body)

    def hunt(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run rules backwards over stored events (``POST /api/v1/rules/hunt``)."""
        return self._request(
            "POST", "/api/v1/rules/hunt", None, body=orjson.dumps(body), content_type="application/json"
        )

    def dead_letters(self, **filters: Any) -> dict[str, Any]:
        """``{"dead_letters": [...], "total": n}`` (filters: stage, parser, source, limit)."""
        return self._request("GET", "/api/v1/deadletters", filters)

    def replay_dead_letters(self, **filters: Any) -> dict[str, int]:
        """``{"replayed", "resolved", "still_failing"}`` (filters: stage, parser, source, limit)."""
        return self._request("POST", "/api/v1/deadletters/replay", filters)


def _quote(segment: str) -> str:
    return quote(segment, safe="")


def _detail(data: bytes) -> str:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data[:500].decode("utf-8", "replace") or "no detail"
    if isinstance(doc, dict) and "detail" in doc:
        detail = doc["detail"]
        return detail if isinstance(detail, str) else orjson.dumps(detail).decode()
    return orjson.dumps(doc).decode()[:500]
