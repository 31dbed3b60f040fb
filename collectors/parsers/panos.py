"""Palo Alto Networks PAN-OS CSV logs (``panos``), mapped as Filebeat's ``panw/panos`` module.

A PAN-OS syslog line is an optional syslog header and one CSV record (quoted fields
may hold commas: :func:`collectors.parsers.csvline.split_csv`)::

    Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049,2018/11/30 16:09:07,
        192.168.15.207,184.51.253.152,...

Field 3 is the log type. ``TRAFFIC``, ``THREAT``, ``GLOBALPROTECT`` and ``USERID``
use Filebeat's column mappings; ``SYSTEM`` and ``HIPMATCH`` get their documented
columns. Newer PAN-OS versions append columns, older ones lack some: a column past
the end of the record is simply absent. ``@timestamp`` is the generated time (field
6, ``YYYY/MM/DD hh:mm:ss`` in the record's zone, or ISO 8601 with a zone). A record
with fewer than 7 fields, an unknown type, or a bad time raises :class:`ParseError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.csvline import CSVError, split_csv
from collectors.parsers.syslog import format_ts_cached, record_timezone, resolve_timezone
from soc.event import Event, RawRecord, format_ts, get_field

PARSER_NAME = "panos"

_TYPES = frozenset(
    {
        "TRAFFIC",
        "THREAT",
        "SYSTEM",
        "CONFIG",
        "GLOBALPROTECT",
        "USERID",
        "HIPMATCH",
        "AUTHENTICATION",
        "DECRYPTION",
        "TUNNEL",
        "GTP",
        "SCTP",
        "IPTAG",
        "CORRELATION",
    }
)
_SESSION = {  # TRAFFIC and THREAT share the first 30 columns
    7: ("source.ip",),
    8: ("destination.ip",),
    9: ("source.nat.ip",),
    10: ("destination.nat.ip",),
    11: ("panw.panos.ruleset", "rule.name"),
    12: ("source.user.name",),
    13: ("destination.user.name",),
    14: ("network.application",),
    15: ("panw.panos.virtual_sys",),
    16: ("panw.panos.source.zone", "observer.ingress.zone"),
    17: ("panw.panos.destination.zone", "observer.egress.zone"),
    18: ("panw.panos.source.interface", "observer.ingress.interface.name"),
    19: ("panw.panos.destination.interface", "observer.egress.interface.name"),
    22: ("panw.panos.flow_id",),
    29: ("network.transport",),
    30: ("panw.panos.action",),
}
_SESSION_INT = {24: "source.port", 25: "destination.port", 26: "source.nat.port", 27: "destination.nat.port"}
_TRAFFIC = {37: ("panw.panos.url.category",), 46: ("panw.panos.endreason",), 52: ("observer.hostname",)}
_TRAFFIC_INT = {
    31: "network.bytes",
    32: "source.bytes",
    33: "destination.bytes",
    34: "network.packets",
    39: "panw.panos.sequence_number",
    44: "source.packets",
    45: "destination.packets",
}
_THREAT = {
    31: ("panw.panos.threat.resource", "url.original"),
    33: ("panw.panos.url.category",),
    34: ("log.level",),
    42: ("panw.panos.network.pcap_id",),
    43: ("panw.panos.file.hash",),
    46: ("user_agent.original",),
    47: ("file.type",),
    48: ("network.forwarded_ip",),
    49: ("http.request.referer",),
    50: ("source.user.email",),
    51: ("panw.panos.subject",),
    52: ("destination.user.email",),
    59: ("observer.hostname",),
}
_GLOBALPROTECT = {
    7: ("panw.panos.virtual_sys",),
    8: ("event.code",),
    9: ("panw.panos.stage",),
    10: ("panw.panos.auth_method",),
    11: ("panw.panos.tunnel_type",),
    14: ("host.name",),
    15: ("source.nat.ip",),
    17: ("host.ip", "source.ip"),
    19: ("host.id",),
    20: ("panw.panos.serial_number",),
    21: ("panw.panos.client_ver",),
    22: ("host.os.family",),
    23: ("host.os.full",),
    25: ("event.reason",),
    26: ("panw.panos.error",),
    27: ("panw.panos.description",),
    28: ("event.outcome",),
    29: ("observer.geo.name",),
    31: ("panw.panos.connect_method",),
    32: ("panw.panos.error_code",),
    33: ("observer.hostname",),
    35: ("panw.panos.actionflags",),
}
_GLOBALPROTECT_INT = {24: "panw.panos.repeatcnt", 30: "event.duration", 34: "panw.panos.sequence_number"}
_USERID = {
    7: ("panw.panos.virtual_sys",),
    8: ("source.ip",),
    10: ("panw.panos.datasourcename",),
    11: ("event.code",),
    16: ("panw.panos.datasource",),
    17: ("panw.panos.datasourcetype",),
    19: ("panw.panos.actionflags",),
    20: ("panw.panos.device_group_hierarchy.level_1",),
    21: ("panw.panos.device_group_hierarchy.level_2",),
    22: ("panw.panos.device_group_hierarchy.level_3",),
    23: ("panw.panos.device_group_hierarchy.level_4",),
    24: ("panw.panos.vsys_name",),
    25: ("observer.hostname",),
    26: ("panw.panos.vsys_id",),
    27: ("panw.panos.factortype",),
    30: ("panw.panos.ugflags",),
}
_USERID_INT = {
    12: "panw.panos.repeatcnt",
    13: "panw.panos.timeout",
    14: "source.port",
    15: "destination.port",
    18: "panw.panos.sequence_number",
    29: "panw.panos.factorno",
}
_HIPMATCH = {
    8: ("panw.panos.virtual_sys",),
    9: ("host.name",),
    10: ("host.os.family",),
    11: ("source.ip",),
    12: ("panw.panos.hip.match_name",),
    14: ("panw.panos.hip.match_type",),
    23: ("panw.panos.vsys_name",),
    24: ("observer.hostname",),
    25: ("panw.panos.vsys_id",),
    27: ("host.id",),
    28: ("panw.panos.serial_number",),
}
_SYSTEM = {
    7: ("panw.panos.virtual_sys",),
    8: ("event.action",),
    9: ("panw.panos.object",),
    12: ("panw.panos.module",),
    13: ("log.level",),
    14: ("message",),
    21: ("panw.panos.vsys_name",),
    22: ("observer.hostname",),
}
_SYSTEM_INT = {15: "panw.panos.sequence_number"}
_ALLOWED = frozenset({"alert", "allow", "continue"})
_DENIED = frozenset(
    {
        "deny",
        "drop",
        "reset-client",
        "reset-server",
        "reset-both",
        "block-url",
        "block-ip",
        "random-drop",
        "sinkhole",
        "block",
    }
)
_SUBTYPE_ACTION = {
    "start": "flow_started",
    "end": "flow_terminated",
    "drop": "flow_dropped",
    "deny": "flow_denied",
    "data": "data_match",
    "file": "file_match",
    "flood": "flood_detected",
    "packet": "packet_attack",
    "scan": "scan_detected",
    "spyware": "spyware_detected",
    "url": "url_filtering",
    "virus": "virus_detected",
    "vulnerability": "exploit_detected",
    "wildfire": "wildfire_verdict",
    "wildfire-virus": "wildfire_virus_detected",
}
_SUBTYPE_TYPES = {
    "start": ["start", "connection"],
    "end": ["end", "connection"],
    "drop": ["denied", "connection"],
    "deny": ["denied", "connection"],
}
_SEVERITY = {"critical": 1, "high": 2, "medium": 3, "low": 4, "informational": 5}
_NAT_TRANSLATED = 0x00400000
_FLAGS = {
    "pcap_included": 0x80000000,
    "ipv6_session": 0x02000000,
    "ssl_decrypted": 0x01000000,
    "url_filter_denied": 0x00800000,
    "nat_translated": 0x00400000,
    "captive_portal": 0x00200000,
    "x_forwarded_for": 0x00080000,
    "http_proxy": 0x00040000,
    "container_page": 0x00008000,
    "temporary_match": 0x00002000,
    "symmetric_return": 0x00000800,
}


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def _put(event: Event, path: str, value: Any) -> None:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _extract(
    event: Event, cols: list[str], text_map: dict[int, tuple[str, ...]], int_map: dict[int, str]
) -> None:
    n = len(cols)
    for i, paths in text_map.items():
        if i < n and cols[i]:
            for path in paths:
                _put(event, path, cols[i])
    for i, path in int_map.items():
        if i < n and cols[i]:
            number = _int(cols[i])
            if number is not None:
                _put(event, path, number)


def _time(text: str, tzname: str, fld: str) -> datetime:
    """``YYYY/MM/DD hh:mm:ss`` in ``tzname``, or ISO 8601 (zoned or not)."""
    try:
        ts = datetime.strptime(text, "%Y/%m/%d %H:%M:%S") if "/" in text else datetime.fromisoformat(text)
    except ValueError:
        raise _err(f"bad time {text[:40]!r}: expected YYYY/MM/DD hh:mm:ss", fld) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=resolve_timezone(tzname))
    return ts.astimezone(UTC)


def _split_user(event: Event, text: str) -> None:
    """``DOMAIN\\user`` or ``user@domain`` to ``source.user.*`` and ``user.*``."""
    if "\\" in text:
        domain, _, name = text.partition("\\")
    elif "@" in text:
        name, _, domain = text.partition("@")
    else:
        domain, name = "", text
    for prefix in ("source.user", "user"):
        _put(event, prefix + ".name", name)
        if domain:
            _put(event, prefix + ".domain", domain)


def _url(event: Event, url: str) -> None:
    """Split a PAN-OS URL (``host/path?query``, scheme optional) into ``url.*``."""
    rest = url
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        _put(event, "url.scheme", scheme)
    cut = len(rest)
    for ch in "/?#":
        at = rest.find(ch)
        if 0 <= at < cut:
            cut = at
    domain, tail = rest[:cut], rest[cut:]
    if ":" in domain:
        domain, _, port = domain.partition(":")
        if port.isdigit():
            _put(event, "url.port", int(port))
    _put(event, "url.domain", domain)
    path = tail.split("#", 1)[0]
    path, _, query = path.partition("?")
    if path:
        _put(event, "url.path", path)
        last = path.rsplit("/", 1)[-1]
        if "." in last:
            _put(event, "url.extension", last.rsplit(".", 1)[1])
    if query:
        _put(event, "url.query", query)


@dataclass
class PanosParser:
    """PAN-OS CSV syslog records (traffic, threat, system, GlobalProtect, User-ID, HIP) to ECS."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for a CSV record whose 2nd field is a date and whose 4th is a PAN-OS log type."""
        head = raw[:200].decode("ascii", "replace")
        parts = head.split(",", 5)
        return len(parts) >= 5 and parts[3] in _TYPES and parts[1][:2] == "20" and parts[1][4:5] in ("/", "-")

    def parse(self, record: RawRecord) -> list[Event]:
        text = record.raw.decode("utf-8", "replace").rstrip("\x00\r\n ")
        try:
            cols = split_csv(text)
        except CSVError as exc:
            raise _err(str(exc), "message") from None
        if len(cols) < 7:
            raise _err(f"{len(cols)} CSV fields: a PAN-OS record has at least 7", "message")
        kind = cols[3]
        if kind not in _TYPES:
            raise _err(f"unknown log type {kind[:32]!r} in field 4", "type")
        tzname = record_timezone(record, self.timezone)
        try:
            resolve_timezone(tzname)
        except ValueError as exc:
            raise _err(str(exc), "timezone") from None
        ts = _time(cols[6], tzname, "generated_time")
        panw: dict[str, Any] = {"type": kind, "sub_type": cols[4]}
        ev: dict[str, Any] = {"module": "panw", "dataset": "panw.panos", "timezone": tzname}
        event: Event = {
            "@timestamp": format_ts_cached(ts),
            "event": ev,
            "observer": {"vendor": "Palo Alto Networks", "product": "PAN-OS", "type": "firewall"},
            "panw": {"panos": panw},
        }
        if cols[2]:
            event["observer"]["serial_number"] = cols[2]
        if cols[1]:
            ev["created"] = format_ts(_time(cols[1], tzname, "receive_time"))
        if kind in ("TRAFFIC", "THREAT"):
            self._session(event, cols, kind, tzname)
        elif kind == "GLOBALPROTECT":
            _extract(event, cols, _GLOBALPROTECT, _GLOBALPROTECT_INT)
            for i, path in (
                (18, "source.ip"),
                (16, "source.nat.ip"),
            ):  # IPv6 columns when the IPv4 one is empty
                if (
                    len(cols) > i
                    and cols[i] not in ("", "0.0.0.0")
                    and get_field(event, path) in (None, "0.0.0.0")
                ):
                    _put(event, path, cols[i])
            if len(cols) > 12 and cols[12]:
                _split_user(event, cols[12])
            if "duration" in ev:
                ev["duration"] *= 1_000_000_000
        elif kind == "USERID":
            _extract(event, cols, _USERID, _USERID_INT)
            if len(cols) > 9 and cols[9]:
                _split_user(event, cols[9])
            if len(cols) > 31 and cols[31]:
                _split_user(event, cols[31])
            if len(cols) > 28 and cols[28]:
                try:
                    panw["factorcompletiontime"] = format_ts(_time(cols[28], tzname, "factorcompletiontime"))
                except ParseError:
                    panw["factorcompletiontime_text"] = cols[28]
        elif kind == "HIPMATCH":
            _extract(event, cols, _HIPMATCH, {})
            if cols[7]:
                _split_user(event, cols[7])
        elif kind == "SYSTEM":
            _extract(event, cols, _SYSTEM, _SYSTEM_INT)
            ev["kind"] = "event"
            ev["category"] = ["host"]
            ev["type"] = ["info"]
            ev["code"] = cols[8] if len(cols) > 8 and cols[8] else cols[4]
        self._finish(event)
        return [event]

    @staticmethod
    def _session(event: Event, cols: list[str], kind: str, tzname: str) -> None:
        ev = event["event"]
        _extract(event, cols, _SESSION, _SESSION_INT)
        flags = 0
        if len(cols) > 28 and cols[28].startswith("0x"):
            try:
                flags = int(cols[28], 16)
            except ValueError:
                flags = 0
        labels = {name: True for name, bit in _FLAGS.items() if flags & bit}
        if labels:
            event["labels"] = labels
        if kind == "TRAFFIC":
            _extract(event, cols, _TRAFFIC, _TRAFFIC_INT)
            ev["kind"] = "event"
            ev["category"] = ["network"]
            event.setdefault("network", {})["type"] = "ipv6" if labels.get("ipv6_session") else "ipv4"
            if len(cols) > 35 and cols[35]:
                start = _time(cols[35], tzname, "start_time")
                ev["start"] = format_ts(start)
                duration = _int(cols[36]) if len(cols) > 36 else None
                if duration is not None:
                    ev["duration"] = duration * 1_000_000_000
                    ev["end"] = format_ts(start + timedelta(seconds=duration))
        else:
            _extract(event, cols, _THREAT, {})
            ev["kind"] = "alert"
            ev["category"] = ["security_threat", "intrusion_detection", "network"]
            direction = cols[35] if len(cols) > 35 else ""
            network = event.setdefault("network", {})
            if direction in ("0", "client-to-server"):
                network["direction"] = "inbound"
            elif direction in ("1", "server-to-client"):
                network["direction"] = "outbound"
            else:
                network["direction"] = "unknown"
            panw = event["panw"]["panos"]
            name = cols[32] if len(cols) > 32 else ""
            if name:
                threat: dict[str, Any] = {"name": name}
                if name.endswith(")") and "(" in name:
                    at = name.rfind("(")
                    threat = {"name": name[:at].rstrip(), "id": name[at + 1 : -1].strip()}
                if threat.get("id") == "9999":
                    threat["name"] = "URL-filtering"
                panw["threat"] = {**panw.get("threat", {}), **threat}
            level = get_field(event, "log.level")
            if level in _SEVERITY:
                ev["severity"] = _SEVERITY[level]
            url = get_field(event, "url.original")
            if url is not None and panw["sub_type"] != "url":
                _put(event, "file.name", url)
                del event["url"]
            elif url and url != "-/":
                _url(event, url)
        for side in ("source", "destination"):  # NAT fields only when translation happened
            nat = get_field(event, side + ".nat")
            if nat and nat.get("ip") == "0.0.0.0" and nat.get("port") == 0:
                del event[side]["nat"]

    @staticmethod
    def _finish(event: Event) -> None:
        ev = event["event"]
        panw = event["panw"]["panos"]
        action = panw.get("action")
        types: list[str] = list(ev.get("type", []))
        if action in _ALLOWED:
            types.append("allowed")
        elif action in _DENIED:
            types.append("denied")
        sub = panw["sub_type"]
        if panw["type"] in ("TRAFFIC", "THREAT"):
            if sub in _SUBTYPE_ACTION and (panw["type"] == "THREAT") == (sub not in _SUBTYPE_TYPES):
                ev["action"] = _SUBTYPE_ACTION[sub]
            for t in _SUBTYPE_TYPES.get(sub, []) if panw["type"] == "TRAFFIC" else []:
                if t not in types:
                    types.append(t)
        elif panw["type"] == "USERID":
            ev["action"] = sub
        if types:
            ev["type"] = types
        # Filebeat 8.7 records the log's own outcome: the firewall applied its policy, even a deny.
        ev.setdefault("outcome", "success")
        src = event.get("source", {})
        if src.get("ip"):
            event.setdefault("network", {}).setdefault("type", "ipv6" if ":" in src["ip"] else "ipv4")
        ips: list[str] = []
        for path in ("source.ip", "destination.ip", "source.nat.ip", "destination.nat.ip"):
            ip = get_field(event, path)
            if ip and ip not in ips:
                ips.append(ip)
        related: dict[str, Any] = {}
        if ips:
            related["ip"] = ips
        users = [
            u for u in (get_field(event, "source.user.name"), get_field(event, "destination.user.name")) if u
        ]
        if users:
            related["user"] = users
            if get_field(event, "user.name") is None:
                _put(event, "user.name", users[0])
        hosts = [h for h in (get_field(event, "observer.hostname"), get_field(event, "url.domain")) if h]
        if hosts:
            related["hosts"] = hosts
        if related:
            event["related"] = related
        if ev.get("action") and "rule" not in event and panw.get("ruleset"):
            event["rule"] = {"name": panw["ruleset"]}
