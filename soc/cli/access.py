"""How a command reaches events and alerts: through the running engine's API when an
engine owns the data directory (one process owns the DuckDB file), or by opening the
stores directly, read-only, when none runs."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Protocol

from soc.alerts import AlertFilter, AlertRepository
from soc.alerts.triage import TriageService
from soc.cli.common import EXIT_UNAVAILABLE, CommandError
from soc.client import EngineClient, EngineClientError
from soc.event import format_ts
from soc.pipeline.engine import DataDir, api_token, running_engine
from soc.query import parse_query
from soc.state import StateStore
from soc.store import open_store


class Access(Protocol):
    def search(self, q: str, since: datetime | None, until: datetime | None, size: int) -> dict[str, Any]: ...

    def count(self, q: str, since: datetime | None, until: datetime | None) -> int: ...

    def alerts(
        self, *, status: str | None, min_severity: str | None, limit: int, sort: str = ..., **filters: Any
    ) -> list[dict[str, Any]]: ...

    def alert(self, alert_id: str) -> dict[str, Any] | None: ...

    def comments(self, alert_id: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class RemoteAccess:
    """Through the API of the engine that owns the data directory."""

    def __init__(self, client: EngineClient) -> None:
        self.client = client

    def search(self, q: str, since: datetime | None, until: datetime | None, size: int) -> dict[str, Any]:
        return self.client.search(q, since=since, until=until, size=size)

    def count(self, q: str, since: datetime | None, until: datetime | None) -> int:
        return self.client.count(q, since=since, until=until)

    def alerts(
        self,
        *,
        status: str | None,
        min_severity: str | None,
        limit: int,
        sort: str = "last_seen",
        **filters: Any,
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        if sort == "last_seen" and not params:
            return self.client.alerts(status=status, min_severity=min_severity, limit=limit)["alerts"]
        if "analyst_tag" in params:
            params["tag"] = params.pop("analyst_tag")
        for key in ("since", "until"):
            if key in params:
                params[key] = format_ts(params[key])
        return self.client.alert_queue(
            status=status, min_severity=min_severity, limit=limit, sort=sort, **params
        )["alerts"]

    def comments(self, alert_id: str) -> list[dict[str, Any]]:
        return self.client.alert_comments(alert_id)["comments"]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        try:
            return self.client.alert(alert_id)
        except EngineClientError as exc:
            if exc.status == 404:
                return None
            raise

    def close(self) -> None:
        return None


class LocalAccess:
    """The stores of a data directory no engine runs on, opened read-only."""

    def __init__(self, dirs: DataDir, backend: str) -> None:
        self.store = open_store(backend, dirs.root, read_only=True)
        self.state = StateStore(dirs.state)
        self.repo = AlertRepository(self.state)

    def _query(self, q: str, since: datetime | None, until: datetime | None) -> Any:
        return dataclasses.replace(parse_query(q), start=since, end=until)

    def search(self, q: str, since: datetime | None, until: datetime | None, size: int) -> dict[str, Any]:
        page = self.store.search(self._query(q, since, until), size=size)
        return {"events": page.events, "cursor": page.cursor, "total": page.total}

    def count(self, q: str, since: datetime | None, until: datetime | None) -> int:
        return self.store.count(self._query(q, since, until))

    def alerts(
        self,
        *,
        status: str | None,
        min_severity: str | None,
        limit: int,
        sort: str = "last_seen",
        **filters: Any,
    ) -> list[dict[str, Any]]:
        flt = AlertFilter(status=status, min_severity=min_severity, **filters)
        found, _ = self.repo.list(flt, limit=limit, sort=sort)
        return [a.to_dict() for a in found]

    def comments(self, alert_id: str) -> list[dict[str, Any]]:
        return [c.to_dict() for c in TriageService(self.repo).comments(alert_id)]

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        alert = self.repo.get(alert_id)
        if alert is None:
            return None
        return {**alert.to_dict(), "events": self.store.get(alert.evidence)}

    def close(self) -> None:
        self.store.close()
        self.state.close()


def open_access(dirs: DataDir, backend: str) -> Access:
    engine = running_engine(dirs)
    if engine is not None:
        url = engine.get("api_url")
        if not url:
            raise CommandError(
                f"an engine owns {dirs.root} but serves no API; stop it or enable its API",
                EXIT_UNAVAILABLE,
            )
        return RemoteAccess(EngineClient(url, api_token(dirs)))
    if not dirs.state.exists():
        raise CommandError(f"no data in {dirs.root}: run `soc ingest` or `soc run` first", EXIT_UNAVAILABLE)
    return LocalAccess(dirs, backend)
