"""The HTTP API with a real MemoryStore and AlertRepository (TestClient and uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from soc.alerts import AlertRepository
from soc.api import ApiContext, create_app
from soc.client import EngineClient, EngineClientError
from soc.event import RawRecord
from soc.metrics import Metrics
from soc.state import StateStore
from soc.store.memory import MemoryStore
from tests.helpers_api import TOKEN, make_event, record_alert, run_uvicorn

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Env:
    client: TestClient
    ctx: ApiContext
    store: MemoryStore
    alerts: AlertRepository
    ingested: list[list[RawRecord]] = field(default_factory=list)
    alert_ids: list[str] = field(default_factory=list)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    state = StateStore(tmp_path / "state.db")
    store = MemoryStore()
    events = [make_event(i, user="alice" if i % 2 else "bob", port=22 if i < 20 else 3389) for i in range(30)]
    store.write(events)
    alerts = AlertRepository(state)
    ingested: list[list[RawRecord]] = []
    ctx = ApiContext(
        store=store,
        alerts=alerts,
        metrics=Metrics(),
        token=TOKEN,
        ingest=ingested.append,
        health=lambda: {"pipeline": "running", "spool_backlog": 0},
        max_ingest_bytes=4096,
        ingest_chunk_records=3,
    )
    e = Env(TestClient(create_app(ctx)), ctx, store, alerts, ingested)
    e.alert_ids.append(record_alert(alerts, events[0:3], severity="high").alert.id)
    e.alert_ids.append(record_alert(alerts, events[3:4], severity="low", rule_id="r-other").alert.id)
    yield e
    state.close()


def get(env: Env, path: str, **params: Any) -> Any:
    resp = env.client.get(path, params=params, headers=AUTH)
    assert resp.status_code == 200, resp.text
    return resp.json()


API_ROUTES = [
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/events/count"),
    ("GET", "/api/v1/events/terms?field=user.name"),
    ("GET", "/api/v1/events/histogram"),
    ("GET", "/api/v1/events/distinct?field=user.name"),
    ("GET", "/api/v1/events/abc"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/alerts/abc"),
    ("POST", "/api/v1/ingest/raw?source=x"),
]


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_every_api_route_needs_the_token(env: Env, method: str, path: str) -> None:
    resp = env.client.request(method, path)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert "bearer token" in resp.json()["detail"]
    bad = env.client.request(method, path, headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401 and bad.json()["detail"] == "invalid bearer token"
    basic = env.client.request(method, path, headers={"Authorization": "Basic " + TOKEN})
    assert basic.status_code == 401


def test_healthz_is_open_and_merges_engine_facts(env: Env) -> None:
    body = env.client.get("/healthz").json()
    assert body["status"] == "ok" and body["pipeline"] == "running" and body["version"]
    assert body["time"].endswith("Z")
    env.ctx.health = lambda: {"status": "degraded", "reason": "store slow"}
    assert env.client.get("/healthz").json()["status"] == "degraded"

    def broken() -> dict[str, Any]:
        raise RuntimeError("boom")

    env.ctx.health = broken
    body = env.client.get("/healthz").json()
    assert body["status"] == "degraded" and "boom" in body["health_error"]


def test_metrics_public_or_behind_token(env: Env) -> None:
    env.ctx.metrics.events_stored.inc(4)
    resp = env.client.get("/metrics")
    assert resp.status_code == 200 and "soc_events_stored_total 4.0" in resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    env.ctx.metrics_public = False
    assert env.client.get("/metrics").status_code == 401
    assert env.client.get("/metrics", headers=AUTH).status_code == 200


def test_search_with_query_and_pagination(env: Env) -> None:
    body = get(env, "/api/v1/events", q="user.name:alice source.port:22", size=4)
    assert body["total"] == 10 and len(body["events"]) == 4
    stamps = [e["@timestamp"] for e in body["events"]]
    assert stamps == sorted(stamps, reverse=True)
    seen = [e["event"]["id"] for e in body["events"]]
    cursor = body["cursor"]
    while cursor:
        page = get(env, "/api/v1/events", q="user.name:alice source.port:22", size=4, cursor=cursor)
        seen += [e["event"]["id"] for e in page["events"]]
        cursor = page["cursor"]
    assert len(seen) == len(set(seen)) == 10
    asc = get(env, "/api/v1/events", order="asc", size=2, sort="@timestamp")
    assert asc["events"][0]["@timestamp"] == "2024-05-01T10:00:00.000Z"
    text = get(env, "/api/v1/events", q='"port 3389"')
    assert text["total"] == 10


def test_search_time_range(env: Env) -> None:
    body = get(env, "/api/v1/events", since="2024-05-01T10:05:00Z", until="2024-05-01T10:10:00Z")
    assert body["total"] == 5
    assert get(env, "/api/v1/events/count", since="2024-05-01T10:25:00Z")["count"] == 5


@pytest.mark.parametrize(
    ("params", "status", "fragment"),
    [
        ({"q": "x:*exe"}, 400, "q: suffix wildcard"),
        ({"q": 'host.name:"web'}, 400, "position 10"),
        ({"since": "yesterday"}, 400, "since: invalid time"),
        ({"since": "1h", "until": "2h"}, 400, "until: must be later"),
        ({"size": 0}, 422, "size:"),
        ({"size": 1001}, 422, "size:"),
        ({"order": "sideways"}, 422, "order:"),
        ({"sort": "message.raw"}, 400, "sort: cannot sort"),
        ({"cursor": "garbage"}, 400, "cursor"),
    ],
)
def test_search_bad_parameters_are_named(
    env: Env, params: dict[str, Any], status: int, fragment: str
) -> None:
    resp = env.client.get("/api/v1/events", params=params, headers=AUTH)
    assert resp.status_code == status, resp.text
    assert fragment in resp.json()["detail"]


def test_aggregations(env: Env) -> None:
    assert get(env, "/api/v1/events/count", q="user.name:bob")["count"] == 15
    terms = get(env, "/api/v1/events/terms", field="source.port", size=5)
    assert terms["buckets"] == [{"key": 22, "count": 20}, {"key": 3389, "count": 10}]
    hist = get(env, "/api/v1/events/histogram", interval="10m")
    assert hist["interval_seconds"] == 600
    assert hist["buckets"] == [
        {"key": "2024-05-01T10:00:00.000Z", "count": 10},
        {"key": "2024-05-01T10:10:00.000Z", "count": 10},
        {"key": "2024-05-01T10:20:00.000Z", "count": 10},
    ]
    assert get(env, "/api/v1/events/histogram", interval="3600")["buckets"][0]["count"] == 30
    assert get(env, "/api/v1/events/distinct", field="user.name")["count"] == 2
    bad = env.client.get("/api/v1/events/histogram", params={"interval": "fortnight"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("interval:")
    missing = env.client.get("/api/v1/events/terms", headers=AUTH)
    assert missing.status_code == 422 and "field" in missing.json()["detail"]


def test_event_by_id_and_404(env: Env) -> None:
    event = make_event(7, user="alice", port=22)
    assert get(env, f"/api/v1/events/{event['event']['id']}") == event
    resp = env.client.get("/api/v1/events/nope", headers=AUTH)
    assert resp.status_code == 404 and "nope" in resp.json()["detail"]


def test_alert_list_filters_cursor_and_detail(env: Env) -> None:
    body = get(env, "/api/v1/alerts")
    assert {a["id"] for a in body["alerts"]} == set(env.alert_ids) and body["cursor"] is None
    high = get(env, "/api/v1/alerts", min_severity="medium")
    assert [a["id"] for a in high["alerts"]] == [env.alert_ids[0]]
    assert get(env, "/api/v1/alerts", rule_id="r-other")["alerts"][0]["severity"] == "low"
    assert get(env, "/api/v1/alerts", host="nohost")["alerts"] == []
    first = get(env, "/api/v1/alerts", limit=1)
    assert len(first["alerts"]) == 1 and first["cursor"]
    second = get(env, "/api/v1/alerts", limit=1, cursor=first["cursor"])
    assert {first["alerts"][0]["id"], second["alerts"][0]["id"]} == set(env.alert_ids)
    detail = get(env, f"/api/v1/alerts/{env.alert_ids[0]}")
    assert detail["rule_title"] == "SSH brute force" and detail["count"] == 1
    assert [e["event"]["id"] for e in detail["events"]] == detail["evidence"]
    assert len(detail["events"]) == 3
    resp = env.client.get("/api/v1/alerts/unknown", headers=AUTH)
    assert resp.status_code == 404 and "unknown" in resp.json()["detail"]
    bad = env.client.get("/api/v1/alerts", params={"min_severity": "huge"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("min_severity:")
    bad = env.client.get("/api/v1/alerts", params={"cursor": "!!"}, headers=AUTH)
    assert bad.status_code == 400 and bad.json()["detail"].startswith("cursor:")


def test_ingest_raw_offsets_and_chunks(env: Env) -> None:
    body = b"line one\r\nline two\n\nline four\nlast no newline"
    resp = env.client.post(
        "/api/v1/ingest/raw",
        params={
            "source": "file:/var/log/auth.log",
            "offset": 1000,
            "format": "sshd",
            "timezone": "Asia/Ho_Chi_Minh",
        },
        content=body,
        headers=AUTH,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": 4, "next_offset": 1000 + len(body)}
    assert [len(chunk) for chunk in env.ingested] == [3, 1]
    records = [r for chunk in env.ingested for r in chunk]
    assert [r.raw for r in records] == [b"line one", b"line two", b"line four", b"last no newline"]
    assert [r.position for r in records] == [1000, 1010, 1020, 1030]
    assert all(body[r.position - 1000 :].startswith(r.raw) for r in records)
    assert records[0].source == "file:/var/log/auth.log"
    assert records[0].meta == {
        "input": "api",
        "path": "/var/log/auth.log",
        "format": "sshd",
        "timezone": "Asia/Ho_Chi_Minh",
    }
    # the same bytes read from offset 1000 of the same source give the same ids
    assert records[1].event_id == RawRecord(b"line two", "file:/var/log/auth.log", 1010).event_id


def test_ingest_raw_limits_and_errors(env: Env) -> None:
    too_big = env.client.post("/api/v1/ingest/raw", params={"source": "s"}, content=b"x" * 5000, headers=AUTH)
    assert too_big.status_code == 413 and "4096" in too_big.json()["detail"]
    no_source = env.client.post("/api/v1/ingest/raw", content=b"a\n", headers=AUTH)
    assert no_source.status_code == 422 and "source" in no_source.json()["detail"]
    negative = env.client.post(
        "/api/v1/ingest/raw", params={"source": "s", "offset": -1}, content=b"a", headers=AUTH
    )
    assert negative.status_code == 422 and "offset" in negative.json()["detail"]
    syslog = env.client.post(
        "/api/v1/ingest/raw", params={"source": "api:test"}, content=b"a\n", headers=AUTH
    )
    assert syslog.json() == {"accepted": 1, "next_offset": 2}
    assert env.ingested[-1][0].meta == {"input": "api"}
    env.ctx.ingest = None
    down = env.client.post("/api/v1/ingest/raw", params={"source": "s"}, content=b"a\n", headers=AUTH)
    assert down.status_code == 503 and "no engine" in down.json()["detail"]


def test_openapi_lists_every_route(env: Env) -> None:
    spec = env.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/healthz", "/metrics", "/api/v1/events", "/api/v1/events/count", "/api/v1/events/terms",
        "/api/v1/events/histogram", "/api/v1/events/distinct", "/api/v1/events/{event_id}",
        "/api/v1/alerts", "/api/v1/alerts/{alert_id}", "/api/v1/ingest/raw",
    ]:  # fmt: skip
        assert path in paths, path
    for path, ops in paths.items():
        for op in ops.values():
            if path.startswith("/api/"):
                assert any(code.startswith("2") for code in op["responses"]), path
                assert "401" in op["responses"], path
    assert paths["/api/v1/events"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert env.client.get("/docs").status_code == 200


def test_token_is_not_in_repr(env: Env) -> None:
    assert TOKEN not in repr(env.ctx)
    with pytest.raises(ValueError, match="token"):
        ApiContext(store=env.store, alerts=env.alerts, metrics=Metrics(), token="")


def test_real_uvicorn_with_engine_client(env: Env) -> None:
    with run_uvicorn(create_app(env.ctx)) as url:
        client = EngineClient(url, TOKEN, timeout=10)
        assert client.healthz()["status"] == "ok"
        page = client.search("user.name:bob", size=5)
        assert page["total"] == 15 and len(page["events"]) == 5 and page["cursor"]
        nxt = client.search("user.name:bob", size=5, cursor=page["cursor"])
        assert not {e["event"]["id"] for e in nxt["events"]} & {e["event"]["id"] for e in page["events"]}
        assert client.count("source.port:3389") == 10
        assert client.count(since="2024-05-01T10:25:00Z") == 5
        alerts = client.alerts(min_severity="high")
        assert [a["id"] for a in alerts["alerts"]] == [env.alert_ids[0]]
        assert len(client.alert(env.alert_ids[0])["events"]) == 3
        result = client.ingest_raw("file:/tmp/a.log", 50, b"a\nb\n", format="sshd")
        assert result == {"accepted": 2, "next_offset": 54}
        assert env.ingested[-1][1].position == 52
        with pytest.raises(EngineClientError) as info:
            client.search("x:*exe")
        assert info.value.status == 400 and "suffix wildcard" in info.value.detail
        with pytest.raises(EngineClientError) as info:
            client.alert("missing")
        assert info.value.status == 404
        with pytest.raises(EngineClientError) as info:
            EngineClient(url, "wrong").count()
        assert info.value.status == 401
    with pytest.raises(EngineClientError) as info:
        EngineClient(url, TOKEN, timeout=2).healthz()
    assert info.value.status == 0 and "cannot reach" in str(info.value)
