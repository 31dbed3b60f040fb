"""Netfilter kernel ``LOG`` lines (``iptables``), mapped as Filebeat's ``iptables`` module maps them.

A line is a syslog header (:func:`collectors.parsers.syslog.parse_syslog`) and a
kernel message such as::

    kernel: [16571.45] iptables DROP_INPUT: IN=eth0 OUT= MAC=.. SRC=203.0.113.36 DST=172.16.54.114
        LEN=52 TOS=0x00 PREC=0x00 TTL=115 ID=15743 DF PROTO=TCP SPT=17805 DPT=445 WINDOW=8192
        RES=0x00 SYN URGP=0

The words are read once, left to right (no regular expression): ``KEY=value`` pairs
and bare flags (``DF``, ``SYN`` ...). Keys after ``PROTO=`` belong to the transport
header (its ``LEN=`` and ``ID=`` are the UDP length and ICMP echo id). An ICMP error's
quoted packet (``[SRC=... ]``) is not read. The log prefix before ``IN=`` gives
``event.action``: a Ubiquiti EdgeRouter label ``[RULESET-RULE-D]`` (``D``/``A``/``R``:
drop/accept/reject, ``rule.name`` / ``rule.id``), or an ``iptables -j LOG --log-prefix``
text ending in ``:`` (``DROP_INPUT:`` gives ``drop_input``).

A line that has no netfilter field (``IN=``, ``SRC=`` or ``PROTO=``) raises
:class:`ParseError`; a fragment of one (syslog split a long line) parses partially.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.syslog import (
    base_event,
    parse_syslog,
    record_timezone,
    resolve_timezone,
)
from soc.event import Event, RawRecord

PARSER_NAME = "iptables"

_TCP_FLAGS = frozenset({"CWR", "ECE", "URG", "ACK", "PSH", "RST", "SYN", "FIN"})
_FRAG_FLAGS = frozenset({"CE", "DF", "MF"})
_UBIQUITI_ACTIONS = {"D": "drop", "A": "accept", "R": "reject"}
_DENIED_WORDS = ("drop", "deny", "reject", "block")
_ALLOWED_WORDS = ("accept", "allow", "pass")
_ETHER_TYPES = {2048: "ipv4", 34525: "ipv6"}
_INT_KEYS = {
    "LEN": "length", "TTL": "ttl", "ID": "id", "HOPLIMIT": "ttl", "FLOWLBL": "flow_label",
    "FRAG": "fragment_offset", "MARK": "mark", "UID": "uid", "GID": "gid",
}  # fmt: skip
_L4_INT_KEYS = {
    "TCP": {"WINDOW": "tcp.window", "SEQ": "tcp.seq", "ACK": "tcp.ack", "URGP": "tcp.urgp"},
    "UDP": {"LEN": "udp.length"},
    "UDPLITE": {"LEN": "udp.length"},
    "ICMP": {"TYPE": "icmp.type", "CODE": "icmp.code", "ID": "icmp.id", "SEQ": "icmp.seq",
             "PARAMETER": "icmp.parameter", "MTU": "icmp.mtu"},
}  # fmt: skip
_L4_INT_KEYS["ICMPV6"] = _L4_INT_KEYS["ICMP"]


def _hex(text: str) -> int | None:
    body = text[2:] if text[:2] in ("0x", "0X") else text
    try:
        return int(body, 16) if body else None
    except ValueError:
        return None


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _split_mac(mac: str, ipt: dict[str, Any], event: Event) -> None:
    """``MAC=dst:src:type`` (14 octets, sometimes more) to the ECS MACs and ether type."""
    octets = mac.split(":")
    if len(octets) >= 12:
        event.setdefault("destination", {})["mac"] = ":".join(octets[0:6])
        event.setdefault("source", {})["mac"] = ":".join(octets[6:12])
        if len(octets) >= 14:
            et = _hex(octets[12] + octets[13])
            if et is not None:
                ipt["ether_type"] = et
    elif len(octets) >= 6:
        event.setdefault("destination", {})["mac"] = ":".join(octets[0:6])


def _prefix_action(prefix: str, ipt: dict[str, Any], event: Event) -> None:
    """Read the log prefix before ``IN=``: a Ubiquiti label or a ``--log-prefix`` text."""
    if prefix.endswith("]"):
        start = prefix.rfind("[")
        label = prefix[start + 1 : -1]
        parts = label.rsplit("-", 2)
        if start >= 0 and len(parts) == 3 and parts[0] and parts[2] in _UBIQUITI_ACTIONS:
            rule_set, rule_number, letter = parts
            ubi: dict[str, Any] = {"rule_set": rule_set, "rule_number": rule_number}
            zones = rule_set.split("-")
            if len(zones) == 2:
                ubi["input_zone"], ubi["output_zone"] = zones
                observer = event.setdefault("observer", {})
                observer["ingress"] = {"zone": zones[0]}
                observer["egress"] = {"zone": zones[1]}
            ipt["ubiquiti"] = ubi
            event["event"]["action"] = _UBIQUITI_ACTIONS[letter]
            event["rule"] = {"name": rule_set, "id": rule_number}
        return
    text = prefix.rstrip()
    if text.endswith(":"):
        words = text[:-1].split()
        if words and words[-1] != "kernel" and not words[-1].endswith("]"):
            event["event"]["action"] = words[-1].lower()


def _walk(words: list[str], ipt: dict[str, Any], event: Event) -> bool:
    """Map the netfilter words into ``ipt`` / ``event``; True when a netfilter field was seen."""
    seen = False
    proto: str | None = None
    l4: dict[str, str] = {}
    tcp_flags: list[str] = []
    frag_flags: list[str] = []
    source: dict[str, Any] = event.setdefault("source", {})
    destination: dict[str, Any] = event.setdefault("destination", {})
    for word in words:
        if word.startswith("["):
            if seen:
                break  # the quoted packet of an ICMP error
            continue  # a kernel uptime stamp before the fields
        eq = word.find("=")
        if eq < 0:
            if proto is None and word in _FRAG_FLAGS:
                frag_flags.append(word)
            elif word in _TCP_FLAGS:
                tcp_flags.append(word)
            elif word == "INCOMPLETE":
                ipt["incomplete"] = True
            continue
        key, value = word[:eq], word[eq + 1 :]
        if key == "IN":
            ipt["input_device"] = value
            seen = True
        elif key == "OUT":
            ipt["output_device"] = value
        elif key == "PHYSIN":
            ipt["physical_input_device"] = value
        elif key == "PHYSOUT":
            ipt["physical_output_device"] = value
        elif key == "MAC":
            _split_mac(value, ipt, event)
        elif key == "SRC":
            source["ip"] = value
            seen = True
        elif key == "DST":
            destination["ip"] = value
        elif key == "PROTO":
            proto = value.upper()
            transport = value.lower()
            event.setdefault("network", {})["transport"] = "ipv6-icmp" if transport == "icmpv6" else transport
            l4 = _L4_INT_KEYS.get(proto, {})
            seen = True
        elif key == "SPT":
            port = _int(value)
            if port is not None:
                source["port"] = port
        elif key == "DPT":
            port = _int(value)
            if port is not None:
                destination["port"] = port
        elif proto is not None and key in l4:
            number = _int(value)
            if number is not None:
                group, _, name = l4[key].partition(".")
                ipt.setdefault(group, {})[name] = number
        elif proto is not None and key == "RES":
            bits = _hex(value)
            if bits is not None:
                ipt.setdefault("tcp", {})["reserved_bits"] = bits
        elif proto is not None and key == "GATEWAY":
            ipt.setdefault("icmp", {})["redirect"] = value
        elif key in ("TOS", "PREC", "TC"):
            number = _int(value) if key == "TC" else _hex(value)
            if number is not None:
                ipt["tos" if key != "PREC" else "precedence_bits"] = number
        elif key in _INT_KEYS and proto is None:
            number = _int(value)
            if number is not None:
                ipt[_INT_KEYS[key]] = number
    if tcp_flags:
        ipt.setdefault("tcp", {})["flags"] = tcp_flags
    if frag_flags:
        ipt["fragment_flags"] = frag_flags
    return seen


@dataclass
class IptablesParser:
    """Netfilter ``LOG`` target lines (``iptables``, ``ip6tables``, Ubiquiti EdgeOS) to ECS."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for a line carrying the netfilter ``IN=`` ``OUT=`` ``SRC=`` fields."""
        head = raw[:600]
        return b"IN=" in head and b" OUT=" in head and (b" SRC=" in head or b" PROTO=" in head)

    def parse(self, record: RawRecord) -> list[Event]:
        tzname = record_timezone(record, self.timezone)
        try:
            msg = parse_syslog(record.raw, timezone=tzname, reference=record.received)
        except ValueError as exc:
            raise ParseError(str(exc), parser=self.name, field="timezone") from None
        except ParseError as exc:
            raise ParseError(exc.reason, parser=self.name, field=exc.field) from None
        event = base_event(msg)
        # The tag may be the log prefix itself ("DENY: IN=..."): read the whole text after the header.
        body = msg.message
        if msg.appname and msg.appname != "kernel":
            body = f"{msg.appname}: {body}"
        pos = body.find("IN=")
        while pos > 0 and body[pos - 1] not in " ]":
            pos = body.find("IN=", pos + 1)
        ipt: dict[str, Any] = {}
        ev = event["event"]
        if pos >= 0:
            _prefix_action(body[:pos], ipt, event)
            words = body[pos:].split()
        else:
            words = body.split()
        if not _walk(words, ipt, event):
            raise ParseError(
                "no netfilter fields (IN=, SRC= or PROTO=) in the message", parser=self.name, field="message"
            )
        self._finish(event, ipt, msg.hostname)
        ev.setdefault("kind", "event")
        return [event]

    @staticmethod
    def _finish(event: Event, ipt: dict[str, Any], hostname: str | None) -> None:
        ev = event["event"]
        ev["module"] = "iptables"
        ev["dataset"] = "iptables.log"
        ev["category"] = ["network"]
        src_ip = event["source"].get("ip")
        dst_ip = event["destination"].get("ip")
        types: list[str] = []
        action = ev.get("action")
        if action:
            if any(w in action for w in _DENIED_WORDS):
                types.append("denied")
            elif any(w in action for w in _ALLOWED_WORDS):
                types.append("allowed")
        if src_ip and dst_ip:
            types.append("connection")
            event["related"] = {"ip": [src_ip, dst_ip]}
        if types:
            ev["type"] = types
        et = _ETHER_TYPES.get(ipt.get("ether_type", -1))
        if et:
            event.setdefault("network", {})["type"] = et
        for side in ("source", "destination"):
            if not event[side]:
                del event[side]
        if hostname:
            event.setdefault("observer", {})["name"] = hostname
        event["iptables"] = ipt
