"""The syslog network input: a UDP, TCP or TLS listener that turns messages into raw records.

It runs an asyncio event loop in the thread that calls :meth:`SyslogInput.run`.
Records are batched (``batch_max`` records or ``batch_wait_ms``) and handed to
``ctx.accept`` on one worker thread, at most :data:`MAX_INFLIGHT` batches at a
time, so the loop never blocks. When accept is slow and a full batch is waiting:

* TCP connections stop being read (``pause_reading``) until a batch is accepted:
  the senders see TCP backpressure;
* UDP datagrams are dropped and counted in ``syslog.udp.dropped``.

TLS (RFC 5425) is TCP with a server certificate (:mod:`collectors.inputs.tls`), TLS
1.2 at least, and optionally verified client certificates; a record from a client that
presented one carries its subject CN in ``meta["client_cn"]``. RFC 5425 frames with
octet counting; ``framing: auto`` also accepts newline-framed senders.

Counters: ``syslog.<proto>.messages``, ``syslog.udp.dropped``,
``syslog.<tcp|tls>.connections``, ``syslog.<tcp|tls>.truncated``,
``syslog.<tcp|tls>.framing_errors``, ``syslog.accept_errors``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from collectors.framing import Framer, make_framer
from collectors.inputs.base import InputContext
from collectors.inputs.tls import TlsServerConfig, peer_common_name, server_context
from soc.event import RawRecord

log = logging.getLogger(__name__)

MAX_INFLIGHT = 2
"""Batches handed to ``ctx.accept`` and not yet returned, at most."""
_STOP_POLL_S = 0.05
TLS_HANDSHAKE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class SyslogInputConfig:
    """Settings of one syslog listener.

    ``port`` 0 binds an ephemeral port (see :attr:`SyslogInput.bound_port`);
    ``framing`` applies to TCP and TLS; ``format`` forces a parser name and ``timezone``
    the zone of zoneless timestamps (both passed on in each record's meta);
    ``tls`` is required with ``protocol="tls"`` and refused otherwise.
    """

    name: str = "syslog"
    protocol: Literal["udp", "tcp", "tls"] = "udp"
    host: str = "127.0.0.1"
    port: int = 5514
    framing: Literal["auto", "newline", "octet"] = "auto"
    max_message_bytes: int = 65536
    format: str | None = None
    timezone: str | None = None
    batch_max: int = 512
    batch_wait_ms: int = 50
    tls: TlsServerConfig | None = None

    def __post_init__(self) -> None:
        if self.protocol not in ("udp", "tcp", "tls"):
            raise ValueError(
                f"syslog input {self.name!r}: protocol must be 'udp' or 'tcp' (or 'tls' with tls settings), "
                f"got {self.protocol!r}"
            )
        if self.protocol == "tls" and self.tls is None:
            raise ValueError(
                f"syslog input {self.name!r}: protocol 'tls' needs tls.cert_file and tls.key_file"
            )
        if self.protocol != "tls" and self.tls is not None:
            raise ValueError(
                f"syslog input {self.name!r}: tls settings given but protocol is {self.protocol!r}, not 'tls'"
            )
        if self.framing not in ("auto", "newline", "octet"):
            raise ValueError(
                f"syslog input {self.name!r}: framing must be 'auto', 'newline' or 'octet', "
                f"got {self.framing!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ValueError(f"syslog input {self.name!r}: port {self.port} is not in 0..65535")
        for key in ("max_message_bytes", "batch_max", "batch_wait_ms"):
            if getattr(self, key) < 1:
                raise ValueError(f"syslog input {self.name!r}: {key} must be >= 1, got {getattr(self, key)}")


class _Batcher:
    """Collects records on the loop and dispatches batches to ``accept`` off the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, ctx: InputContext, batch_max: int) -> None:
        self.loop = loop
        self.ctx = ctx
        self.batch_max = batch_max
        self.pending: list[RawRecord] = []
        self.inflight = 0
        self.paused: set[asyncio.Transport] = set()
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="syslog-accept")
        self.idle = asyncio.Event()
        self.idle.set()

    @property
    def congested(self) -> bool:
        """A full batch waits and no accept slot is free."""
        return len(self.pending) >= self.batch_max and self.inflight >= MAX_INFLIGHT

    def add(self, records: list[RawRecord]) -> None:
        self.pending.extend(records)
        if len(self.pending) >= self.batch_max and self.inflight < MAX_INFLIGHT:
            self.dispatch()

    def dispatch(self) -> None:
        """Hand the pending records (up to ``batch_max``) to one accept call."""
        if not self.pending or self.inflight >= MAX_INFLIGHT:
            return
        batch = self.pending[: self.batch_max]
        del self.pending[: self.batch_max]
        self.inflight += 1
        self.idle.clear()
        fut = self.loop.run_in_executor(self.executor, self.ctx.accept, batch)
        fut.add_done_callback(self._done)

    def _done(self, fut: asyncio.Future[Any]) -> None:
        self.inflight -= 1
        exc = fut.exception()
        if exc is not None:
            self.ctx.count("syslog.accept_errors")
            log.error("syslog input: accept failed, %s: %s", type(exc).__name__, exc)
        while len(self.pending) >= self.batch_max and self.inflight < MAX_INFLIGHT:
            self.dispatch()
        if not self.congested and self.paused:
            for transport in list(self.paused):
                if not transport.is_closing():
                    transport.resume_reading()
            self.paused.clear()
        if self.inflight == 0:
            self.idle.set()

    def pause(self, transport: asyncio.Transport) -> None:
        transport.pause_reading()
        self.paused.add(transport)

    async def drain(self) -> None:
        """Dispatch everything pending and wait for every accept to return."""
        while self.pending or self.inflight:
            self.dispatch()
            if self.inflight:
                await self.idle.wait()
        self.executor.shutdown(wait=True)


class _Common:
    """Record making shared by the UDP and TCP protocols."""

    def __init__(self, cfg: SyslogInputConfig, batcher: _Batcher, ctx: InputContext) -> None:
        self.cfg = cfg
        self.batcher = batcher
        self.ctx = ctx
        self.proto = cfg.protocol

    def records(
        self, frames: list[bytes], peer: tuple[Any, ...], client_cn: str | None = None
    ) -> list[RawRecord]:
        now = datetime.now(UTC)
        ip, port = peer[0], peer[1]
        source = f"syslog:{self.proto}:{ip}"
        cfg = self.cfg
        extra = {"client_cn": client_cn} if client_cn is not None else {}
        return [
            RawRecord(
                raw=frame,
                source=source,
                position=-1,
                received=now,
                meta={
                    "input": "syslog",
                    "transport": self.proto,
                    "peer": ip,
                    "peer_port": port,
                    "format": cfg.format,
                    "timezone": cfg.timezone,
                    **extra,
                },
            )
            for frame in frames
        ]


class _UdpProtocol(_Common, asyncio.DatagramProtocol):
    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.batcher.congested:
            self.ctx.count("syslog.udp.dropped")
            return
        limit = self.cfg.max_message_bytes
        frames = []
        for part in data.split(b"\n") if b"\n" in data else (data,):
            if part.endswith(b"\r"):
                part = part[:-1]
            if part:
                if len(part) > limit:
                    self.ctx.count("syslog.udp.truncated")
                    part = part[:limit]
                frames.append(part)
        if frames:
            self.ctx.count("syslog.udp.messages", len(frames))
            self.batcher.add(self.records(frames, addr))

    def error_received(self, exc: Exception) -> None:
        log.warning("syslog input %s: UDP error: %s", self.cfg.name, exc)


class _TcpProtocol(_Common, asyncio.Protocol):
    def __init__(self, cfg: SyslogInputConfig, batcher: _Batcher, ctx: InputContext, conns: set[Any]) -> None:
        super().__init__(cfg, batcher, ctx)
        self.framer: Framer = make_framer(cfg.framing, cfg.max_message_bytes)
        self.conns = conns
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[Any, ...] = ("unknown", 0)
        self.client_cn: str | None = None
        self._seen_truncated = 0
        self._seen_errors = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = tuple(peer)
        if self.proto == "tls":  # called after the handshake: the certificate is verified
            self.client_cn = peer_common_name(transport.get_extra_info("peercert"))
        self.conns.add(self)
        self.ctx.count(f"syslog.{self.proto}.connections")

    def data_received(self, data: bytes) -> None:
        self._emit(self.framer.feed(data))
        if self.batcher.congested and self.transport is not None:
            self.batcher.pause(self.transport)

    def _emit(self, frames: list[bytes]) -> None:
        f = self.framer
        if f.truncated != self._seen_truncated or f.errors != self._seen_errors:
            self.ctx.count(f"syslog.{self.proto}.truncated", f.truncated - self._seen_truncated)
            self.ctx.count(f"syslog.{self.proto}.framing_errors", f.errors - self._seen_errors)
            self._seen_truncated, self._seen_errors = f.truncated, f.errors
            log.warning("syslog input %s: peer %s: %s", self.cfg.name, self.peer[0], f.last_error)
        if frames:
            self.ctx.count(f"syslog.{self.proto}.messages", len(frames))
            self.batcher.add(self.records(frames, self.peer, self.client_cn))

    def eof_received(self) -> bool | None:
        return None  # close the connection; connection_lost flushes

    def connection_lost(self, exc: Exception | None) -> None:
        self._emit(self.framer.flush())
        self.conns.discard(self)
        if self.transport is not None:
            self.batcher.paused.discard(self.transport)


class SyslogInput:
    """A syslog listener (UDP, TCP or TLS); see the module docstring.

    With TLS the certificate files are loaded here, so a bad file fails at build time
    with a :class:`~collectors.inputs.tls.TlsConfigError` naming the key and the file.
    """

    def __init__(self, config: SyslogInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.ready = threading.Event()
        self.bound_port: int = 0
        self.ssl_context = (
            server_context(config.tls, f"syslog input {config.name!r}") if config.tls is not None else None
        )

    def run(self, ctx: InputContext) -> None:
        """Listen until ``ctx.stop`` is set, then flush and return."""
        asyncio.run(self._main(ctx))

    async def _main(self, ctx: InputContext) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        batcher = _Batcher(loop, ctx, cfg.batch_max)
        conns: set[_TcpProtocol] = set()
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        server: asyncio.AbstractServer | None = None
        udp: asyncio.DatagramTransport | None = None
        try:
            if cfg.protocol == "udp":
                sock = socket.socket(family, socket.SOCK_DGRAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
                sock.bind((cfg.host, cfg.port))
                udp, _ = await loop.create_datagram_endpoint(
                    lambda: _UdpProtocol(cfg, batcher, ctx), sock=sock
                )
                self.bound_port = sock.getsockname()[1]
            else:
                server = await loop.create_server(
                    lambda: _TcpProtocol(cfg, batcher, ctx, conns),
                    host=cfg.host,
                    port=cfg.port,
                    family=family,
                    reuse_address=True,
                    backlog=1024,
                    ssl=self.ssl_context,
                    ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT_S if self.ssl_context else None,
                )
                self.bound_port = server.sockets[0].getsockname()[1]
        except OSError as exc:
            raise OSError(
                f"syslog input {cfg.name!r}: cannot bind {cfg.protocol} {cfg.host}:{cfg.port}: {exc}"
            ) from exc
        self.ready.set()
        log.info("syslog input %s listening on %s %s:%d", cfg.name, cfg.protocol, cfg.host, self.bound_port)
        wait_s = cfg.batch_wait_ms / 1000
        last_flush = loop.time()
        try:
            while not ctx.stop.is_set():
                await asyncio.sleep(min(_STOP_POLL_S, wait_s))
                now = loop.time()
                if now - last_flush >= wait_s:
                    batcher.dispatch()
                    last_flush = now
        finally:
            if server is not None:
                server.close()
            if udp is not None:
                udp.close()
            for conn in list(conns):
                if conn.transport is not None:
                    conn.transport.close()  # connection_lost flushes its framer
            for _ in range(100):  # let connection_lost run for every closed connection
                if not conns:
                    break
                await asyncio.sleep(0.01)
            if server is not None:
                await server.wait_closed()
            await batcher.drain()
