"""The HTTP intake: a listener of its own (like Filebeat's ``http_endpoint``) that takes
JSON documents from agents (Winlogbeat/NXLog forwarding Windows events, scripts, other
collectors) and turns each object into a raw record.

``POST <path>`` (default ``/ingest``) with

* ``Content-Type: application/json``: one object or an array of objects;
* ``Content-Type: application/x-ndjson`` (or ``application/ndjson``): one object a line.

Authentication: each configured source has a name and a token read from the
environment variable its config names (never from the config itself). The request's
token (``Authorization: Bearer <token>`` or ``X-SOC-Token: <token>``) selects the
source; tokens are compared with :func:`hmac.compare_digest` against every source.

Answers: ``200 {"accepted": n}`` once the records are durably accepted; ``401`` unknown
or missing token; ``404`` other paths; ``405`` other methods; ``413`` body over
``max_body_bytes``; ``415`` other content types; ``400`` bad JSON, naming the line
(and, for an array, the element); ``503`` when the pipeline pushes back for longer
than ``accept_timeout_s``. A request whose records were handed to ``ctx.accept``
always waits for it, so a 503 means nothing was accepted: a retry duplicates nothing.

Each object becomes a :class:`~soc.event.RawRecord`: ``raw`` the object's JSON bytes
(an NDJSON line as sent), ``source`` ``http:<source name>``, ``position`` -1 (the spool
assigns one), ``meta`` ``input: http``, ``peer``, ``format`` (the source's configured
parser, or ``None`` to detect it); events get ``input.type: http``.

Counters: ``http.requests``, ``http.records``, ``http.unauthorized``,
``http.rejected`` (400/413/415), ``http.busy`` (503), ``http.accept_errors``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import socket
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import uvicorn
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from collectors.inputs.base import InputContext
from collectors.inputs.tls import TlsServerConfig, server_context
from soc.event import RawRecord

log = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson")
_STOP_POLL_S = 0.1


class HttpInputError(ValueError):
    """An HTTP input that cannot be built: names the input and the setting."""


@dataclass(frozen=True)
class HttpSourceConfig:
    """One sender: ``name`` (the record source is ``http:<name>``), ``token_env`` (the
    environment variable holding its token) and ``format`` (a parser name, or ``None``
    to detect it per record)."""

    name: str
    token_env: str
    format: str | None = None


@dataclass(frozen=True)
class HttpInputConfig:
    """Settings of the HTTP intake; ``port`` 0 binds an ephemeral port."""

    name: str = "http"
    host: str = "127.0.0.1"
    port: int = 8088
    path: str = "/ingest"
    sources: tuple[HttpSourceConfig, ...] = ()
    max_body_bytes: int = 10 * 1024 * 1024
    accept_timeout_s: float = 30.0
    tls: TlsServerConfig | None = None

    def __post_init__(self) -> None:
        where = f"http input {self.name!r}"
        if not 0 <= self.port <= 65535:
            raise HttpInputError(f"{where}: port {self.port} is not in 0..65535")
        if not self.path.startswith("/"):
            raise HttpInputError(f"{where}: path must start with '/', got {self.path!r}")
        if self.max_body_bytes < 1:
            raise HttpInputError(f"{where}: max_body_bytes must be >= 1, got {self.max_body_bytes}")
        if self.accept_timeout_s <= 0:
            raise HttpInputError(f"{where}: accept_timeout_s must be > 0, got {self.accept_timeout_s}")
        if not self.sources:
            raise HttpInputError(f"{where}: sources must name at least one sender and its token_env")
        names = [s.name for s in self.sources]
        if dup := {n for n in names if names.count(n) > 1}:
            raise HttpInputError(f"{where}: source names must be unique, repeated: {sorted(dup)}")


@dataclass(frozen=True)
class _Source:
    name: str
    token: bytes
    format: str | None


class BadRequest(Exception):
    """A request body that cannot be read as JSON; the message names the line."""


def _load_sources(cfg: HttpInputConfig, environ: Mapping[str, str]) -> list[_Source]:
    sources: list[_Source] = []
    for i, src in enumerate(cfg.sources):
        where = f"http input {cfg.name!r}: sources[{i}] ({src.name!r})"
        token = environ.get(src.token_env, "")
        if not token:
            raise HttpInputError(f"{where}: environment variable {src.token_env} (token_env) is not set")
        if len(token) < MIN_TOKEN_CHARS:
            raise HttpInputError(
                f"{where}: the token in {src.token_env} is shorter than {MIN_TOKEN_CHARS} characters"
            )
        if any(hmac.compare_digest(token.encode(), s.token) for s in sources):
            raise HttpInputError(f"{where}: the token in {src.token_env} is the token of another source")
        sources.append(_Source(src.name, token.encode(), src.format))
    return sources


def split_documents(body: bytes, content_type: str) -> list[bytes]:
    """The JSON bytes of each object in ``body``; :class:`BadRequest` names what and where."""
    if content_type in NDJSON_TYPES:
        out = []
        for lineno, line in enumerate(body.split(b"\n"), 1):
            line = line.strip()
            if not line:
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"line {lineno}: not valid JSON: {exc.msg} at column {exc.colno}") from None
            if not isinstance(doc, dict):
                raise BadRequest(f"line {lineno}: expected a JSON object, got {type(doc).__name__}")
            out.append(line)
        return out
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"line {exc.lineno}: not valid JSON: {exc.msg} at column {exc.colno}") from None
    if isinstance(doc, dict):
        return [orjson.dumps(doc)]
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            if not isinstance(item, dict):
                raise BadRequest(
                    f"element {i} of the array: expected a JSON object, got {type(item).__name__}"
                )
        return [orjson.dumps(item) for item in doc]
    raise BadRequest(f"line 1: expected a JSON object or an array of objects, got {type(doc).__name__}")


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _IntakeApp:
    """The ASGI application: one route, no framework routing needed."""

    def __init__(self, cfg: HttpInputConfig, sources: list[_Source], ctx: InputContext) -> None:
        self.cfg = cfg
        self.sources = sources
        self.ctx = ctx
        self.slot = asyncio.Semaphore(1)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"http-{cfg.name}-accept")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    def _source(self, request: Request) -> _Source | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else request.headers.get("x-soc-token", "")
        if not token:
            return None
        given = token.encode()
        found = None
        for src in self.sources:  # no early exit: the time does not tell which source matched
            if hmac.compare_digest(given, src.token):
                found = src
        return found

    async def _body(self, request: Request) -> bytes | None:
        """The body, or ``None`` when it is larger than ``max_body_bytes``."""
        limit = self.cfg.max_body_bytes
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle(self, request: Request) -> JSONResponse:
        ctx, cfg = self.ctx, self.cfg
        if request.url.path != cfg.path:
            return _error(404, f"no such path; POST to {cfg.path}")
        if request.method != "POST":
            return _error(405, "only POST is allowed", {"Allow": "POST"})
        ctx.count("http.requests")
        peer = request.client.host if request.client else "unknown"
        source = self._source(request)
        if source is None:
            ctx.count("http.unauthorized")
            log.warning("http input %s: request from %s with a missing or unknown token", cfg.name, peer)
            return _error(401, "missing or unknown token", {"WWW-Authenticate": "Bearer"})
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype not in JSON_TYPES + NDJSON_TYPES:
            ctx.count("http.rejected")
            return _error(
                415, f"Content-Type must be application/json or application/x-ndjson, got {ctype!r}"
            )
        try:
            body = await self._body(request)
        except ClientDisconnect:
            return _error(400, "client disconnected before the body was complete")
        if body is None:
            ctx.count("http.rejected")
            return _error(413, f"body larger than {cfg.max_body_bytes} bytes")
        try:
            docs = split_documents(body, ctype)
        except BadRequest as exc:
            ctx.count("http.rejected")
            return _error(400, str(exc))
        if not docs:
            return JSONResponse({"accepted": 0})
        records = self._records(docs, source, peer)
        return await self._accept(records, source, peer)

    def _records(self, docs: list[bytes], source: _Source, peer: str) -> list[RawRecord]:
        now = datetime.now(UTC)
        meta = {"input": "http", "peer": peer, "format": source.format}
        name = f"http:{source.name}"
        return [RawRecord(raw=doc, source=name, position=-1, received=now, meta=dict(meta)) for doc in docs]

    async def _accept(self, records: list[RawRecord], source: _Source, peer: str) -> JSONResponse:
        ctx, cfg = self.ctx, self.cfg
        try:
            await asyncio.wait_for(self.slot.acquire(), cfg.accept_timeout_s)
        except TimeoutError:
            ctx.count("http.busy")
            return _error(
                503,
                f"the pipeline is busy; nothing was accepted, retry later (waited {cfg.accept_timeout_s:g}s)",
                {"Retry-After": str(max(1, round(cfg.accept_timeout_s)))},
            )
        try:
            await asyncio.get_running_loop().run_in_executor(self.executor, ctx.accept, records)
        except Exception as exc:
            ctx.count("http.accept_errors")
            log.error("http input %s: accept failed, %s: %s", cfg.name, type(exc).__name__, exc)
            return _error(503, "the records could not be accepted; retry later", {"Retry-After": "5"})
        finally:
            self.slot.release()
        ctx.count("http.records", len(records))
        log.debug("http input %s: %d records from %s (%s)", cfg.name, len(records), source.name, peer)
        return JSONResponse({"accepted": len(records)})


class HttpInput:
    """The HTTP intake; see the module docstring.

    Tokens are read from ``environ`` (default ``os.environ``) and certificate files
    loaded here, so a missing variable or a bad file fails when the input is built.
    """

    def __init__(self, config: HttpInputConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.name = config.name
        self.ready = threading.Event()
        self.bound_port = 0
        self._sources = _load_sources(config, os.environ if environ is None else environ)
        self.ssl_context = (
            server_context(config.tls, f"http input {config.name!r}") if config.tls is not None else None
        )

    def _bind(self) -> socket.socket:
        cfg = self.config
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((cfg.host, cfg.port))
        except OSError as exc:
            sock.close()
            raise OSError(f"http input {cfg.name!r}: cannot bind tcp {cfg.host}:{cfg.port}: {exc}") from exc
        sock.listen(128)
        sock.setblocking(False)
        return sock

    def run(self, ctx: InputContext) -> None:
        """Serve until ``ctx.stop`` is set; requests in flight are finished first."""
        cfg = self.config
        sock = self._bind()
        self.bound_port = sock.getsockname()[1]
        app = _IntakeApp(cfg, self._sources, ctx)
        server_cfg = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            proxy_headers=False,  # the peer is the connecting address, never a header
            server_header=False,
            timeout_graceful_shutdown=max(5, int(cfg.accept_timeout_s) + 1),
            h11_max_incomplete_event_size=64 * 1024,
        )
        server_cfg.load()
        server_cfg.ssl = self.ssl_context  # ours: TLS 1.2 floor, optional client certificates
        server = uvicorn.Server(server_cfg)

        async def main() -> None:
            serving = asyncio.create_task(server.serve(sockets=[sock]))
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if server.started:
                self.ready.set()
                scheme = "https" if self.ssl_context else "http"
                log.info(
                    "http input %s listening on %s://%s:%d%s",
                    cfg.name,
                    scheme,
                    cfg.host,
                    self.bound_port,
                    cfg.path,
                )
            while not ctx.stop.is_set() and not serving.done():
                await asyncio.sleep(_STOP_POLL_S)
            server.should_exit = True
            await serving

        try:
            asyncio.run(main())
        finally:
            sock.close()
            app.executor.shutdown(wait=True)
