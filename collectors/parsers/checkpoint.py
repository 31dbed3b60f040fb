"""Check Point syslog parser (``checkpoint``), mapped as Filebeat's ``checkpoint/firewall``
module maps it.

Check Point's Log Exporter sends ``<PRI>1 TIMESTAMP HOST CheckPoint PID - [key:"value";
key:"value"; ...]``: RFC 5424 in the header, but the bracket is *not* RFC 5424
structured data, so the header is read here and the body by :func:`parse_fields`
(values may hold ``\\"``, ``\\\\``, ``\\]`` and ``\\;`` escapes; a key may be followed
by more than one ``:``; a repeated key keeps every value, the first one is mapped).
An RFC 3164 header, or none, is accepted too. Known keys become ECS fields
(``src`` -> ``source.ip`` + ``client.ip``, ``service`` -> ``destination.port``, ...);
the others are kept under ``checkpoint.<key>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.fwcommon import add_related, epoch_to_ts, int_or_none, ip_or_none, put
from collectors.parsers.syslog import format_ts_cached, parse_syslog, record_timezone, resolve_timezone
from soc.event import Event, RawRecord

PARSER_NAME = "checkpoint"
_MAX_LINE = 65536
_IANA_NAMES = {
    "1": "icmp",
    "2": "igmp",
    "6": "tcp",
    "17": "udp",
    "41": "ipv6",
    "47": "gre",
    "50": "esp",
    "51": "ah",
    "58": "ipv6-icmp",
    "132": "sctp",
}
_ALLOW = frozenset({"accept", "allow"})
_DENY = frozenset({"drop", "reject", "block", "prevent", "deny"})
_AUTH_ACTIONS = {
    "failed log in": ("logon-failed", "failure", "denied"),
    "log in": ("logged-in", "success", "allowed"),
    "log out": ("logged-out", "success", "end"),
}
_DROPPED_KEYS = frozenset({"flags", "version", "__policy_id_tag", "layer_uuid", "originsicname", "time"})
# key -> ECS paths it fills (first value of a repeated key)
_ECS: dict[str, tuple[str, ...]] = {
    "loguid": ("event.id",),
    "origin": ("observer.name",),
    "product": ("observer.product",),
    "ifdir": ("network.direction",),
    "inzone": ("observer.ingress.zone",),
    "outzone": ("observer.egress.zone",),
    "service_id": ("network.application",),
    "layer_name": ("network.name",),
    "rule_uid": ("rule.uuid",),
    "rule_name": ("rule.name",),
    "objectname": ("rule.name",),
    "subject": ("message",),
    "administrator": ("source.user.name", "client.user.name"),
    "uid": ("source.user.id", "client.user.id"),
    "domain_name": ("dns.question.name",),
    "endpoint_ip": ("observer.ip",),
    "xlatesrc": ("source.nat.ip", "client.nat.ip"),
    "xlatedst": ("destination.nat.ip", "server.nat.ip"),
    "dst_machine_name": ("destination.domain",),
    "src_machine_name": ("source.domain",),
    "http_host": ("url.domain",),
    "resource": ("url.original",),
    "web_client_type": ("user_agent.name",),
    "message_info": ("message",),
    "protection_name": ("rule.name",),
    "malware_action": ("threat.technique.name",),
    "file_name": ("file.name",),
    "file_md5": ("file.hash.md5",),
    "file_sha1": ("file.hash.sha1",),
    "file_sha256": ("file.hash.sha256",),
    "dst_user_name": ("destination.user.name",),
    "user": ("user.name",),
}
_PORTS = {
    "s_port": ("source.port", "client.port"),
    "service": ("destination.port", "server.port"),
    "xlatesport": ("source.nat.port", "client.nat.port"),
    "xlatedport": ("destination.nat.port", "server.nat.port"),
    "sequencenum": ("event.sequence",),
    "bytes": ("network.bytes",),
    "client_inbound_bytes": ("source.bytes",),
    "server_inbound_bytes": ("destination.bytes",),
    "packets": ("network.packets",),
}


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def parse_fields(text: str, start: int) -> dict[str, list[str]]:
    """Parse ``[key:"value"; key:"value"]`` from ``text[start] == "["``.

    Returns every key's values in order. Raises :class:`ParseError` naming the
    column of an unterminated value or a missing ``:"``.
    """
    n = len(text)
    pos = start + 1
    out: dict[str, list[str]] = {}
    while pos < n:
        while pos < n and text[pos] in " ;":
            pos += 1
        if pos >= n:
            raise _err("fields not closed with ']'", "message")
        if text[pos] == "]":
            return out
        colon = text.find(":", pos)
        if colon < 0:
            raise _err(f'expected key:"value" at column {pos}, got {text[pos : pos + 24]!r}', "message")
        key = text[pos:colon].strip()
        if not key or " " in key or '"' in key:
            raise _err(f"bad key {text[pos:colon][:32]!r} at column {pos}", "message")
        q = colon + 1
        while q < n and text[q] == ":":
            q += 1
        if q >= n or text[q] != '"':
            raise _err(f"value of {key!r} at column {q} does not start with '\"'", key)
        i = q + 1
        chunks: list[str] = []
        seg = i
        while True:
            quote = text.find('"', i)
            back = text.find("\\", i, quote if quote >= 0 else n)
            j = back if back >= 0 else quote if quote >= 0 else n
            if j >= n:
                raise _err(f"unterminated value of {key!r} (truncated line?)", key)
            if text[j] == "\\":
                chunks.append(text[seg:j])
                nxt = text[j + 1 : j + 2]
                chunks.append(nxt if nxt in ('"', "\\", "]", ";") else "\\" + nxt)
                i = seg = j + 2
                continue
            chunks.append(text[seg:j])
            pos = j + 1
            break
        out.setdefault(key, []).append("".join(chunks))
    raise _err("fields not closed with ']'", "message")


def _header(line: str, body_at: int, tzname: str, received: datetime) -> tuple[datetime | None, str | None]:
    """(timestamp, hostname) from the text before the ``[``; (None, None) when absent."""
    head = line[:body_at].strip()
    if not head:
        return None, None
    if head.startswith("<"):
        end = head.find(">", 1, 5)
        if end > 0 and head[end + 1 : end + 3] == "1 ":
            parts = head[end + 3 :].split(" ")
            ts_txt = parts[0]
            host = parts[1] if len(parts) > 1 and parts[1] != "-" else None
            try:
                ts = datetime.fromisoformat(ts_txt.replace("Z", "+00:00"))
            except ValueError:
                raise _err(f"bad RFC 5424 timestamp {ts_txt[:40]!r}", "timestamp") from None
            if ts.tzinfo is None:
                ts = ts.replace(tzinfo=resolve_timezone(tzname))
            return ts.astimezone(UTC), host
    msg = parse_syslog(head.encode() + b" x", timezone=tzname, reference=received)
    return msg.timestamp, msg.hostname


def _first(fields: dict[str, list[str]], key: str) -> str | None:
    values = fields.get(key)
    return values[0] if values else None


def _to_ecs(fields: dict[str, list[str]], event: Event) -> None:
    cp: dict[str, Any] = {}
    for key, values in fields.items():
        value = values[0]
        if key in _DROPPED_KEYS or value == "":
            continue
        if key in _ECS:
            for path in _ECS[key]:
                put(event, path, value)
        elif key in _PORTS:
            for path in _PORTS[key]:
                put(event, path, int_or_none(value))
        elif key not in (
            "src",
            "dst",
            "client_ip",
            "proto",
            "action",
            "ifname",
            "mac_address",
            "src_user_group",
        ):
            cp[key] = value if len(values) == 1 else values
    for key in ("src", "client_ip"):
        ip = ip_or_none(_first(fields, key))
        if ip:
            put(event, "source.ip", ip)
            put(event, "client.ip", ip)
            add_related(event, "ip", ip)
            break
    ip = ip_or_none(_first(fields, "dst"))
    if ip:
        put(event, "destination.ip", ip)
        put(event, "server.ip", ip)
        add_related(event, "ip", ip)
    for key in ("xlatesrc", "xlatedst"):
        ip = ip_or_none(_first(fields, key))
        if ip:
            add_related(event, "ip", ip)
    proto = _first(fields, "proto")
    if proto:
        put(event, "network.iana_number", proto)
        put(
            event, "network.transport", _IANA_NAMES.get(proto, proto.lower() if not proto.isdigit() else None)
        )
    ifname = _first(fields, "ifname")
    if ifname:
        side = "egress" if _first(fields, "ifdir") == "outbound" else "ingress"
        put(event, f"observer.{side}.interface.name", ifname)
    mac = _first(fields, "mac_address")
    if mac:
        put(event, "observer.mac", mac.upper().replace(":", "-"))
    groups = _first(fields, "src_user_group")
    if groups:
        group = groups.split(";")[0].strip()
        put(event, "source.user.group.name", group)
        put(event, "client.user.group.name", group)
    for path in ("source.user.name", "user.name", "destination.user.name"):
        node: Any = event
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str):
            add_related(event, "user", node)
    if cp:
        event["checkpoint"] = cp
    _classify(fields, event)


def _classify(fields: dict[str, list[str]], event: Event) -> None:
    ev = event["event"]
    ev["category"] = ["network"]
    action = _first(fields, "action")
    if not action:
        return
    low = action.lower()
    if low in _AUTH_ACTIONS:
        name, outcome, etype = _AUTH_ACTIONS[low]
        ev["action"], ev["outcome"], ev["type"] = name, outcome, [etype]
        ev["category"] = ["authentication", "network"]
        return
    ev["action"] = action
    connection = "src" in fields or "dst" in fields or "proto" in fields
    if low in _ALLOW:
        ev["outcome"] = "success"
        if connection:
            ev["type"] = ["allowed", "connection"]
    elif low in _DENY:
        ev["outcome"] = "failure"
        if connection:
            ev["type"] = ["connection", "denied"]


@dataclass
class CheckpointParser:
    """Check Point Log Exporter syslog (``[key:"value"; ...]``) to ECS, as Filebeat's
    checkpoint module. Option ``timezone`` for zoneless header times."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for a ``[key:"value"`` body with a Check Point marker (``CheckPoint`` app
        name, or ``loguid:"``/``origin:"`` keys)."""
        head = raw[:512]
        i = head.find(b"[")
        if i < 0:
            return False
        j = head.find(b':"', i)
        if j < 0 or b" " in head[i + 1 : j] or b"=" in head[i + 1 : j]:
            return False
        return b" CheckPoint " in head[: i + 1] or b'loguid:"' in raw or b'origin:"' in raw

    def parse(self, record: RawRecord) -> list[Event]:
        raw = record.raw
        if len(raw) > _MAX_LINE:
            raise _err(f"line of {len(raw)} bytes exceeds {_MAX_LINE}", "message")
        line = raw.decode("utf-8", "replace").rstrip()
        body_at = line.find("[")
        while body_at >= 0:
            colon = line.find(":", body_at)
            key = line[body_at + 1 : colon] if colon > body_at else ""
            if key and not any(c in key for c in ' "[]=;'):
                break
            body_at = line.find("[", body_at + 1)
        if body_at < 0:
            raise _err('no [key:"value"; ...] body', "message")
        tzname = record_timezone(record, self.timezone)
        try:
            resolve_timezone(tzname)
        except ValueError as exc:
            raise _err(str(exc), "timezone") from None
        try:
            ts, host = _header(line, body_at, tzname, record.received)
        except ParseError as exc:
            raise _err(exc.reason, exc.field or "header") from None
        fields = parse_fields(line, body_at)
        if not fields:
            raise _err("empty field list", "message")
        when = format_ts_cached(ts) if ts else epoch_to_ts(_first(fields, "time") or "")
        event: Event = {
            "@timestamp": when or format_ts_cached(record.received.astimezone(UTC)),
            "event": {"kind": "event", "module": "checkpoint", "dataset": "checkpoint.firewall"},
            "observer": {"vendor": "Checkpoint", "type": "firewall"},
        }
        if host:
            event["host"] = {"hostname": host}
        _to_ecs(fields, event)
        return [event]
