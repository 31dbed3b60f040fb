"""Shared helpers of the API, client and forwarding tests: events, alerts, a real
uvicorn server, an HMAC-verifying HTTP receiver and a self-signed certificate."""

from __future__ import annotations

import http.server
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.base import Match, RuleInfo
from soc.alerts import AlertChange, AlertRepository
from soc.event import Event, format_ts, make_event_id
from soc.forwarding.signing import REPORT_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

T0 = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
TOKEN = "test-token-7f3a"


def make_event(
    n: int,
    *,
    ts: datetime | None = None,
    message: str = "",
    host: str = "web01",
    user: str | None = "alice",
    source_ip: str = "203.0.113.9",
    outcome: str = "failure",
    port: int = 22,
) -> Event:
    """A small ECS event number ``n`` (its id depends only on ``n``)."""
    event: Event = {
        "@timestamp": format_ts(ts or (T0 + timedelta(minutes=n))),
        "event": {
            "id": make_event_id("test", n, b"x"),
            "action": "ssh_login",
            "outcome": outcome,
            "dataset": "linux.auth",
        },
        "message": message or f"Failed password for {user} from {source_ip} port {port} ssh2 #{n}",
        "host": {"name": host},
        "source": {"ip": source_ip, "port": port},
    }
    if user is not None:
        event["user"] = {"name": user}
    return event


def make_rule(severity: str = "high", rule_id: str = "r-ssh-bf", title: str = "SSH brute force") -> RuleInfo:
    return RuleInfo(
        id=rule_id, title=title, type="sigma", severity=severity, author="SOC team", tags=("attack.t1110",)
    )


def record_alert(
    repo: AlertRepository, events: list[Event], *, severity: str = "high", rule_id: str = "r-ssh-bf"
) -> AlertChange:
    """Record a real alert in ``repo`` from ``events``."""
    stamp = datetime.fromisoformat(events[-1]["@timestamp"].replace("Z", "+00:00"))
    change = repo.record(Match(rule=make_rule(severity, rule_id), events=events, timestamp=stamp))
    assert change is not None
    return change


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@contextmanager
def run_uvicorn(app: Any) -> Iterator[str]:
    """Serve ``app`` with a real uvicorn on a free 127.0.0.1 port; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: server.started, timeout=10), "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- a receiver of forwarded reports ------------------------------------------------


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]
    valid_signature: bool


@dataclass
class Receiver:
    """A real HTTP(S) server on 127.0.0.1 that verifies report signatures.

    ``script`` is a list of statuses to answer in turn (then ``default_status``).
    Only requests with a valid signature are appended to ``received`` as accepted
    (``valid_signature`` records the check for every request).
    """

    secret: bytes
    script: list[int] = field(default_factory=list)
    default_status: int = 200
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    ssl_context: ssl.SSLContext | None = None
    _server: http.server.ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/reports"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.requests if r.valid_signature and r.headers.get("status") == "2xx"]

    def start(self) -> Receiver:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k: v for k, v in self.headers.items()}
                ok = verify(
                    body,
                    receiver.secret,
                    headers.get(TIMESTAMP_HEADER, ""),
                    headers.get(SIGNATURE_HEADER, ""),
                )
                status = receiver.script.pop(0) if receiver.script else receiver.default_status
                if not ok:
                    status = 401
                headers["status"] = "2xx" if 200 <= status < 300 else str(status)
                receiver.requests.append(Received(body, headers, ok))
                payload = b'{"ok": true}' if status < 300 else b'{"error": "refused"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_HEAD(self) -> None:
                self.send_response(405)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def report_ids(received: list[Received]) -> list[str]:
    return [r.headers.get(REPORT_ID_HEADER, "") for r in received]


def make_self_signed_cert(directory: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1 made with the ``openssl`` CLI
    (``(cert, key)``), or ``None`` when ``openssl`` is not installed."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key
