"""Packets to records: pcap / pcapng files (streamed with scapy) and live capture.

A packet stream is summarised, not stored: :class:`FlowTable` keeps bidirectional
flows (5-tuple; bytes and packets each way, counted at the IP layer; first/last seen;
TCP flags seen) and emits a flow when it ends (FIN both ways, or RST), when it has
been idle ``idle_timeout`` seconds of *packet* time, or at the end of the stream.
DNS messages (UDP port 53 / 5353) are emitted one each, queries and answers apart.

Each emitted record is compact JSON (``{"kind": "flow", ...}`` or ``{"kind": "dns",
...}``) with ``meta`` ``{"input": "pcap", "format": "packet", "path" | "interface"}``;
the ``packet`` parser maps it to ECS. For files, ``position`` is the index of the
packet that opened the flow (or carried the DNS message), so a re-read gives the same
event ids.

* :func:`read_pcap_records` reads a file (``soc parse`` / ``soc ingest``);
  :func:`is_pcap` recognises one by its magic bytes.
* :class:`PcapInput` captures live on an interface with scapy's ``AsyncSniffer``, only
  when ``PcapInputConfig.live`` is set, and refuses with :class:`CaptureNotPermitted`
  when the process may not capture (not root / no CAP_NET_RAW) or the interface does
  not exist.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.inputs.base import InputContext
from soc.event import RawRecord

log = logging.getLogger(__name__)

PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",  # pcap, little-endian, microseconds
    b"\xa1\xb2\xc3\xd4",  # pcap, big-endian
    b"\x4d\x3c\xb2\xa1",  # pcap, little-endian, nanoseconds
    b"\xa1\xb2\x3c\x4d",  # pcap, big-endian, nanoseconds
    b"\x0a\x0d\x0d\x0a",  # pcapng section header block
)
CLOSE_GRACE_S = 1.0
"""A TCP flow closed by FIN both ways is emitted once this long passed without packets."""
DNS_PORTS = frozenset({53, 5353})
TCP_FLAGS = (("FIN", 0x01), ("SYN", 0x02), ("RST", 0x04), ("PSH", 0x08), ("ACK", 0x10), ("URG", 0x20),
             ("ECE", 0x40), ("CWR", 0x80))  # fmt: skip


class PcapError(Exception):
    """A capture file or interface that cannot be read; the message names which and why."""


class CaptureNotPermitted(PcapError):
    """Live capture refused: not enabled, not privileged, or no such interface."""


def is_pcap(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` starts with a pcap or pcapng magic number."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) in PCAP_MAGICS
    except OSError:
        return False


def _load_layers() -> None:
    """Register the link and network layers with scapy (their import does it)."""
    import scapy.layers.dns
    import scapy.layers.inet
    import scapy.layers.inet6
    import scapy.layers.l2  # noqa: F401


def _iso(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


# --- flows --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Flow:
    transport: str
    iana: int
    src_ip: str
    src_port: int | None
    dst_ip: str
    dst_port: int | None
    first: float
    last: float
    position: int
    src_bytes: int = 0
    src_packets: int = 0
    dst_bytes: int = 0
    dst_packets: int = 0
    flags: int = 0
    fin_src: bool = False
    fin_dst: bool = False
    closing: bool = False
    icmp_type: int | None = None
    icmp_code: int | None = None

    def record(self, reason: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "flow",
            "transport": self.transport,
            "iana_number": self.iana,
            "src_ip": self.src_ip,
            "src_port": self.src_port,
            "dst_ip": self.dst_ip,
            "dst_port": self.dst_port,
            "start": _iso(self.first),
            "end": _iso(self.last),
            "duration_us": round((self.last - self.first) * 1_000_000),
            "src_bytes": self.src_bytes,
            "src_packets": self.src_packets,
            "dst_bytes": self.dst_bytes,
            "dst_packets": self.dst_packets,
            "end_reason": reason,
        }
        if self.transport == "tcp":
            out["tcp_flags"] = [name for name, bit in TCP_FLAGS if self.flags & bit]
        if self.icmp_type is not None:
            out["icmp_type"], out["icmp_code"] = self.icmp_type, self.icmp_code
        return out


FlowKey = tuple[int, str, int, str, int]


@dataclass
class FlowTable:
    """Bidirectional flow tracking over a packet stream (file or live).

    :meth:`add` takes one packet (a scapy packet), its time and its index and returns
    the records it completes (an ended flow, a DNS message); :meth:`flush` ends all.
    ``counters``: ``packets``, ``non_ip``, ``malformed``, ``flows``, ``dns``.
    """

    idle_timeout: float = 60.0
    max_flows: int = 100_000
    dns: bool = True
    flows: dict[FlowKey, _Flow] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    _last_sweep: float = 0.0

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def add(self, pkt: Any, ts: float, index: int) -> list[tuple[int, dict[str, Any]]]:
        """Account one packet; returns ``(position, record)`` pairs now complete."""
        from scapy.layers.inet import ICMP, IP, TCP, UDP
        from scapy.layers.inet6 import IPv6

        self.count("packets")
        out: list[tuple[int, dict[str, Any]]] = []
        if ts - self._last_sweep >= 1.0:
            out.extend(self.sweep(ts))
            self._last_sweep = ts
        try:
            if IP in pkt:
                ip = pkt[IP]
                src, dst, proto, size = ip.src, ip.dst, int(ip.proto), int(ip.len or len(ip))
            elif IPv6 in pkt:
                ip = pkt[IPv6]
                src, dst, proto, size = ip.src, ip.dst, int(ip.nh), int(ip.plen or 0) + 40
            else:
                self.count("non_ip")
                return out
            sport = dport = None
            flags = 0
            l4 = None
            if TCP in pkt:
                l4 = pkt[TCP]
                sport, dport, flags, proto = int(l4.sport), int(l4.dport), int(l4.flags), 6
            elif UDP in pkt:
                l4 = pkt[UDP]
                sport, dport, proto = int(l4.sport), int(l4.dport), 17
        except Exception as exc:  # scapy could not dissect: count, go on
            self.count("malformed")
            log.debug("pcap: packet %d not dissected: %s", index, exc)
            return out
        transport = {6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp"}.get(proto, str(proto))
        fwd: FlowKey = (proto, src, sport or 0, dst, dport or 0)
        rev: FlowKey = (proto, dst, dport or 0, src, sport or 0)
        flow = self.flows.get(fwd)
        forward = True
        if flow is None:
            flow = self.flows.get(rev)
            forward = flow is None
        if flow is not None and flow.closing and proto == 6 and flags & 0x02 and not flags & 0x10:
            out.append(self._end(fwd if forward else rev, "fin"))  # a new connection reuses the 5-tuple
            flow, forward = None, True
        if flow is None:
            if len(self.flows) >= self.max_flows:  # shed the oldest flow rather than grow without bound
                oldest = min(self.flows, key=lambda k: self.flows[k].last)
                out.append(self._end(oldest, "evicted"))
            flow = _Flow(transport, proto, src, sport, dst, dport, ts, ts, index)
            if proto == 1 and ICMP in pkt:
                flow.icmp_type, flow.icmp_code = int(pkt[ICMP].type), int(pkt[ICMP].code)
            self.flows[fwd] = flow
            key = fwd
        else:
            key = fwd if forward else rev
        flow.last = max(flow.last, ts)
        if forward:
            flow.src_bytes += size
            flow.src_packets += 1
        else:
            flow.dst_bytes += size
            flow.dst_packets += 1
        if proto == 6:
            flow.flags |= flags
            if flags & 0x01:
                if forward:
                    flow.fin_src = True
                else:
                    flow.fin_dst = True
            if flags & 0x04:
                out.append(self._end(key, "rst"))
            elif flow.fin_src and flow.fin_dst:
                flow.closing = True  # ended at the next sweep, so the last ACK still counts
        if self.dns and proto == 17 and (sport in DNS_PORTS or dport in DNS_PORTS):
            rec = self._dns(pkt, ts, src, sport, dst, dport, index)
            if rec is not None:
                out.append((index, rec))
        return out

    def _end(self, key: FlowKey, reason: str) -> tuple[int, dict[str, Any]]:
        flow = self.flows.pop(key)
        self.count("flows")
        return flow.position, flow.record(reason)

    def sweep(self, now: float) -> list[tuple[int, dict[str, Any]]]:
        """End the flows idle for ``idle_timeout`` seconds before ``now`` (packet time)."""
        limit, closed = now - self.idle_timeout, now - CLOSE_GRACE_S
        done = [
            (k, f.closing) for k, f in self.flows.items() if f.last < limit or (f.closing and f.last < closed)
        ]
        return [self._end(k, "fin" if closing else "idle") for k, closing in done]

    def flush(self) -> list[tuple[int, dict[str, Any]]]:
        """End every open flow (end of file / capture), oldest first."""
        keys = sorted(self.flows, key=lambda k: self.flows[k].position)
        return [self._end(k, "fin" if self.flows[k].closing else "eof") for k in keys]

    def _dns(
        self, pkt: Any, ts: float, src: str, sport: int | None, dst: str, dport: int | None, index: int
    ) -> dict[str, Any] | None:
        from scapy.layers.dns import DNS

        try:
            if DNS not in pkt:
                return None
            msg = pkt[DNS]
            rec = dns_record(msg)
        except Exception as exc:  # a malformed DNS payload: the flow still counts it
            self.count("dns_malformed")
            log.debug("pcap: DNS in packet %d not decoded: %s", index, exc)
            return None
        self.count("dns")
        rec.update({"ts": _iso(ts), "src_ip": src, "src_port": sport, "dst_ip": dst, "dst_port": dport,
                    "transport": "udp"})  # fmt: skip
        return rec


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _name(value: Any) -> str:
    text = _text(value)
    return text[:-1] if text.endswith(".") and len(text) > 1 else text


def dns_record(msg: Any) -> dict[str, Any]:
    """The JSON-able summary of one scapy ``DNS`` message."""
    from scapy.layers.dns import dnsqtypes, dnstypes

    rcodes = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
    flags = [name for name, on in (("AA", msg.aa), ("TC", msg.tc), ("RD", msg.rd), ("RA", msg.ra),
                                   ("AD", msg.ad), ("CD", msg.cd)) if on]  # fmt: skip
    rec: dict[str, Any] = {
        "kind": "dns",
        "id": int(msg.id),
        "qr": bool(msg.qr),
        "opcode": int(msg.opcode),
        "rcode": int(msg.rcode),
        "rcode_name": rcodes.get(int(msg.rcode), str(int(msg.rcode))),
        "flags": flags,
    }
    questions = list(msg.qd) if msg.qd else []
    if questions:
        q = questions[0]
        qtype = int(q.qtype)
        rec["question"] = {"name": _name(q.qname), "type": dnsqtypes.get(qtype, str(qtype)),
                           "class": "IN" if int(q.qclass) == 1 else str(int(q.qclass))}  # fmt: skip
    answers = []
    for rr in list(msg.an or []):
        rtype = int(rr.type)
        data = getattr(rr, "rdata", None)
        if isinstance(data, list):
            data = " ".join(_text(d) for d in data)
        answers.append(
            {
                "name": _name(rr.rrname),
                "type": dnstypes.get(rtype, str(rtype)),
                "ttl": int(getattr(rr, "ttl", 0) or 0),
                "data": _name(data) if data is not None else "",
            }
        )
    if answers:
        rec["answers"] = answers
    return rec


# --- files -------------------------------------------------------------------------------------------


def _records(
    pairs: Iterable[tuple[int, dict[str, Any]]], source: str, meta: dict[str, Any]
) -> Iterator[RawRecord]:
    for position, rec in pairs:
        yield RawRecord(
            raw=json.dumps(rec, separators=(",", ":")).encode(),
            source=source,
            position=position,
            meta=dict(meta),
        )


def read_pcap_records(
    path: str | os.PathLike[str], *, idle_timeout: float = 60.0, table: FlowTable | None = None
) -> Iterator[RawRecord]:
    """Flow and DNS records of a pcap / pcapng file, streamed packet by packet.

    Raises :class:`PcapError` when the file cannot be opened as a capture; a packet
    scapy cannot dissect is counted in ``table.counters["malformed"]`` and skipped.
    """
    from scapy.error import Scapy_Exception
    from scapy.utils import PcapReader

    _load_layers()
    resolved = Path(path).resolve()
    table = table if table is not None else FlowTable(idle_timeout=idle_timeout)
    source = f"pcap:{resolved}"
    meta = {"input": "pcap", "format": "packet", "path": str(resolved)}
    try:
        reader = PcapReader(str(resolved))
    except (Scapy_Exception, OSError, ValueError) as exc:
        raise PcapError(f"{resolved}: not a readable pcap/pcapng file: {exc}") from exc
    try:
        index = 0
        while True:
            try:
                pkt = reader.read_packet()
            except EOFError:
                break
            except (Scapy_Exception, ValueError, OSError) as exc:  # a truncated file: keep what was read
                table.count("truncated")
                log.warning("pcap %s: stopped at packet %d: %s", resolved, index, exc)
                break
            if pkt is None:
                continue
            yield from _records(table.add(pkt, float(pkt.time), index), source, meta)
            index += 1
        yield from _records(table.flush(), source, meta)
    finally:
        reader.close()


# --- live capture ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PcapInputConfig:
    """Settings of a live capture.

    ``live`` must be true to capture at all (capturing is a deliberate choice);
    ``interface`` names the device; ``bpf_filter`` narrows what is captured;
    ``idle_timeout_s`` ends idle flows; flows still open at stop are flushed.
    """

    name: str = "pcap"
    interface: str = "eth0"
    live: bool = False
    bpf_filter: str | None = None
    idle_timeout_s: float = 60.0
    max_flows: int = 100_000
    batch_wait_ms: int = 500

    def __post_init__(self) -> None:
        if not self.interface:
            raise ValueError(f"pcap input {self.name!r}: interface must be set")
        if self.idle_timeout_s <= 0:
            raise ValueError(
                f"pcap input {self.name!r}: idle_timeout_s must be > 0, got {self.idle_timeout_s}"
            )
        if self.max_flows < 1 or self.batch_wait_ms < 1:
            raise ValueError(f"pcap input {self.name!r}: max_flows and batch_wait_ms must be >= 1")


def check_capture_permitted(config: PcapInputConfig) -> None:
    """Raise :class:`CaptureNotPermitted` unless a live capture on the interface may start."""
    import socket

    from scapy.interfaces import get_if_list

    if not config.live:
        raise CaptureNotPermitted(f"pcap input {config.name!r}: live capture is disabled (set live: true)")
    if config.interface not in get_if_list():
        raise CaptureNotPermitted(
            f"pcap input {config.name!r}: no interface {config.interface!r} (have {', '.join(get_if_list())})"
        )
    try:
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW).close()
    except PermissionError as exc:
        raise CaptureNotPermitted(
            f"pcap input {config.name!r}: capturing on {config.interface!r} needs root or CAP_NET_RAW: {exc}"
        ) from exc
    except (AttributeError, OSError) as exc:
        raise CaptureNotPermitted(f"pcap input {config.name!r}: raw sockets unavailable: {exc}") from exc


class PcapInput:
    """Live capture on one interface (``Input`` contract); refuses when not permitted."""

    def __init__(self, config: PcapInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.ready = threading.Event()
        self.table = FlowTable(idle_timeout=config.idle_timeout_s, max_flows=config.max_flows)
        self._lock = threading.Lock()
        self._pending: list[tuple[int, dict[str, Any]]] = []
        self._index = 0

    def _on_packet(self, pkt: Any) -> None:
        with self._lock:
            self._pending.extend(self.table.add(pkt, float(pkt.time), self._index))
            self._index += 1

    def run(self, ctx: InputContext) -> None:
        from scapy.sendrecv import AsyncSniffer

        _load_layers()
        cfg = self.config
        check_capture_permitted(cfg)
        source = f"pcap:{cfg.interface}"
        meta = {"input": "pcap", "format": "packet", "interface": cfg.interface}
        sniffer = AsyncSniffer(iface=cfg.interface, filter=cfg.bpf_filter, prn=self._on_packet, store=False)
        sniffer.start()
        try:
            deadline = time.monotonic() + 5
            while not getattr(sniffer, "running", False) and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.05)  # the socket is bound shortly after ``running`` turns true
            self.ready.set()
            while not ctx.stop.wait(cfg.batch_wait_ms / 1000):
                self._drain(ctx, source, meta, now=time.time())
        finally:
            try:
                sniffer.stop()
            except Exception as exc:  # stopping a sniffer that failed to start
                log.warning("pcap input %s: stopping capture: %s", cfg.name, exc)
            with self._lock:
                self._pending.extend(self.table.flush())
            self._drain(ctx, source, meta, now=None)

    def _drain(self, ctx: InputContext, source: str, meta: dict[str, Any], now: float | None) -> None:
        with self._lock:
            if now is not None:
                self._pending.extend(self.table.sweep(now))
            pending, self._pending = self._pending, []
        records = list(_records(pending, source, meta))
        for record in records:
            record.position = -1  # network-like: the spool numbers live records
        for key, value in self.table.counters.items():
            ctx.counters[f"pcap.{key}"] = value
        if records:
            ctx.accept(records)
