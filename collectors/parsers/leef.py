"""IBM QRadar Log Event Extended Format parser (``leef``), LEEF 1.0 and 2.0.

``[syslog header ]LEEF:1.0|Vendor|Product|Version|EventID|key=value<TAB>key=value``
``[syslog header ]LEEF:2.0|Vendor|Product|Version|EventID|Delim|key=value<Delim>...``

LEEF 2.0's delimiter field is one character (``^``), or its hex code (``x5E``,
``0x5E``); empty means tab. All attributes are kept under ``leef.attributes``; the
predefined LEEF keys are mapped to ECS (``src`` -> ``source.ip``, ``dstPort`` ->
``destination.port``, ``usrName`` -> ``user.name``, ``sev`` -> ``event.severity``,
``devTime`` with ``devTimeFormat`` -> ``@timestamp`` ...). Parsing is a single split
per delimiter: linear in the line length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.fwcommon import (
    MONTHS,
    TZ_ABBREVIATIONS,
    add_related,
    epoch_to_ts,
    int_or_none,
    ip_or_none,
    put,
)
from collectors.parsers.syslog import format_ts_cached, parse_syslog, record_timezone, resolve_timezone
from soc.event import Event, RawRecord

PARSER_NAME = "leef"
_MAX_LINE = 65536
_IP_KEYS = {
    "src": "source.ip",
    "dst": "destination.ip",
    "srcPostNAT": "source.nat.ip",
    "dstPostNAT": "destination.nat.ip",
    "identSrc": "source.ip",
}
_INT_KEYS = {
    "srcPort": "source.port",
    "dstPort": "destination.port",
    "srcPostNATPort": "source.nat.port",
    "dstPostNATPort": "destination.nat.port",
    "srcBytes": "source.bytes",
    "dstBytes": "destination.bytes",
    "srcPackets": "source.packets",
    "dstPackets": "destination.packets",
    "totalPackets": "network.packets",
}
_STR_KEYS = {
    "usrName": "user.name",
    "accountName": "user.name",
    "domain": "user.domain",
    "role": "user.roles",
    "srcMAC": "source.mac",
    "dstMAC": "destination.mac",
    "identHostName": "host.name",
    "policy": "rule.name",
    "url": "url.original",
    "resource": "url.domain",
    "vSrcName": "source.domain",
    "realm": "observer.zone",
}
_PROTO = {"1": "icmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "58": "ipv6-icmp", "132": "sctp"}


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def parse_delimiter(text: str) -> str:
    """The LEEF 2.0 attribute delimiter from its header field (``^``, ``x5E``, ``0x5E``,
    empty for tab). Raises :class:`ParseError` on a bad hex code or a multi-char value."""
    if text == "":
        return "\t"
    if len(text) == 1:
        return text
    low = text.lower()
    hexpart = low[2:] if low.startswith("0x") else low[1:] if low.startswith("x") else None
    if hexpart and len(hexpart) <= 4 and all(c in "0123456789abcdef" for c in hexpart):
        code = int(hexpart, 16)
        if code == 0 or code in (0x3D, 0x7C):  # NUL, '=' and '|' cannot delimit attributes
            raise _err(f"LEEF delimiter {text!r} cannot be NUL, '=' or '|'", "delimiter")
        return chr(code)
    raise _err(
        f"bad LEEF 2.0 delimiter {text[:12]!r}: expected one character or a hex code like x5E", "delimiter"
    )


def split_header(text: str, count: int) -> tuple[list[str], str]:
    """The first ``count`` ``|``-terminated fields of ``text`` and the rest."""
    fields: list[str] = []
    pos = 0
    for _ in range(count):
        bar = text.find("|", pos)
        if bar < 0:
            names = ("version", "vendor", "product", "product_version", "event_id", "delimiter")
            raise _err(
                f"LEEF header has {len(fields)} of {count} '|'-terminated fields (truncated?)",
                names[min(len(fields), 5)],
            )
        fields.append(text[pos:bar])
        pos = bar + 1
    return fields, text[pos:]


def parse_attributes(text: str, delimiter: str) -> dict[str, str]:
    """``key=value`` pairs split on ``delimiter``; the first ``=`` ends the key.

    LEEF 1.0 senders that use a tab but carry none fall back to splitting on spaces
    before ``key=``. Empty pieces are skipped.
    """
    out: dict[str, str] = {}
    if delimiter == "\t" and "\t" not in text and "=" in text:
        pieces = _split_on_keys(text)
    else:
        pieces = text.split(delimiter)
    for piece in pieces:
        if not piece.strip():
            continue
        key, eq, value = piece.partition("=")
        key = key.strip()
        if not eq or not key or " " in key:
            raise _err(f"attribute {piece[:32]!r} is not key=value", "attributes")
        out[key] = value
    return out


def _split_on_keys(text: str) -> list[str]:
    """Split ``a=1 b=two words c=3`` at spaces that precede ``key=`` (linear)."""
    pieces: list[str] = []
    start = 0
    word_start = 0
    last_space = -1
    for i, ch in enumerate(text):
        if ch == " ":
            last_space = i
            word_start = i + 1
        elif ch == "=" and last_space >= start and word_start > start and text[word_start:i].isidentifier():
            pieces.append(text[start:last_space])
            start = word_start
    pieces.append(text[start:])
    return pieces


_JAVA_TOKENS = (
    ("yyyy", "%Y"),
    ("MMM", "%b"),
    ("MM", "%m"),
    ("dd", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


def parse_dev_time(value: str, fmt: str | None, tz: Any) -> datetime | None:
    """``devTime`` as aware UTC: epoch (ms), the ``devTimeFormat`` Java pattern, or the
    LEEF default ``MMM dd yyyy HH:mm:ss[.SSS] [zone]``."""
    value = value.strip()
    if value.isdigit():
        text = epoch_to_ts(value)
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    if fmt:
        base = fmt.split(".SSS", 1)[0].replace("'T'", "T").strip()
        py = base
        for java, cpy in _JAVA_TOKENS:
            py = py.replace(java, cpy)
        head, _, frac = value.partition(".")
        zone_txt = ""
        if " " in frac:
            frac, _, zone_txt = frac.partition(" ")
        try:
            ts = datetime.strptime(head if ".SSS" in fmt or frac else value, py)
        except ValueError:
            ts = None
        if ts is not None:
            zone = timezone(TZ_ABBREVIATIONS[zone_txt]) if zone_txt in TZ_ABBREVIATIONS else tz
            ts = ts.replace(tzinfo=zone)
            if frac.isdigit():
                ts += timedelta(microseconds=int((frac + "000000")[:6]))
            return ts.astimezone(UTC)
    tokens = value.split()
    if len(tokens) >= 4 and tokens[0] in MONTHS and tokens[2].isdigit():
        clock, _, frac = tokens[3].partition(".")
        parts = clock.split(":")
        day = int_or_none(tokens[1])
        if len(parts) == 3 and all(p.isdigit() for p in parts) and day:
            zone = tz
            if len(tokens) > 4 and tokens[4] in TZ_ABBREVIATIONS:
                zone = timezone(TZ_ABBREVIATIONS[tokens[4]])
            try:
                ts = datetime(
                    int(tokens[2]),
                    MONTHS[tokens[0]],
                    day,
                    int(parts[0]),
                    int(parts[1]),
                    min(int(parts[2]), 59),
                    tzinfo=zone,
                )
            except ValueError:
                return None
            if frac.isdigit():
                ts += timedelta(microseconds=int((frac + "000000")[:6]))
            return ts.astimezone(UTC)
    return None


@dataclass
class LeefParser:
    """LEEF 1.0/2.0, bare or after a syslog header, to ECS.

    Option ``timezone``: the zone of ``devTime`` values without one (default
    ``Asia/Ho_Chi_Minh``); a record's ``meta["timezone"]`` overrides it.
    """

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True when ``LEEF:1.0|`` / ``LEEF:2.0|`` starts the line or follows a syslog header."""
        i = raw.find(b"LEEF:", 0, 300)
        if i < 0 or (i > 0 and raw[i - 1 : i] not in (b" ", b">", b":")):
            return False
        return raw[i + 5 : i + 6].isdigit() and raw.find(b"|", i, i + 16) > 0

    def parse(self, record: RawRecord) -> list[Event]:
        raw = record.raw
        if len(raw) > _MAX_LINE:
            raise _err(f"line of {len(raw)} bytes exceeds {_MAX_LINE}", "message")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        at = line.find("LEEF:")
        if at < 0:
            raise _err("no 'LEEF:' marker", "header")
        tzname = record_timezone(record, self.timezone)
        try:
            tz = resolve_timezone(tzname)
        except ValueError as exc:
            raise _err(str(exc), "timezone") from None
        event: Event = {"event": {"kind": "event", "module": "leef"}}
        header_ts: datetime | None = None
        if line[:at].strip():
            try:
                msg = parse_syslog(
                    line[:at].rstrip().encode() + b" x", timezone=tzname, reference=record.received
                )
            except ParseError as exc:
                raise _err(f"bad syslog header before LEEF: {exc.reason}", exc.field or "header") from None
            header_ts = msg.timestamp
            put(event, "host.hostname", msg.hostname)
        body = line[at + 5 :]
        version = body.split("|", 1)[0].strip()
        if version not in ("1.0", "2.0", "1", "2"):
            raise _err(f"unsupported LEEF version {version[:12]!r}: expected 1.0 or 2.0", "version")
        v2 = version.startswith("2")
        fields, rest = split_header(body, 6 if v2 else 5)
        delimiter = parse_delimiter(fields[5]) if v2 else "\t"
        attrs = parse_attributes(rest, delimiter)
        _, vendor, product, product_version, event_id = fields[:5]
        leef: dict[str, Any] = {
            "version": version,
            "vendor": vendor,
            "product": product,
            "product_version": product_version,
            "event_id": event_id,
        }
        if v2:
            leef["delimiter"] = delimiter
        if attrs:
            leef["attributes"] = attrs
        event["leef"] = leef
        put(event, "observer.vendor", vendor)
        put(event, "observer.product", product)
        put(event, "observer.version", product_version)
        put(event, "event.code", event_id)
        put(event, "event.action", event_id)
        self._to_ecs(attrs, event)
        when: datetime | None = None
        if "devTime" in attrs:
            when = parse_dev_time(attrs["devTime"], attrs.get("devTimeFormat"), tz)
            if when is None:
                raise _err(
                    f"bad devTime {attrs['devTime'][:40]!r} for format {attrs.get('devTimeFormat')!r}",
                    "devTime",
                )
        when = when or header_ts or record.received.astimezone(UTC)
        event["@timestamp"] = format_ts_cached(when)
        return [event]

    @staticmethod
    def _to_ecs(attrs: dict[str, str], event: Event) -> None:
        for key, path in _IP_KEYS.items():
            ip = ip_or_none(attrs.get(key))
            if ip:
                if not (key == "identSrc" and "src" in attrs):
                    put(event, path, ip)
                add_related(event, "ip", ip)
        for key, path in _INT_KEYS.items():
            if key in attrs:
                put(event, path, int_or_none(attrs[key]))
        for key, path in _STR_KEYS.items():
            if attrs.get(key):
                put(event, path, attrs[key])
        proto = attrs.get("proto")
        if proto:
            put(event, "network.transport", _PROTO.get(proto, proto.lower()))
        sev = int_or_none(attrs.get("sev"))
        if sev is not None:
            put(event, "event.severity", sev)
        add_related(event, "user", attrs.get("usrName") or attrs.get("accountName"))
        host = attrs.get("identHostName")
        if host:
            add_related(event, "hosts", host)
