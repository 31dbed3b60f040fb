"""The NetFlow / IPFIX input: a UDP listener for NetFlow v5, v9 and IPFIX export packets.

Decoding needs state (templates), which parsers must not hold, so this input decodes
(:mod:`collectors.inputs.netflow_decode`) and emits one raw record per flow whose bytes
are the compact JSON of the decoded flow, with ``meta`` ``{"input": "netflow",
"format": "netflow", "transport": "udp", "peer": <exporter ip>, "peer_port": ..}``;
the ``netflow`` parser maps it to ECS. Source is ``netflow:<exporter ip>``, position -1
(the spool numbers it).

A datagram that cannot be decoded never stops the input: it is counted
(``netflow.errors``) and handed on as one record of its raw bytes with
``meta["decode_error"]``, which the parser refuses, so it lands in the dead-letter store.

Counters: ``netflow.packets``, ``netflow.flows``, ``netflow.errors``,
``netflow.accept_errors`` and the decoder's ``netflow.pending_*`` / ``netflow.templates``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from collectors.inputs.base import InputContext
from collectors.inputs.netflow_decode import NetflowDecodeError, NetflowDecoder
from soc.event import RawRecord

log = logging.getLogger(__name__)

_POLL_S = 0.1
MAX_DATAGRAM = 65535


@dataclass(frozen=True)
class NetflowInputConfig:
    """Settings of one NetFlow/IPFIX listener.

    ``port`` 0 binds an ephemeral port (see :attr:`NetflowInput.bound_port`);
    ``max_pending`` / ``pending_ttl_s`` bound the data sets held for a template that
    has not arrived yet; ``receive_buffer_bytes`` sizes the socket buffer (bursts).
    """

    name: str = "netflow"
    host: str = "0.0.0.0"
    port: int = 2055
    max_pending: int = 1024
    pending_ttl_s: float = 120.0
    batch_max: int = 512
    batch_wait_ms: int = 200
    receive_buffer_bytes: int = 4 * 1024 * 1024

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"netflow input {self.name!r}: port {self.port} is not in 0..65535")
        for key in ("max_pending", "batch_max", "batch_wait_ms", "receive_buffer_bytes"):
            if getattr(self, key) < 1:
                raise ValueError(f"netflow input {self.name!r}: {key} must be >= 1, got {getattr(self, key)}")
        if self.pending_ttl_s <= 0:
            raise ValueError(
                f"netflow input {self.name!r}: pending_ttl_s must be > 0, got {self.pending_ttl_s}"
            )


def flow_records(flows: list[dict], peer: str, peer_port: int, received: datetime) -> list[RawRecord]:
    """Raw records (compact JSON) of decoded flows from one exporter."""
    meta = {"input": "netflow", "format": "netflow", "transport": "udp", "peer": peer, "peer_port": peer_port}
    source = f"netflow:{peer}"
    return [
        RawRecord(
            raw=json.dumps(flow, separators=(",", ":")).encode(),
            source=source,
            position=-1,
            received=received,
            meta=dict(meta),
        )
        for flow in flows
    ]


class NetflowInput:
    """A UDP NetFlow v5/v9/IPFIX collector (``Input`` contract)."""

    def __init__(self, config: NetflowInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.ready = threading.Event()
        self.bound_port: int | None = None
        self.decoder = NetflowDecoder(max_pending=config.max_pending, pending_ttl=config.pending_ttl_s)

    def handle(self, datagram: bytes, peer: str, peer_port: int, ctx: InputContext) -> list[RawRecord]:
        """Decode one datagram into records; a malformed one becomes a dead-letter record."""
        received = datetime.now(UTC)
        before = dict(self.decoder.counters)
        try:
            flows = self.decoder.decode(datagram, f"{peer}:{peer_port}")
            error = None
        except NetflowDecodeError as exc:
            flows = list(self.decoder.last_partial)
            error = str(exc)
        for key, value in self.decoder.counters.items():
            if value != before.get(key, 0):
                ctx.count(f"netflow.{key}", value - before.get(key, 0))
        records = flow_records(flows, peer, peer_port, received)
        if error is not None:
            log.warning("netflow input %s: bad datagram from %s: %s", self.name, peer, error)
            records.append(
                RawRecord(
                    raw=datagram,
                    source=f"netflow:{peer}",
                    position=-1,
                    received=received,
                    meta={
                        "input": "netflow",
                        "format": "netflow",
                        "transport": "udp",
                        "peer": peer,
                        "peer_port": peer_port,
                        "decode_error": error,
                    },
                )
            )
        return records

    def run(self, ctx: InputContext) -> None:
        cfg = self.config
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.receive_buffer_bytes)
            except OSError:  # pragma: no cover - a kernel limit, not fatal
                pass
            try:
                sock.bind((cfg.host, cfg.port))
            except OSError as exc:
                raise OSError(
                    f"netflow input {cfg.name!r}: cannot bind udp {cfg.host}:{cfg.port}: {exc}"
                ) from exc
            sock.settimeout(_POLL_S)
            self.bound_port = sock.getsockname()[1]
            self.ready.set()
            self._loop(sock, ctx)
        finally:
            sock.close()

    def _loop(self, sock: socket.socket, ctx: InputContext) -> None:
        cfg = self.config
        batch: list[RawRecord] = []
        deadline = time.monotonic() + cfg.batch_wait_ms / 1000
        while not ctx.stop.is_set():
            try:
                datagram, addr = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                datagram = None
            except OSError as exc:  # pragma: no cover - e.g. ICMP errors surfacing on Linux
                log.warning("netflow input %s: receive error: %s", cfg.name, exc)
                datagram = None
            if datagram is not None:
                batch.extend(self.handle(datagram, addr[0], addr[1], ctx))
            now = time.monotonic()
            if batch and (len(batch) >= cfg.batch_max or now >= deadline):
                self._accept(batch, ctx)
                batch = []
            if now >= deadline:
                deadline = now + cfg.batch_wait_ms / 1000
        if batch:
            self._accept(batch, ctx)

    def _accept(self, batch: list[RawRecord], ctx: InputContext) -> None:
        try:
            ctx.accept(batch)
        except Exception as exc:  # the spool refused: count, keep listening
            ctx.count("netflow.accept_errors")
            ctx.count("netflow.dropped", len(batch))
            log.error("netflow input %s: accept failed, %s: %s", self.config.name, type(exc).__name__, exc)
