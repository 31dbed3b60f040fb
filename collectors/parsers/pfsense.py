"""pfSense / OPNsense ``filterlog`` lines (``pfsense``): the pf packet filter's CSV log.

The syslog header (BSD or RFC 5424, program ``filterlog``) comes from
:func:`collectors.parsers.syslog.parse_syslog`; the body is comma-separated, and
how many fields it has depends on the IP version and the protocol (pfSense
``filterlog`` format, 2.2 and later)::

    rule,subrule,anchor,tracker,interface,reason,action,direction,ipversion,
      IPv4: tos,ecn,ttl,id,offset,flags,protonum,protoname,length,src,dst,
      IPv6: class,flowlabel,hoplimit,protoname,protonum,length,src,dst,
        TCP: srcport,dstport,datalen,tcpflags,seq,ack,window,urg,options
        UDP: srcport,dstport,datalen
        ICMP: icmptype,[type-specific fields]
        CARP: type,ttl,vhid,version,advskew,advbase

Mapping follows Elastic's ``pfsense`` integration: ``event.action`` is the pf action
(``block``, ``pass``), ``event.type`` ``denied``/``allowed``, ``rule.id`` the tracker,
``observer.ingress|egress.interface.name`` the interface, the IP and transport header
fields under ``pfsense.ip.*`` / ``pfsense.tcp.*`` / ``pfsense.udp.*``. A body shorter
than its IP header raises :class:`ParseError` naming the missing field; a transport part
cut short parses partially.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.syslog import base_event, parse_syslog, record_timezone, resolve_timezone
from soc.event import Event, RawRecord

PARSER_NAME = "pfsense"

_COMMON = ("rule", "subrule", "anchor", "tracker", "interface", "reason", "action", "direction", "ipversion")
_IPV4 = ("tos", "ecn", "ttl", "id", "offset", "flags", "protonum", "protoname", "length", "src", "dst")
_IPV6 = ("class", "flow_label", "hoplimit", "protoname", "protonum", "length", "src", "dst")
_TCP = ("srcport", "dstport", "datalen", "flags", "seq", "ack", "window", "urg", "options")
_UDP = ("srcport", "dstport", "datalen")
_CARP = ("type", "ttl", "vhid", "version", "advskew", "advbase")
_ACTION_TYPE = {"block": "denied", "reject": "denied", "pass": "allowed", "match": "allowed"}
_DIRECTION = {"in": "ingress", "out": "egress"}
_REFERENCE = datetime(2000, 6, 1, tzinfo=UTC)


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def _named(values: list[str], start: int, names: tuple[str, ...]) -> dict[str, str]:
    return dict(zip(names, values[start : start + len(names)], strict=False))


def _transport(event: Event, proto: str, rest: list[str]) -> None:
    """The protocol-specific tail: ports, TCP/UDP details, ICMP type, CARP."""
    pf = event["pfsense"]
    if proto in ("tcp", "udp"):
        part = _named(rest, 0, _TCP if proto == "tcp" else _UDP)
        sport, dport = _int(part.get("srcport", "")), _int(part.get("dstport", ""))
        if sport is not None:
            event["source"]["port"] = sport
        if dport is not None:
            event["destination"]["port"] = dport
        detail: dict[str, Any] = {}
        datalen = _int(part.get("datalen", ""))
        if datalen is not None:
            detail["length"] = datalen
        if proto == "tcp":
            if part.get("flags"):
                detail["flags"] = part["flags"]
            for key in ("seq", "ack", "window", "urg"):
                value = part.get(key, "")
                if value:
                    number = _int(value)
                    detail[key] = number if number is not None else value
            if part.get("options"):
                detail["options"] = part["options"].split(";")
        pf[proto] = detail
    elif proto in ("icmp", "ipv6-icmp", "icmpv6") and rest:
        icmp: dict[str, Any] = {"type": rest[0]}
        if rest[0] in ("request", "reply") and len(rest) >= 3:
            icmp["id"], icmp["seq"] = _int(rest[1]), _int(rest[2])
        elif len(rest) > 1:
            icmp["detail"] = [v for v in rest[1:] if v]
        pf["icmp"] = icmp
    elif proto == "carp" and rest:
        pf["carp"] = {k: v for k, v in _named(rest, 0, _CARP).items() if v}


@dataclass
class PfsenseParser:
    """pfSense / OPNsense ``filterlog`` CSV lines to ECS network events."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for a syslog line from the ``filterlog`` program with a CSV body."""
        head = raw[:160]
        pos = head.find(b" filterlog")
        if pos < 0:
            return False
        tail = head[pos + 10 : pos + 40]
        return (tail[:1] in (b":", b"[", b" ")) and b"," in raw[pos : pos + 200]

    def parse(self, record: RawRecord) -> list[Event]:
        tzname = record_timezone(record, self.timezone)
        try:
            msg = parse_syslog(record.raw, timezone=tzname, reference=record.received)
        except ValueError as exc:
            raise ParseError(str(exc), parser=self.name, field="timezone") from None
        except ParseError as exc:
            raise ParseError(exc.reason, parser=self.name, field=exc.field) from None
        if msg.appname != "filterlog":
            raise _err(f"program is {msg.appname!r}, not 'filterlog'", "program")
        values = msg.message.strip().split(",")
        if len(values) < len(_COMMON):
            raise _err(f"{len(values)} CSV fields: the rule/interface/action header needs 9", "message")
        common = _named(values, 0, _COMMON)
        version = common["ipversion"]
        if version == "4":
            names = _IPV4
        elif version == "6":
            names = _IPV6
        else:
            raise _err(f"IP version {version!r}: expected 4 or 6", "ipversion")
        start = len(_COMMON)
        if len(values) < start + len(names):
            missing = names[len(values) - start]
            raise _err(f"IPv{version} header cut short: no {missing!r} field", missing)
        ip = _named(values, start, names)
        event = base_event(msg)
        self._map(event, common, ip, version, msg.hostname)
        _transport(event, event["network"]["transport"], values[start + len(names) :])
        for side in ("source", "destination"):
            if not event[side].get("ip"):
                raise _err(f"bad {side} address {ip['src' if side == 'source' else 'dst']!r}", side)
        return [event]

    @staticmethod
    def _map(
        event: Event, common: dict[str, str], ip: dict[str, str], version: str, host: str | None
    ) -> None:
        ev = event["event"]
        action = common["action"]
        ev.update(module="pfsense", dataset="pfsense.log", category=["network"], action=action)
        ev["type"] = ["connection", _ACTION_TYPE[action]] if action in _ACTION_TYPE else ["connection"]
        if common["reason"]:
            ev["reason"] = common["reason"]
        tracker = common["tracker"]
        opnsense = bool(tracker) and not tracker.isdigit()
        observer: dict[str, Any] = {
            "type": "firewall",
            "vendor": "Deciso" if opnsense else "Netgate",
            "product": "OPNsense" if opnsense else "pfSense",
        }
        if host:
            observer["name"] = host
        direction = common["direction"]
        side = "egress" if direction == "out" else "ingress"
        observer[side] = {"interface": {"name": common["interface"]}}
        event["observer"] = observer
        proto = ip["protoname"].lower()
        network: dict[str, Any] = {"type": f"ipv{version}", "transport": proto}
        if direction in _DIRECTION:
            network["direction"] = _DIRECTION[direction]
        number = _int(ip["protonum"])
        if number is not None:
            network["iana_number"] = str(number)
        length = _int(ip["length"])
        if length is not None:
            network["bytes"] = length
        event["network"] = network
        event["source"] = {"ip": ip["src"]} if ip["src"] else {}
        event["destination"] = {"ip": ip["dst"]} if ip["dst"] else {}
        event["related"] = {"ip": [v for v in (ip["src"], ip["dst"]) if v]}
        if tracker:
            event["rule"] = {"id": tracker}
        pf_ip: dict[str, Any] = {}
        for key in ("tos", "ecn", "id", "offset", "flags", "class", "flow_label", "length"):
            value = ip.get(key)
            if value:
                number = _int(value)
                pf_ip[key] = number if number is not None and key in ("id", "offset", "length") else value
        ttl = _int(ip.get("ttl") or ip.get("hoplimit") or "")
        if ttl is not None:
            pf_ip["ttl"] = ttl
        pf_ip["protocol"] = ip["protoname"]
        event["pfsense"] = {
            "rule": {"number": common["rule"], "subrule": common["subrule"], "anchor": common["anchor"]},
            "interface": common["interface"],
            "direction": direction,
            "ip": pf_ip,
        }
