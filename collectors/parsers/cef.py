"""ArcSight Common Event Format parser (``cef``), mapped as Filebeat's ``decode_cef``
processor and ``cef`` module map it.

``[syslog header ]CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension``

* header fields may hold ``\\|`` and ``\\\\``;
* the extension is ``key=value`` pairs separated by spaces; a value runs to the space
  before the next ``key=`` (so it may hold spaces), and may hold ``\\=``, ``\\\\``,
  ``\\n`` and ``\\r``; an ``=`` whose preceding word is not a valid key (``a?b=c`` in a
  URL) stays in the value;
* short keys (``src``, ``dpt``, ``suser``...) are expanded to their full names, kept
  typed under ``cef.extensions.<fullName>``, and mapped to ECS (``source.ip``,
  ``destination.port``, ``source.user.name``...).

Both passes are single left-to-right scans: linear in the line length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.fwcommon import (
    MONTHS,
    TZ_ABBREVIATIONS,
    add_related,
    float_or_none,
    int_or_none,
    ip_or_none,
    put,
)
from collectors.parsers.syslog import format_ts_cached, parse_syslog, record_timezone, resolve_timezone
from soc.event import Event, RawRecord

PARSER_NAME = "cef"
_MAX_LINE = 65536

# short key -> full name (ArcSight CEF spec, as decode_cef's keys.go)
SHORT_KEYS: dict[str, str] = {
    "act": "deviceAction",
    "app": "applicationProtocol",
    "cat": "deviceEventCategory",
    "cnt": "baseEventCount",
    "dhost": "destinationHostName",
    "dmac": "destinationMacAddress",
    "dntdom": "destinationNtDomain",
    "dpid": "destinationProcessId",
    "dpriv": "destinationUserPrivileges",
    "dproc": "destinationProcessName",
    "dpt": "destinationPort",
    "dst": "destinationAddress",
    "dtz": "deviceTimeZone",
    "duid": "destinationUserId",
    "duser": "destinationUserName",
    "dvc": "deviceAddress",
    "dvchost": "deviceHostName",
    "dvcmac": "deviceMacAddress",
    "dvcpid": "deviceProcessId",
    "end": "endTime",
    "fname": "fileName",
    "fsize": "fileSize",
    "in": "bytesIn",
    "msg": "message",
    "out": "bytesOut",
    "outcome": "eventOutcome",
    "proto": "transportProtocol",
    "request": "requestUrl",
    "rt": "deviceReceiptTime",
    "shost": "sourceHostName",
    "smac": "sourceMacAddress",
    "sntdom": "sourceNtDomain",
    "spid": "sourceProcessId",
    "spriv": "sourceUserPrivileges",
    "sproc": "sourceProcessName",
    "spt": "sourcePort",
    "src": "sourceAddress",
    "start": "startTime",
    "suid": "sourceUserId",
    "suser": "sourceUserName",
    "dlat": "destinationGeoLatitude",
    "dlong": "destinationGeoLongitude",
    "slat": "sourceGeoLatitude",
    "slong": "sourceGeoLongitude",
    "agt": "agentAddress",
    "ahost": "agentHostName",
    "aid": "agentId",
    "amac": "agentMacAddress",
    "art": "agentReceiptTime",
    "at": "agentType",
    "atz": "agentTimeZone",
    "av": "agentVersion",
    "catdt": "categoryDeviceType",
    "cs1": "deviceCustomString1",
    "cs2": "deviceCustomString2",
    "cs3": "deviceCustomString3",
    "cs4": "deviceCustomString4",
    "cs5": "deviceCustomString5",
    "cs6": "deviceCustomString6",
    "cs1Label": "deviceCustomString1Label",
    "cs2Label": "deviceCustomString2Label",
    "cs3Label": "deviceCustomString3Label",
    "cs4Label": "deviceCustomString4Label",
    "cs5Label": "deviceCustomString5Label",
    "cs6Label": "deviceCustomString6Label",
    "cn1": "deviceCustomNumber1",
    "cn2": "deviceCustomNumber2",
    "cn3": "deviceCustomNumber3",
    "cn1Label": "deviceCustomNumber1Label",
    "cn2Label": "deviceCustomNumber2Label",
    "cn3Label": "deviceCustomNumber3Label",
    "cfp1": "deviceCustomFloatingPoint1",
    "cfp2": "deviceCustomFloatingPoint2",
    "cfp3": "deviceCustomFloatingPoint3",
    "cfp4": "deviceCustomFloatingPoint4",
    "cfp1Label": "deviceCustomFloatingPoint1Label",
    "cfp2Label": "deviceCustomFloatingPoint2Label",
    "cfp3Label": "deviceCustomFloatingPoint3Label",
    "cfp4Label": "deviceCustomFloatingPoint4Label",
    "c6a1": "deviceCustomIPv6Address1",
    "c6a2": "deviceCustomIPv6Address2",
    "c6a3": "deviceCustomIPv6Address3",
    "c6a4": "deviceCustomIPv6Address4",
    "flexString1": "flexString1",
    "flexString2": "flexString2",
}
_INTEGERS = frozenset(
    {
        "baseEventCount",
        "bytesIn",
        "bytesOut",
        "destinationPort",
        "destinationProcessId",
        "destinationTranslatedPort",
        "deviceCustomNumber1",
        "deviceCustomNumber2",
        "deviceCustomNumber3",
        "deviceDirection",
        "deviceProcessId",
        "eventId",
        "fileSize",
        "oldFileSize",
        "sourcePort",
        "sourceProcessId",
        "sourceTranslatedPort",
        "type",
    }
)
_FLOATS = frozenset(
    {
        "destinationGeoLatitude",
        "destinationGeoLongitude",
        "sourceGeoLatitude",
        "sourceGeoLongitude",
        "deviceCustomFloatingPoint1",
        "deviceCustomFloatingPoint2",
        "deviceCustomFloatingPoint3",
        "deviceCustomFloatingPoint4",
    }
)
_IPS = frozenset(
    {
        "sourceAddress",
        "destinationAddress",
        "deviceAddress",
        "agentAddress",
        "sourceTranslatedAddress",
        "destinationTranslatedAddress",
        "deviceTranslatedAddress",
        "agentTranslatedAddress",
    }
)
_TIMES = frozenset(
    {
        "deviceReceiptTime",
        "startTime",
        "endTime",
        "agentReceiptTime",
        "fileCreateTime",
        "fileModificationTime",
        "oldFileCreateTime",
        "oldFileModificationTime",
        "deviceCustomDate1",
        "deviceCustomDate2",
    }
)
# full name -> ECS paths (decode_cef ecs.go and the cef module pipeline)
_ECS: dict[str, tuple[str, ...]] = {
    "applicationProtocol": ("network.application",),
    "bytesIn": ("source.bytes",),
    "bytesOut": ("destination.bytes",),
    "destinationHostName": ("destination.domain",),
    "destinationMacAddress": ("destination.mac",),
    "destinationNtDomain": ("destination.user.domain",),
    "destinationPort": ("destination.port",),
    "destinationProcessId": ("destination.process.pid",),
    "destinationProcessName": ("destination.process.name",),
    "destinationServiceName": ("destination.service.name",),
    "destinationTranslatedPort": ("destination.nat.port",),
    "destinationUserId": ("destination.user.id",),
    "destinationUserName": ("destination.user.name",),
    "destinationUserPrivileges": ("destination.user.group.name",),
    "destinationGeoLatitude": ("destination.geo.location.lat",),
    "destinationGeoLongitude": ("destination.geo.location.lon",),
    "deviceAction": ("event.action",),
    "deviceHostName": ("observer.hostname",),
    "deviceMacAddress": ("observer.mac",),
    "deviceInboundInterface": ("observer.ingress.interface.name",),
    "deviceOutboundInterface": ("observer.egress.interface.name",),
    "endTime": ("event.end",),
    "startTime": ("event.start",),
    "eventId": ("event.id",),
    "eventOutcome": ("event.outcome",),
    "fileName": ("file.name",),
    "filePath": ("file.path",),
    "fileSize": ("file.size",),
    "fileHash": ("file.hash.md5",),
    "message": ("message",),
    "reason": ("event.reason",),
    "requestUrl": ("url.original",),
    "requestMethod": ("http.request.method",),
    "requestContext": ("http.request.referrer",),
    "requestClientApplication": ("user_agent.original",),
    "sourceHostName": ("source.domain",),
    "sourceMacAddress": ("source.mac",),
    "sourceNtDomain": ("source.user.domain",),
    "sourcePort": ("source.port",),
    "sourceProcessId": ("source.process.pid",),
    "sourceProcessName": ("source.process.name",),
    "sourceServiceName": ("source.service.name",),
    "sourceTranslatedPort": ("source.nat.port",),
    "sourceUserId": ("source.user.id",),
    "sourceUserName": ("source.user.name",),
    "sourceUserPrivileges": ("source.user.group.name",),
    "sourceGeoLatitude": ("source.geo.location.lat",),
    "sourceGeoLongitude": ("source.geo.location.lon",),
}
_ECS_IP = {
    "sourceAddress": "source.ip",
    "destinationAddress": "destination.ip",
    "sourceTranslatedAddress": "source.nat.ip",
    "destinationTranslatedAddress": "destination.nat.ip",
}
_SEVERITY_WORDS = {"unknown": 0, "low": 0, "medium": 4, "high": 7, "very-high": 9, "veryhigh": 9}
_RULE_ID_LABELS = frozenset({"ruleid", "rule id", "rule_id", "rule-id", "policyid"})
_RULE_NAME_LABELS = frozenset({"rule", "rule name", "rulename", "rule_name", "policy", "policy name"})


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def split_header(text: str) -> tuple[list[str], str]:
    """Split ``Version|...|Severity|Extension`` (after ``CEF:``) into 7 unescaped header
    fields and the raw extension. Raises :class:`ParseError` when a field is missing."""
    parts = text.split("|", 7)
    if len(parts) == 8 and "\\" not in text[: len(text) - len(parts[7])]:
        return parts[:7], parts[7]  # no escapes in the header: a plain split says the same
    fields: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)
    start = 0
    while i < n and len(fields) < 7:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in "|\\":
            buf.append(text[start:i])
            buf.append(text[i + 1])
            i += 2
            start = i
            continue
        if ch == "|":
            buf.append(text[start:i])
            fields.append("".join(buf))
            buf = []
            i += 1
            start = i
            continue
        i += 1
    if len(fields) < 7:
        names = (
            "version",
            "device_vendor",
            "device_product",
            "device_version",
            "signature_id",
            "name",
            "severity",
        )
        raise _err(
            f"CEF header has {len(fields)} of 7 '|'-terminated fields (truncated?)", names[len(fields)]
        )
    return fields, text[i:]


_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")


def _valid_key(key: str) -> bool:
    """A non-empty run of ASCII letters, digits and ``_.-[]``."""
    return _KEY.fullmatch(key) is not None


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    out: list[str] = []
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\\" and i + 1 < n:
            nxt = value[i + 1]
            out.append({"n": "\n", "r": "\r", "=": "=", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


# Each '=' with the run of characters other than ' ' and '=' before it, that run starting
# after a space, an '=' or the line start (possessive and anchored: linear time).
_EQ_WORD = re.compile(r"(?:^|(?<=[ =]))([^ =]*+)=")


def _parse_plain_extension(text: str) -> dict[str, str]:
    """:func:`parse_extension` of a text without backslashes: every '=' is a separator
    candidate, so one regex scan finds the keys."""
    starts = [(m.start(1), m.end(1), m.group(1)) for m in _EQ_WORD.finditer(text)]
    starts = [s for s in starts if _valid_key(s[2])]
    if not starts and text.strip():
        raise _err(f"CEF extension without key=value pairs: {text[:40]!r}", "extension")
    out: dict[str, str] = {}
    last = len(starts) - 1
    for k, (_, eq, key) in enumerate(starts):
        end = starts[k + 1][0] - 1 if k < last else len(text)
        out[key] = text[eq + 1 : end].strip(" ") if end > eq + 1 else ""
    return out


def parse_extension(text: str) -> dict[str, str]:
    """``key=value key2=value with spaces`` to a dict of unescaped values (linear scan)."""
    # Positions of unescaped '=' whose preceding word is a valid key.
    if "\\" not in text:
        return _parse_plain_extension(text)
    starts: list[tuple[int, int, str]] = []  # (key start, '=' index, key)
    n = len(text)
    floor = 0  # a key cannot reach back past the previous '='
    eq = text.find("=")
    while eq >= 0:
        k = eq - 1
        while k >= floor and text[k] == "\\":
            k -= 1
        if (eq - 1 - k) % 2 == 0:  # not escaped
            word_start = max(text.rfind(" ", floor, eq) + 1, floor)
            key = text[word_start:eq]
            if _valid_key(key):
                starts.append((word_start, eq, key))
            floor = eq + 1
        eq = text.find("=", eq + 1)
    out: dict[str, str] = {}
    if not starts and text.strip():
        raise _err(f"CEF extension without key=value pairs: {text[:40]!r}", "extension")
    for k, (_, eq, key) in enumerate(starts):
        end = starts[k + 1][0] - 1 if k + 1 < len(starts) else n
        out[key] = _unescape(text[eq + 1 : max(end, eq + 1)].strip(" "))
    return out


def parse_cef_time(text: str, tz: Any) -> datetime | None:
    """CEF times: epoch milliseconds or ``MMM dd [yyyy] HH:mm:ss[.SSS] [zone]``."""
    text = text.strip()
    if text.isdigit():
        value = int(text)
        return datetime.fromtimestamp(value / 1000.0 if value > 10**11 else value, UTC)
    tokens = text.split()
    if len(tokens) < 3 or tokens[0] not in MONTHS:
        try:
            ts = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (ts if ts.tzinfo else ts.replace(tzinfo=tz)).astimezone(UTC)
    day = int_or_none(tokens[1])
    j = 2
    year = datetime.now(UTC).year
    if len(tokens[2]) == 4 and tokens[2].isdigit():
        year, j = int(tokens[2]), 3
    if j >= len(tokens) or day is None:
        return None
    clock, _, frac = tokens[j].partition(".")
    parts = clock.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    zone = tz
    if j + 1 < len(tokens):
        name = tokens[j + 1]
        if name in TZ_ABBREVIATIONS:
            zone = timezone(TZ_ABBREVIATIONS[name])
        else:
            try:
                zone = resolve_timezone(name)
            except ValueError:
                pass
    try:
        ts = datetime(
            year, MONTHS[tokens[0]], day, int(parts[0]), int(parts[1]), min(int(parts[2]), 59), tzinfo=zone
        )
    except ValueError:
        return None
    if frac.isdigit():
        ts += timedelta(microseconds=int((frac + "000000")[:6]))
    return ts.astimezone(UTC)


def _typed(name: str, value: str, tz: Any) -> Any:
    if name in _INTEGERS:
        return int_or_none(value) if value.lstrip("-").isdigit() else value
    if name in _FLOATS:
        number = float_or_none(value)
        return value if number is None else number
    if name in _IPS:
        return ip_or_none(value) or value
    if name in _TIMES:
        ts = parse_cef_time(value, tz)
        return format_ts_cached(ts) if ts else value
    return value


@dataclass
class CefParser:
    """CEF, bare or after a syslog header, to ECS as Filebeat's cef module.

    Option ``timezone``: the zone of CEF times without one (``rt=Jan 17 2020 08:52:10``)
    unless the record has ``dtz``; default ``Asia/Ho_Chi_Minh``.
    """

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True when ``CEF:<digit>|`` starts the line or follows a syslog header."""
        i = raw.find(b"CEF:", 0, 300)
        if i < 0 or (i > 0 and raw[i - 1 : i] not in (b" ", b">", b":")):
            return False
        return raw[i + 4 : i + 5].isdigit() and raw[i + 5 : i + 6] in (b"|", b".")

    def parse(self, record: RawRecord) -> list[Event]:
        raw = record.raw
        if len(raw) > _MAX_LINE:
            raise _err(f"line of {len(raw)} bytes exceeds {_MAX_LINE}", "message")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        at = line.find("CEF:")
        if at < 0:
            raise _err("no 'CEF:' marker", "header")
        tzname = record_timezone(record, self.timezone)
        try:
            tz = resolve_timezone(tzname)
        except ValueError as exc:
            raise _err(str(exc), "timezone") from None
        event: Event = {"event": {"kind": "event", "module": "cef", "dataset": "cef.log"}}
        header_ts: datetime | None = None
        if line[:at].strip():
            try:
                msg = parse_syslog(
                    line[:at].rstrip().encode() + b" x", timezone=tzname, reference=record.received
                )
            except ParseError as exc:
                raise _err(f"bad syslog header before CEF: {exc.reason}", exc.field or "header") from None
            header_ts = msg.timestamp
            if msg.hostname:
                put(event, "host.hostname", msg.hostname)
        fields, ext_text = split_header(line[at + 4 :])
        version, vendor, product, dev_version, sig, name, severity = fields
        if not version.strip().isdigit():
            raise _err(f"bad CEF version {version[:16]!r}: expected a number", "version")
        ext = parse_extension(ext_text)
        dtz = ext.get("dtz") or ext.get("deviceTimeZone")
        if dtz:
            try:
                tz = resolve_timezone(dtz)
            except ValueError:
                pass
        extensions: dict[str, Any] = {}
        for key, value in ext.items():
            full = SHORT_KEYS.get(key, key)
            extensions[full] = _typed(full, value, tz)
        cef: dict[str, Any] = {
            "version": version.strip(),
            "device": {"vendor": vendor, "product": product, "version": dev_version, "event_class_id": sig},
            "name": name,
            "severity": severity,
        }
        if extensions:
            cef["extensions"] = extensions
        event["cef"] = cef
        observer = {"vendor": vendor, "product": product, "version": dev_version}
        event["observer"] = {k: v for k, v in observer.items() if v}
        put(event, "event.code", sig)
        sev = severity.strip()
        put(event, "event.severity", int(sev) if sev.isdigit() else _SEVERITY_WORDS.get(sev.lower()))
        self._to_ecs(extensions, event)
        if "message" not in event:
            put(event, "message", name)
        when = extensions.get("deviceReceiptTime")
        if isinstance(when, str) and when.endswith("Z"):
            event["@timestamp"] = when
        elif header_ts is not None:
            event["@timestamp"] = format_ts_cached(header_ts)
        else:
            event["@timestamp"] = format_ts_cached(record.received.astimezone(UTC))
        return [event]

    @staticmethod
    def _to_ecs(ext: dict[str, Any], event: Event) -> None:
        for full, value in ext.items():
            if full in _ECS:
                for path in _ECS[full]:
                    put(event, path, value)
            elif full in _ECS_IP and ip_or_none(str(value)):
                put(event, _ECS_IP[full], value)
                add_related(event, "ip", value)
        proto = ext.get("transportProtocol")
        if isinstance(proto, str) and proto:
            put(event, "network.transport", proto.lower())
        dvc = ext.get("deviceAddress")
        if isinstance(dvc, str) and ip_or_none(dvc):
            put(event, "observer.ip", [dvc])
        host = ext.get("deviceHostName")
        if host:
            add_related(event, "hosts", host)
        for key in ("sourceUserName", "destinationUserName"):
            add_related(event, "user", ext.get(key))
        for key in ("fileHash", "oldFileHash"):
            add_related(event, "hash", ext.get(key))
        for n in range(1, 7):
            label = str(ext.get(f"deviceCustomString{n}Label", "")).strip().lower()
            value = ext.get(f"deviceCustomString{n}")
            if label and value is not None:
                if label in _RULE_ID_LABELS:
                    put(event, "rule.id", value)
                elif label in _RULE_NAME_LABELS:
                    put(event, "rule.name", value)
