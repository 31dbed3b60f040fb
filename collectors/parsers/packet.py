"""Packet summaries (``packet``) to ECS: flows as network connection events, DNS messages
as DNS events.

The ``pcap`` input (files, or live capture) keeps the flow table and hands over compact
JSON, ``{"kind": "flow", ...}`` or ``{"kind": "dns", ...}`` (see
:mod:`collectors.inputs.pcap`). Flows become ``event.category ["network"]``,
``event.type ["connection"]`` with ``source``/``destination`` (ip, port, bytes,
packets), ``network.transport``/``iana_number``/``bytes``/``packets``,
``event.start``/``end``/``duration`` and ``network.tcp_flags`` (not in ECS, as in the
``netflow`` parser). DNS messages become ``event.category ["network"]``,
``event.type ["protocol"]`` with ``dns.type`` (``query``/``answer``), ``dns.id``,
``dns.question.name``/``type``/``class``, ``dns.answers``, ``dns.response_code``,
``dns.header_flags``, ``dns.resolved_ip`` and ``network.protocol: dns``.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from collectors.parsers.base import ParseError
from soc.event import Event, RawRecord

PARSER_NAME = "packet"


def _registered_domain(name: str) -> str | None:
    """The last two labels of a name (``a.b.example.com`` -> ``example.com``); no PSL here."""
    labels = [x for x in name.split(".") if x]
    return ".".join(labels[-2:]) if len(labels) >= 2 else None


def _endpoint(ip: Any, port: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ip:
        out["ip"] = ip
    if isinstance(port, int):
        out["port"] = port
    return out


class PacketParser:
    """Maps one flow or DNS summary (JSON from the ``pcap`` input) to one ECS event."""

    name = PARSER_NAME

    def __init__(self, **_options: Any) -> None:
        pass

    def detect(self, raw: bytes) -> bool:
        return raw.startswith((b'{"kind":"flow"', b'{"kind":"dns"'))

    def parse(self, record: RawRecord) -> list[Event]:
        try:
            rec = json.loads(record.raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ParseError(
                f"not a packet summary (JSON): {exc}", parser=self.name, field="message"
            ) from exc
        if not isinstance(rec, dict):
            raise ParseError("not a packet summary: not a JSON object", parser=self.name)
        kind = rec.get("kind")
        try:
            if kind == "flow":
                return [flow_to_ecs(rec)]
            if kind == "dns":
                return [dns_to_ecs(rec)]
        except (KeyError, TypeError, ValueError) as exc:
            raise ParseError(f"{kind} summary incomplete: {exc}", parser=self.name, field=str(exc)) from exc
        raise ParseError(f"unknown packet summary kind {kind!r} (expected flow or dns)", parser=self.name)


def flow_to_ecs(rec: dict[str, Any]) -> Event:
    """The ECS connection event of one bidirectional flow summary."""
    source = _endpoint(rec["src_ip"], rec.get("src_port"))
    destination = _endpoint(rec["dst_ip"], rec.get("dst_port"))
    source.update(bytes=rec["src_bytes"], packets=rec["src_packets"])
    destination.update(bytes=rec["dst_bytes"], packets=rec["dst_packets"])
    network: dict[str, Any] = {
        "transport": rec["transport"],
        "iana_number": str(rec["iana_number"]),
        "bytes": rec["src_bytes"] + rec["dst_bytes"],
        "packets": rec["src_packets"] + rec["dst_packets"],
        "type": "ipv6" if ":" in rec["src_ip"] else "ipv4",
    }
    if "tcp_flags" in rec:
        network["tcp_flags"] = rec["tcp_flags"]
    event: Event = {
        "@timestamp": rec["start"],
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["connection", "end"],
            "action": "network_flow",
            "start": rec["start"],
            "end": rec["end"],
            "duration": int(rec["duration_us"]) * 1000,
            "reason": rec.get("end_reason"),
        },
        "source": source,
        "destination": destination,
        "network": network,
        "related": {"ip": sorted({rec["src_ip"], rec["dst_ip"]})},
    }
    if rec.get("icmp_type") is not None:
        event["icmp"] = {"type": rec["icmp_type"], "code": rec.get("icmp_code")}
    return event


def dns_to_ecs(rec: dict[str, Any]) -> Event:
    """The ECS DNS event of one DNS message (a query, or an answer with its records)."""
    answer = bool(rec["qr"])
    dns: dict[str, Any] = {
        "id": str(rec["id"]),
        "type": "answer" if answer else "query",
        "op_code": "QUERY" if rec.get("opcode", 0) == 0 else str(rec.get("opcode")),
        "header_flags": rec.get("flags", []),
    }
    question = rec.get("question")
    if question:
        q = {"name": question["name"], "type": question["type"], "class": question.get("class", "IN")}
        registered = _registered_domain(question["name"])
        if registered:
            q["registered_domain"] = registered
        dns["question"] = q
    if answer:
        dns["response_code"] = rec.get("rcode_name", str(rec.get("rcode")))
        answers = rec.get("answers") or []
        if answers:
            dns["answers"] = answers
            resolved = []
            for a in answers:
                try:
                    if a.get("type") in ("A", "AAAA"):
                        resolved.append(str(ipaddress.ip_address(a["data"])))
                except ValueError:
                    continue
            if resolved:
                dns["resolved_ip"] = resolved
    event: Event = {
        "@timestamp": rec["ts"],
        "event": {
            "kind": "event",
            "category": ["network"],
            "type": ["protocol", "info"],
            "action": "dns_answer" if answer else "dns_query",
        },
        "source": _endpoint(rec.get("src_ip"), rec.get("src_port")),
        "destination": _endpoint(rec.get("dst_ip"), rec.get("dst_port")),
        "network": {"transport": rec.get("transport", "udp"), "protocol": "dns", "iana_number": "17"},
        "dns": dns,
        "related": {"ip": sorted({x for x in (rec.get("src_ip"), rec.get("dst_ip")) if x})},
    }
    if question:
        event["related"]["hosts"] = [question["name"]]
    return event
