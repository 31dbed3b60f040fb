"""Decoded NetFlow / IPFIX flows (``netflow``) to ECS, as Filebeat's ``netflow`` input maps them.

The ``netflow`` input decodes export packets (templates are state, which a parser must
not hold) and hands over one JSON object per flow: ``{"type": "netflow_flow",
"exporter": {...}, <IANA element name in snake case>: value, ...}``. This parser keeps
that object as ``netflow.*`` and adds the ECS view: ``source``/``destination``
ip and port, ``network.transport``/``iana_number``/``bytes``/``packets``/``direction``,
``event.start``/``end``/``duration``, ``observer.ip`` (the exporter) and
``network.tcp_flags`` (names of the TCP control bits; not in ECS, as Zeek's history).

A record the input could not decode (``meta["decode_error"]``) raises
:class:`ParseError`, so its bytes go to the dead-letter store.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from collectors.parsers.base import ParseError
from soc.event import Event, RawRecord, format_ts, parse_ts

PARSER_NAME = "netflow"

IANA_PROTOCOLS: dict[int, str] = {
    1: "icmp", 2: "igmp", 4: "ipv4", 6: "tcp", 17: "udp", 41: "ipv6", 47: "gre", 50: "esp", 51: "ah",
    58: "ipv6-icmp", 89: "ospf", 103: "pim", 112: "vrrp", 132: "sctp",
}  # fmt: skip
"""IANA protocol number -> ECS ``network.transport`` name."""

TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS")


def tcp_flag_names(bits: int) -> list[str]:
    """Names of the TCP control bits set in ``bits`` (``0x12`` -> ``["SYN", "ACK"]``)."""
    return [name for i, name in enumerate(TCP_FLAG_NAMES) if bits >> i & 1]


_FLOW_DIRECTION = {0: "inbound", 1: "outbound"}


def _first(nf: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = nf.get(name)
        if value is not None:
            return value
    return None


def _time(nf: dict[str, Any], base: datetime | None, which: str) -> datetime | None:
    """Flow start/end from absolute elements, or from sysUpTime relative to the export header."""
    for unit in ("milliseconds", "seconds", "microseconds", "nanoseconds"):
        value = nf.get(f"flow_{which}_{unit}")
        if isinstance(value, str):
            return parse_ts(value)
    uptime = nf.get(f"flow_{which}_sys_up_time")
    exporter = nf.get("exporter") or {}
    if isinstance(uptime, int) and base is not None and exporter.get("version") in (5, 9):
        return base - timedelta(milliseconds=int(exporter.get("uptime_millis") or 0) - uptime)
    init = nf.get("system_init_time_milliseconds") or exporter.get("system_init_time")
    if isinstance(uptime, int) and isinstance(init, str):
        return parse_ts(init) + timedelta(milliseconds=uptime)
    return None


class NetflowParser:
    """Maps one decoded flow (JSON from the ``netflow`` input) to one ECS event."""

    name = PARSER_NAME

    def __init__(self, **_options: Any) -> None:
        pass

    def detect(self, raw: bytes) -> bool:
        return raw.startswith((b'{"type":"netflow_flow"', b'{"type":"netflow_options"'))

    def parse(self, record: RawRecord) -> list[Event]:
        error = record.meta.get("decode_error")
        if error:
            raise ParseError(f"undecodable NetFlow/IPFIX datagram: {error}", parser=self.name, field="packet")
        try:
            nf = json.loads(record.raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError(f"not a decoded flow (JSON): {exc}", parser=self.name, field="message") from exc
        if not isinstance(nf, dict) or nf.get("type") not in ("netflow_flow", "netflow_options"):
            raise ParseError("not a decoded flow: no type netflow_flow/netflow_options", parser=self.name)
        return [to_ecs(nf)]


def to_ecs(nf: dict[str, Any]) -> Event:
    """The ECS event of one decoded flow or options record."""
    exporter = nf.get("exporter") or {}
    event: Event = {"event": {"kind": "event", "category": ["network"], "action": nf["type"]}, "netflow": nf}
    base: datetime | None = None
    if isinstance(exporter.get("timestamp"), str):
        base = parse_ts(exporter["timestamp"])
        event["@timestamp"] = format_ts(base)
    address = str(exporter.get("address") or "")
    if address:
        host = address.rsplit(":", 1)[0].strip("[]") if ":" in address else address
        event["observer"] = {"ip": host}
    if nf["type"] != "netflow_flow":
        return event
    event["event"]["type"] = ["connection"]
    src_ip = _first(nf, "source_ipv4_address", "source_ipv6_address")
    dst_ip = _first(nf, "destination_ipv4_address", "destination_ipv6_address")
    src_port = _first(nf, "source_transport_port", "tcp_source_port", "udp_source_port")
    dst_port = _first(nf, "destination_transport_port", "tcp_destination_port", "udp_destination_port")
    source: dict[str, Any] = {}
    destination: dict[str, Any] = {}
    if src_ip is not None:
        source["ip"] = src_ip
    if src_port is not None:
        source["port"] = src_port
    if dst_ip is not None:
        destination["ip"] = dst_ip
    if dst_port is not None:
        destination["port"] = dst_port
    network: dict[str, Any] = {}
    proto = nf.get("protocol_identifier")
    if isinstance(proto, int):
        network["iana_number"] = str(proto)
        if proto in IANA_PROTOCOLS:
            network["transport"] = IANA_PROTOCOLS[proto]
    octets = _first(nf, "octet_delta_count", "octet_total_count", "post_octet_delta_count")
    packets = _first(nf, "packet_delta_count", "packet_total_count", "post_packet_delta_count")
    init_o, resp_o = nf.get("initiator_octets"), nf.get("responder_octets")
    init_p, resp_p = nf.get("initiator_packets"), nf.get("responder_packets")
    if isinstance(init_o, int) and isinstance(resp_o, int):  # a biflow (RFC 5103 style counters)
        if nf.get("biflow_direction") == 2:  # reverseInitiator: the exporter's source answered
            init_o, resp_o, init_p, resp_p = resp_o, init_o, resp_p, init_p
        source["bytes"], destination["bytes"] = init_o, resp_o
        octets = init_o + resp_o
        if isinstance(init_p, int) and isinstance(resp_p, int):
            source["packets"], destination["packets"] = init_p, resp_p
            packets = init_p + resp_p
    else:
        if isinstance(octets, int):
            source["bytes"] = octets
        if isinstance(packets, int):
            source["packets"] = packets
    if isinstance(octets, int):
        network["bytes"] = octets
    if isinstance(packets, int):
        network["packets"] = packets
    direction = _FLOW_DIRECTION.get(nf.get("flow_direction"))  # type: ignore[arg-type]
    if direction:
        network["direction"] = direction
    flags = nf.get("tcp_control_bits")
    if isinstance(flags, int) and network.get("transport") == "tcp":
        network["tcp_flags"] = tcp_flag_names(flags)
    start, end = _time(nf, base, "start"), _time(nf, base, "end")
    if start is not None:
        event["event"]["start"] = format_ts(start)
    if end is not None:
        event["event"]["end"] = format_ts(end)
    if start is not None and end is not None and end >= start:
        event["event"]["duration"] = int((end - start).total_seconds() * 1_000_000) * 1000
    if source:
        event["source"] = source
    if destination:
        event["destination"] = destination
    if network:
        event["network"] = network
    related = [ip for ip in (src_ip, dst_ip) if ip is not None]
    if related:
        event["related"] = {"ip": sorted(set(related))}
    return event
