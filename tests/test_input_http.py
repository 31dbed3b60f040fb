"""The HTTP intake with real HTTP clients (httpx, curl) against the input in a thread,
TLS with certificates from the ``openssl`` CLI, and the engine end to end."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.http import HttpInput, HttpInputConfig, HttpInputError, HttpSourceConfig
from collectors.inputs.tls import TlsConfigError, TlsServerConfig
from soc.config import load_config
from soc.pipeline.engine import Engine
from soc.store import MemoryStore, Query
from soc.store.base import FieldFilter
from tests.helpers_collectors import Collector, running
from tests.helpers_engine import write_config
from tests.helpers_tls import Pki, client_context, make_pki

FW_TOKEN = "fw-token-0123456789abcdef"
WIN_TOKEN = "win-token-fedcba9876543210"
ENV = {"SOC_HTTP_FW": FW_TOKEN, "SOC_HTTP_WIN": WIN_TOKEN}
SOURCES = (
    HttpSourceConfig("fortigate-edge", "SOC_HTTP_FW", format="fortigate"),
    HttpSourceConfig("winlogbeat", "SOC_HTTP_WIN"),
)
WIN_4625 = {
    "EventTime": "2024-11-27 10:00:00",
    "Hostname": "DC01.so-tttt.local",
    "EventID": 4625,
    "Channel": "Security",
    "SourceName": "Microsoft-Windows-Security-Auditing",
    "TargetUserName": "admin",
    "IpAddress": "198.51.100.7",
    "LogonType": "3",
}


def http_input(**kw) -> HttpInput:
    kw.setdefault("sources", SOURCES)
    return HttpInput(HttpInputConfig(port=0, **kw), environ=ENV)


def url(inp: HttpInput, scheme: str = "http", path: str = "/ingest") -> str:
    return f"{scheme}://127.0.0.1:{inp.bound_port}{path}"


def post(inp: HttpInput, body: bytes, ctype: str = "application/json", **headers: str) -> httpx.Response:
    headers = {"Content-Type": ctype, **headers}
    return httpx.post(url(inp), content=body, headers=headers, timeout=10)


def test_json_object_array_and_ndjson_with_both_token_headers() -> None:
    inp = http_input()
    col = Collector()
    with running(inp, col) as ctx:
        one = post(inp, orjson.dumps(WIN_4625), Authorization=f"Bearer {WIN_TOKEN}")
        many = post(inp, b'[{"a": 1}, {"b": [2, 3]}]', **{"X-SOC-Token": FW_TOKEN})
        nd = post(
            inp, b'{"x": 1}\n\n{"y": "z"}\r\n', "application/x-ndjson", Authorization=f"Bearer {FW_TOKEN}"
        )
        recs = col.wait_for(5)
    assert (one.status_code, one.json()) == (200, {"accepted": 1})
    assert (many.status_code, many.json()) == (200, {"accepted": 2})
    assert (nd.status_code, nd.json()) == (200, {"accepted": 2})
    win, a, b, x, y = recs
    assert orjson.loads(win.raw) == WIN_4625
    assert win.source == "http:winlogbeat" and win.position == -1
    assert win.meta == {"input": "http", "peer": "127.0.0.1", "format": None}
    assert [a.raw, b.raw] == [b'{"a":1}', b'{"b":[2,3]}']
    assert [x.raw, y.raw] == [b'{"x": 1}', b'{"y": "z"}']  # NDJSON lines as sent
    assert {r.source for r in (a, b, x, y)} == {"http:fortigate-edge"}
    assert {r.meta["format"] for r in (a, b, x, y)} == {"fortigate"}
    assert ctx.counters["http.records"] == 5 and ctx.counters["http.requests"] == 3


def test_refusals_401_404_405_413_415() -> None:
    inp = http_input(max_body_bytes=1000)
    col = Collector()
    auth = {"Authorization": f"Bearer {FW_TOKEN}"}
    json_auth = {**auth, "Content-Type": "application/json"}
    with running(inp, col) as ctx:
        assert post(inp, b"{}").status_code == 401
        bad = post(inp, b"{}", Authorization=f"Bearer {FW_TOKEN}x")
        assert bad.status_code == 401 and bad.headers["www-authenticate"] == "Bearer"
        assert post(inp, b"{}", Authorization=f"Basic {FW_TOKEN}").status_code == 401
        assert httpx.post(url(inp, path="/other"), content=b"{}", headers=auth).status_code == 404
        got = httpx.get(url(inp), headers=auth)
        assert got.status_code == 405 and got.headers["allow"] == "POST"
        assert post(inp, b"x" * 1001, **auth).status_code == 413  # by Content-Length
        chunked = httpx.post(url(inp), content=iter([b"[" + b"{}," * 400, b"{}]"]), headers=json_auth)
        assert chunked.status_code == 413  # no Content-Length: counted while reading
        wrong = post(inp, b"a=1", "application/x-www-form-urlencoded", **auth)
        assert wrong.status_code == 415 and "application/x-ndjson" in wrong.json()["error"]
        assert post(inp, b"[{}]", "application/json; charset=utf-8", **auth).status_code == 200
    assert len(col.records) == 1
    assert ctx.counters["http.unauthorized"] == 3
    assert ctx.counters["http.rejected"] == 3


def test_bad_json_names_the_line() -> None:
    inp = http_input()
    auth = {"Authorization": f"Bearer {FW_TOKEN}"}
    col = Collector()
    with running(inp, col):
        nd = post(inp, b'{"ok": 1}\n{"ok": 2}\n{"broken": \n', "application/x-ndjson", **auth)
        js = post(inp, b'[\n  {"ok": 1},\n  {"ok": 2,,}\n]', **auth)
        scalar = post(inp, b'{"ok": 1}\n7\n', "application/x-ndjson", **auth)
        element = post(inp, b'[{"ok": 1}, "text"]', **auth)
    assert nd.status_code == 400 and nd.json()["error"].startswith("line 3: not valid JSON")
    assert js.status_code == 400 and js.json()["error"].startswith("line 3: not valid JSON")
    assert scalar.status_code == 400 and scalar.json()["error"] == "line 2: expected a JSON object, got int"
    assert element.status_code == 400 and "element 1 of the array" in element.json()["error"]
    assert col.records == []  # a bad request accepts nothing, not even its good lines


def test_backpressure_waits_then_503_with_nothing_accepted() -> None:
    gate = threading.Event()
    col = Collector(gate=gate)
    inp = http_input(accept_timeout_s=0.5)
    auth = {"Authorization": f"Bearer {FW_TOKEN}"}
    first: list[httpx.Response] = []
    with running(inp, col) as ctx:
        sender = threading.Thread(target=lambda: first.append(post(inp, b'{"n": 1}', **auth)))
        sender.start()
        deadline = time.monotonic() + 5
        while ctx.counters.get("http.requests", 0) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        started = time.monotonic()
        busy = post(inp, b'{"n": 2}', **auth)  # the pipeline is still blocked on the first
        waited = time.monotonic() - started
        assert not first, "the first request must wait while accept blocks"
        gate.set()
        sender.join(10)
        col.wait_for(1)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert "nothing was accepted" in busy.json()["error"]
    assert 0.4 <= waited < 5
    assert first[0].status_code == 200
    assert [r.raw for r in col.records] == [b'{"n":1}']
    assert ctx.counters["http.busy"] == 1


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_https_with_httpx_and_curl(pki: Pki) -> None:
    inp = http_input(tls=TlsServerConfig(str(pki.server_cert), str(pki.server_key)))
    col = Collector()
    with running(inp, col):
        ok = httpx.post(
            url(inp, "https"),
            content=b'{"over": "tls"}',
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {WIN_TOKEN}"},
            verify=client_context(pki),
        )
        with pytest.raises((httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError)):  # plain HTTP
            httpx.post(url(inp), content=b"{}", timeout=5)
        assert shutil.which("curl"), "curl is needed (Debian package curl)"
        curl = subprocess.run(
            ["curl", "-sS", "--fail-with-body", "--tlsv1.2", "--cacert", str(pki.ca),
             "-H", "Content-Type: application/x-ndjson", "-H", f"X-SOC-Token: {FW_TOKEN}",
             "--data-binary", '{"via": "curl"}\n{"line": 2}\n', url(inp, "https")],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
        recs = col.wait_for(3)
    assert ok.status_code == 200
    assert curl.returncode == 0 and orjson.loads(curl.stdout) == {"accepted": 2}, curl.stderr
    assert [r.source for r in recs] == ["http:winlogbeat", "http:fortigate-edge", "http:fortigate-edge"]


def test_https_client_certificate_required(pki: Pki) -> None:
    tls = TlsServerConfig(
        str(pki.server_cert), str(pki.server_key), ca_file=str(pki.ca), require_client_cert=True
    )
    inp = http_input(tls=tls)
    col = Collector()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {FW_TOKEN}"}
    with running(inp, col):
        good = client_context(pki, pki.client_cert, pki.client_key)
        assert httpx.post(url(inp, "https"), content=b"{}", headers=headers, verify=good).status_code == 200
        for ctx in (client_context(pki), client_context(pki, pki.rogue_cert, pki.rogue_key)):
            with pytest.raises(
                (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)
            ):
                httpx.post(url(inp, "https"), content=b"{}", headers=headers, verify=ctx, timeout=5)
    assert len(col.records) == 1


def test_config_errors_name_the_setting(pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(
        HttpInputError, match=r"sources\[1\] \('winlogbeat'\): environment variable SOC_HTTP_WIN"
    ):
        HttpInput(HttpInputConfig(port=0, sources=SOURCES), environ={"SOC_HTTP_FW": FW_TOKEN})
    with pytest.raises(HttpInputError, match="shorter than 16 characters"):
        HttpInput(HttpInputConfig(port=0, sources=SOURCES), environ={**ENV, "SOC_HTTP_WIN": "short"})
    with pytest.raises(HttpInputError, match="is the token of another source"):
        HttpInput(HttpInputConfig(port=0, sources=SOURCES), environ={**ENV, "SOC_HTTP_WIN": FW_TOKEN})
    with pytest.raises(HttpInputError, match="sources must name at least one sender"):
        HttpInputConfig(port=0)
    with pytest.raises(HttpInputError, match="path must start with '/'"):
        HttpInputConfig(path="ingest", sources=SOURCES)
    missing = tmp_path / "missing.key"
    with pytest.raises(TlsConfigError, match=rf"http input 'http': tls.key_file: no such file {missing}"):
        http_input(tls=TlsServerConfig(str(pki.server_cert), str(missing)))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        inp = HttpInput(HttpInputConfig(port=taken.getsockname()[1], sources=SOURCES), environ=ENV)
        with (
            pytest.raises(OSError, match=r"http input 'http': cannot bind tcp 127\.0\.0\.1"),
            running(inp, Collector()),
        ):
            pass


def test_engine_stores_windows_event_posted_by_an_agent(tmp_path: Path, data_dir: Path) -> None:
    """In process: HttpInput -> spool -> windows parser (detected) -> store."""
    config = load_config(write_config(tmp_path / "soc.yaml", store={"backend": "memory"}), environ={})
    store = MemoryStore()
    inp = http_input()
    engine = Engine(
        config,
        data_dir,
        inputs=[inp],
        serve_api=False,
        checkpoints=MemoryCheckpoints(),
        store=store,
        detectors=[],
    )
    engine.start()
    try:
        body = b"\n".join(orjson.dumps({**WIN_4625, "RecordNumber": i}) for i in range(3))
        resp = post(inp, body, "application/x-ndjson", Authorization=f"Bearer {WIN_TOKEN}")
        assert resp.status_code == 200 and resp.json() == {"accepted": 3}
        assert engine.wait_drained(30)
    finally:
        engine.stop()
    page = store.search(Query(filters=(FieldFilter("event.code", "eq", "4625"),)), size=10)
    assert len(page.events) == 3
    ev = page.events[0]
    assert ev["user"]["name"] == "admin" and ev["source"]["ip"] == "198.51.100.7"
    assert ev["observer"]["ip"] == "127.0.0.1"
    assert ev["input"]["type"] == "http"


def _registered() -> bool:
    import soc.config

    return hasattr(soc.config, "HttpInputSettings")


@pytest.mark.skipif(not _registered(), reason="HttpInputSettings not yet registered in soc/config.py")
def test_soc_run_with_http_and_syslog_tls_inputs(
    tmp_path: Path, data_dir: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`soc run` as a subprocess with the inputs in its config file."""
    from tests.helpers_engine import EngineProcess, wait_for

    monkeypatch.setenv("SOC_HTTP_WIN", WIN_TOKEN)
    tls = {"cert_file": str(pki.server_cert), "key_file": str(pki.server_key), "ca_file": str(pki.ca)}
    config = write_config(
        tmp_path / "soc.yaml",
        inputs=[
            {"type": "http", "name": "agents", "port": 0, "tls": tls,
             "sources": [{"name": "winlogbeat", "token_env": "SOC_HTTP_WIN"}]},
            {"type": "syslog", "name": "tls", "protocol": "tls", "port": 0, "tls": tls},
        ],
    )  # fmt: skip
    engine = EngineProcess(config, data_dir)
    try:
        ports = wait_for(lambda: (p := engine.inputs()) and all(p.values()) and p, 30, "input ports")
        resp = httpx.post(
            f"https://127.0.0.1:{ports['agents']}/ingest",
            content=orjson.dumps([WIN_4625, {**WIN_4625, "RecordNumber": 2}]),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {WIN_TOKEN}"},
            verify=client_context(pki),
        )
        assert resp.status_code == 200 and resp.json() == {"accepted": 2}
        line = b"<38>Nov 27 10:00:00 portal01 sshd[9]: Invalid user tlsuser from 198.51.100.8 port 4001"
        raw = socket.create_connection(("127.0.0.1", ports["tls"]), timeout=5)
        with client_context(pki, pki.client_cert, pki.client_key).wrap_socket(
            raw, server_hostname="localhost"
        ) as s:
            s.sendall(b"%d %s" % (len(line), line))
            s.unwrap()
        wait_for(lambda: engine.count("event.code:4625") == 2, 30, "two Windows events")
        wait_for(lambda: engine.count("user.name:tlsuser") == 1, 30, "the syslog-over-TLS event")
        assert engine.count("input.type:http") == 2
    finally:
        assert engine.stop() == 0, engine.output()
