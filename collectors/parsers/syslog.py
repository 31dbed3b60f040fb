"""Syslog header parsing (RFC 3164 and RFC 5424) and the generic ``syslog`` parser.

:func:`parse_syslog` turns one syslog line into a :class:`SyslogMessage`;
:class:`SyslogParser` turns that into a generic ECS event. Other parsers of syslog
borne formats (``linux_auth``) call :func:`parse_syslog` and read the body.

Accepted headers, after an optional ``<PRI>``:

* RFC 5424: ``1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`` (``-`` is nil);
* RFC 3164: ``Mmm dd hh:mm:ss`` (no year: inferred from the receive time) or an ISO
  8601 timestamp, then an optional hostname and a ``TAG[pid]:`` before the message.

Zoneless timestamps are read in the given ``timezone`` (a zoneinfo name such as
``Asia/Ho_Chi_Minh``, ``UTC``, or a fixed offset such as ``-02:00``).

The parser works by slicing strings (two small regular expressions find the ends of
STRUCTURED-DATA tokens), so its cost is linear in the line length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from collectors.parsers.base import ParseError
from soc.event import Event, RawRecord, format_ts

PARSER_NAME = "syslog"

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
_SEVERITIES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug")
_FUTURE_TOLERANCE = timedelta(days=1)
_BOM = "\ufeff"


@dataclass(slots=True)
class SyslogMessage:
    """One parsed syslog line.

    ``timestamp`` is aware UTC; ``timezone_applied`` is the zone name used when the
    line's timestamp had none. Absent (or nil ``-``) header fields are ``None``.
    """

    timestamp: datetime
    hostname: str | None
    appname: str | None
    procid: str | None
    msgid: str | None
    structured_data: dict[str, dict[str, str]]
    message: str
    facility: int | None
    severity: int | None
    priority: int | None
    rfc: str
    version: int | None = None
    timezone_applied: str | None = None

    @property
    def pid(self) -> int | None:
        """``procid`` as an int when it is one."""
        p = self.procid
        if p and p.isascii() and p.isdigit():
            return int(p)
        return None


@lru_cache(maxsize=256)
def resolve_timezone(name: str) -> tzinfo:
    """The tzinfo for a zoneinfo name, ``UTC``/``Z``, or an offset like ``-02:00``.

    Raises ``ValueError`` naming the bad value.
    """
    text = name.strip()
    if text in ("UTC", "Z", "utc", "GMT"):
        return UTC
    if text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        body = text[1:].replace(":", "")
        if len(body) in (2, 4) and body.isdigit():
            hours, minutes = int(body[:2]), int(body[2:] or 0)
            if hours < 24 and minutes < 60:
                return timezone(sign * timedelta(hours=hours, minutes=minutes))
        raise ValueError(f"bad timezone offset {name!r}: expected +HH:MM or -HH:MM")
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown timezone {name!r}: expected a zoneinfo name or an offset") from exc


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


# (text "Mmm dd hh", zone name, year) -> aware UTC datetime of that local hour, or
# None when invalid. Offsets change only on hour boundaries in practice, so minutes and
# seconds are added after conversion. Cleared when large.
_HOUR_CACHE: dict[tuple[str, str, int], datetime | None] = {}
_NO_HIT = object()


def _bsd_time(text: str, tzname: str, year: int) -> datetime | None:
    key = (text[:9], tzname, year)
    base = _HOUR_CACHE.get(key, _NO_HIT)
    if base is _NO_HIT:
        try:
            day_txt = text[4:6]
            if not day_txt.strip().isdigit() or not text[7:9].isdigit():
                raise ValueError
            local = datetime(
                year, _MONTHS[text[0:3]], int(day_txt), int(text[7:9]), tzinfo=resolve_timezone(tzname)
            )
            base = local.astimezone(UTC)
        except (KeyError, ValueError):
            base = None
        if len(_HOUR_CACHE) > 8192:
            _HOUR_CACHE.clear()
        _HOUR_CACHE[key] = base
    if base is None:
        return None
    mm, ss = text[10:12], text[13:15]
    if len(text) < 15 or text[9] != ":" or text[12] != ":" or not (mm.isdigit() and ss.isdigit()):
        return None
    if mm > "59" or ss > "60":
        return None
    return base + timedelta(minutes=int(mm), seconds=min(int(ss), 59))  # type: ignore[operator]


# (text "Mmm dd hh:mm:ss", zone name, year) -> :func:`_bsd_time` of it. Log lines come
# many to a second, so most lines cost one dict lookup here. Cleared when large.
_SECOND_CACHE: dict[tuple[str, str, int], datetime | None] = {}


def _bsd_second(text: str, tzname: str, year: int) -> datetime | None:
    """:func:`_bsd_time`, cached per distinct timestamp text."""
    key = (text, tzname, year)
    ts = _SECOND_CACHE.get(key, _NO_HIT)
    if ts is _NO_HIT:
        ts = _bsd_time(text, tzname, year)
        if len(_SECOND_CACHE) > 16384:
            _SECOND_CACHE.clear()
        _SECOND_CACHE[key] = ts
    return ts  # type: ignore[return-value]


def _infer_bsd(text: str, tzname: str, reference: datetime) -> datetime:
    """Place a year-less ``Mmm dd hh:mm:ss`` near ``reference`` (the receive time).

    The reference's year, unless that puts it more than a day in the future (a
    December line received in January: previous year) or the next year is within a
    day of the reference (a 1 January line received on 31 December with clock skew).
    """
    year = reference.year
    ts = _bsd_second(text, tzname, year)
    if ts is None:
        # 29 February outside a leap year, or a bad field.
        for back in (1, 2, 3, 4):
            ts = _bsd_time(text, tzname, year - back)
            if ts is not None:
                return ts
        raise _err(f"bad RFC 3164 timestamp {text!r}", "timestamp")
    if ts - reference > _FUTURE_TOLERANCE:
        prev = _bsd_second(text, tzname, year - 1)
        return prev if prev is not None else ts
    if text[0:3] == "Jan" and reference.month == 12:
        nxt = _bsd_second(text, tzname, year + 1)
        if nxt is not None and nxt - reference <= _FUTURE_TOLERANCE:
            return nxt
    return ts


def _iso_time(text: str, tzname: str, fld: str) -> tuple[datetime, bool]:
    """Parse an ISO 8601 timestamp; returns (aware UTC, whether ``tzname`` was applied)."""
    if len(text) < 19 or text[4] != "-" or text[10] not in "Tt ":
        raise _err(f"bad ISO 8601 timestamp {text[:40]!r}", fld)
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise _err(f"bad ISO 8601 timestamp {text[:40]!r}", fld) from None
    if ts.tzinfo is None:
        return ts.replace(tzinfo=resolve_timezone(tzname)).astimezone(UTC), True
    return ts.astimezone(UTC), False


def _parse_pri(line: str) -> tuple[int | None, int]:
    """``(priority, index after it)``; ``(None, 0)`` when the line has no ``<PRI>``."""
    if not line.startswith("<"):
        return None, 0
    end = line.find(">", 1, 5)
    digits = line[1:end] if end > 0 else ""
    if not digits or not digits.isascii() or not digits.isdigit():
        raise _err(f"bad PRI {line[:5]!r}: expected '<' 1-3 digits '>'", "priority")
    pri = int(digits)
    if pri > 191 or (len(digits) > 1 and digits[0] == "0"):
        raise _err(f"bad PRI <{digits}>: must be 0..191 without leading zeros", "priority")
    return pri, end + 1


def _nil(token: str) -> str | None:
    return None if token == "-" else token


_SD_ID_END = re.compile(r"[ \]]")
_SD_VALUE_END = re.compile(r'["\\]')


def _parse_sd(text: str, pos: int) -> tuple[dict[str, dict[str, str]], int]:
    """Parse RFC 5424 STRUCTURED-DATA starting at ``pos``; returns (data, next index)."""
    if text.startswith("-", pos):
        return {}, pos + 1
    sd: dict[str, dict[str, str]] = {}
    n = len(text)
    while pos < n and text[pos] == "[":
        m = _SD_ID_END.search(text, pos + 1)
        end_id = m.start() if m else n
        sd_id = text[pos + 1 : end_id]
        if not sd_id or end_id >= n:
            raise _err(f"bad SD-ELEMENT at column {pos}: no SD-ID or unterminated", "structured_data")
        params: dict[str, str] = {}
        pos = end_id
        while pos < n and text[pos] == " ":
            eq = text.find("=", pos + 1)
            if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
                raise _err(f'bad SD-PARAM at column {pos}: expected name="value"', "structured_data")
            name = text[pos + 1 : eq]
            if not name or " " in name or "]" in name:
                raise _err(f"bad SD-PARAM name {name[:32]!r} at column {pos}", "structured_data")
            i = eq + 2
            chunks: list[str] = []
            start = i
            while True:
                m = _SD_VALUE_END.search(text, i)
                j = m.start() if m else n
                if j >= n:
                    raise _err(f"unterminated SD-PARAM value for {name!r}", "structured_data")
                if text[j] == "\\":
                    nxt = text[j + 1 : j + 2]
                    chunks.append(text[start:j])
                    if nxt in ('"', "\\", "]"):
                        chunks.append(nxt)
                    else:  # RFC 5424 6.3.3: other backslashes are kept as they are
                        chunks.append("\\" + nxt)
                    i = start = j + 2
                    continue
                chunks.append(text[start:j])
                pos = j + 1
                break
            params[name] = "".join(chunks)
        if pos >= n or text[pos] != "]":
            raise _err(f"SD-ELEMENT {sd_id!r} not closed with ']'", "structured_data")
        pos += 1
        sd[sd_id] = params
    if not sd:
        raise _err(f"STRUCTURED-DATA must be '-' or '[...]', got {text[pos : pos + 16]!r}", "structured_data")
    return sd, pos


def _parse_5424(line: str, pri: int | None, pos: int, tzname: str) -> SyslogMessage:
    # pos points just after "1 " (the version).
    parts = line[pos:].split(" ", 5)
    if len(parts) < 6:
        raise _err("RFC 5424 header needs TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD", "header")
    ts_txt, host, app, procid, msgid, rest = parts
    if ts_txt == "-":
        raise _err("RFC 5424 nil TIMESTAMP: no event time", "timestamp")
    ts, applied = _iso_time(ts_txt, tzname, "timestamp")
    sd, after = _parse_sd(rest, 0)
    msg = rest[after:]
    if msg:
        if msg[0] != " ":
            raise _err(f"expected a space after STRUCTURED-DATA, got {msg[:16]!r}", "structured_data")
        msg = msg[1:]
        if msg.startswith(_BOM):
            msg = msg[1:]
    return SyslogMessage(
        timestamp=ts,
        hostname=None if host == "-" else host,  # "-" is nil
        appname=None if app == "-" else app,
        procid=None if procid == "-" else procid,
        msgid=None if msgid == "-" else msgid,
        structured_data=sd,
        message=msg,
        facility=None if pri is None else pri >> 3,
        severity=None if pri is None else pri & 7,
        priority=pri,
        rfc="5424",
        version=1,
        timezone_applied=tzname if applied else None,
    )


def _split_tag(rest: str) -> tuple[str | None, str | None, str]:
    """Split ``TAG[pid]: message``; ``(None, None, rest)`` when there is no tag."""
    colon = rest.find(":")
    if colon <= 0:
        return None, None, rest
    tag = rest[:colon]
    if " " in tag:
        return None, None, rest
    pid: str | None = None
    if tag.endswith("]"):
        br = tag.find("[")
        if br > 0:
            pid = tag[br + 1 : -1] or None
            tag = tag[:br]
    msg = rest[colon + 1 :]
    return tag, pid, msg.lstrip(" ")


def _looks_like_tag(token: str) -> bool:
    return token.endswith(":") or (token.endswith("]:") and "[" in token)


def _parse_3164(line: str, pri: int | None, pos: int, tzname: str, reference: datetime) -> SyslogMessage:
    applied: str | None = None
    head = line[pos : pos + 3]
    if head in _MONTHS and line[pos + 15 : pos + 16] in (" ", ""):
        text = line[pos : pos + 15]
        ts = _SECOND_CACHE.get((text, tzname, reference.year))  # type: ignore[assignment]
        # _infer_bsd's result without calling it: a known time of the reference's year,
        # not in the future, and no new-year question.
        if ts is None or ts - reference > _FUTURE_TOLERANCE or (head == "Jan" and reference.month == 12):
            ts = _infer_bsd(text, tzname, reference)
        applied = tzname
        pos += 16
    elif head in _MONTHS and line[pos + 5 : pos + 6] == " " and line[pos + 14 : pos + 15] in (" ", ""):
        # "Feb 1 00:00:00": a single-digit day without the padding space
        ts = _infer_bsd(line[pos : pos + 4] + " " + line[pos + 4 : pos + 14], tzname, reference)
        applied = tzname
        pos += 15
    elif line[pos : pos + 4].isdigit() and line[pos + 4 : pos + 5] == "-":
        sp = line.find(" ", pos)
        end = sp if sp >= 0 else len(line)
        ts, was_applied = _iso_time(line[pos:end], tzname, "timestamp")
        applied = tzname if was_applied else None
        pos = end + 1
    else:
        raise _err(f"no RFC 3164 or ISO 8601 timestamp at {line[pos : pos + 20]!r}", "timestamp")
    while line.startswith(" ", pos):
        pos += 1
    rest = line[pos:]
    if not rest:
        raise _err("nothing after the timestamp: no hostname or message", "header")
    hostname: str | None = None
    sp = rest.find(" ")
    if sp > 0 and rest[sp - 1] != ":":  # the first word is a hostname, not a "TAG:" (_looks_like_tag)
        hostname = rest[:sp]
        rest = rest[sp + 1 :]
    tag, pid, msg = _split_tag(rest)
    facility = severity = None
    if pri is not None:
        facility, severity = pri >> 3, pri & 7
    return SyslogMessage(
        timestamp=ts,
        hostname=hostname,
        appname=tag,
        procid=pid,
        msgid=None,
        structured_data={},
        message=msg,
        facility=facility,
        severity=severity,
        priority=pri,
        rfc="3164",
        timezone_applied=applied,
    )


def parse_syslog(raw: bytes, *, timezone: str, reference: datetime) -> SyslogMessage:
    """Parse one syslog line (without its newline).

    ``timezone`` is used for timestamps without a zone; ``reference`` (aware, normally
    the receive time) supplies the year of RFC 3164 timestamps. Raises
    :class:`ParseError` naming the field that is wrong.
    """
    resolve_timezone(timezone)  # ValueError on a bad zone: a configuration error, not a bad line
    line = raw.decode("utf-8", "replace")
    if not line:
        raise _err("empty line", "header")
    pri, pos = _parse_pri(line)
    if line.startswith("1 ", pos):
        return _parse_5424(line, pri, pos + 2, timezone)
    return _parse_3164(line, pri, pos, timezone, reference)


def record_timezone(record: RawRecord, default: str) -> str:
    """The zone for ``record``: ``meta["timezone"]`` when set, else ``default``."""
    tz = record.meta.get("timezone")
    return tz if tz else default


# Whole second (aware datetime) -> "YYYY-MM-DDTHH:MM:SS." in UTC, as format_ts writes it.
_TS_SECOND: dict[datetime, str] = {}


def format_ts_cached(ts: datetime) -> str:
    """:func:`soc.event.format_ts`, with the text of each second cached (log lines
    share seconds); the fraction is appended as ``format_ts`` writes it."""
    tz = ts.tzinfo
    if tz is not UTC:
        if tz is None:
            return format_ts(ts)  # raises its ValueError
        ts = ts.astimezone(UTC)  # an offset may carry microseconds
    us = ts.microsecond
    second = ts.replace(microsecond=0) if us else ts
    prefix = _TS_SECOND.get(second)
    if prefix is None:
        if len(_TS_SECOND) > 4096:
            _TS_SECOND.clear()
        prefix = _TS_SECOND[second] = format_ts(second)[:-4]  # drop "000Z"
    if us % 1000:
        return f"{prefix}{us:06d}Z"
    return f"{prefix}{us // 1000:03d}Z"


def base_event(msg: SyslogMessage) -> Event:
    """The ECS fields every syslog-borne event carries, from its header."""
    syslog: dict[str, Any] = {}
    event: Event = {
        "@timestamp": format_ts_cached(msg.timestamp),
        "message": msg.message,
        "event": {"kind": "event"},
        "log": {"syslog": syslog},
    }
    if msg.timezone_applied:
        event["event"]["timezone"] = msg.timezone_applied
    if msg.hostname:
        event["host"] = {"hostname": msg.hostname, "name": msg.hostname}
        syslog["hostname"] = msg.hostname
    procid = msg.procid
    if msg.appname:
        process: dict[str, Any] = {"name": msg.appname}
        if procid and procid.isdigit() and procid.isascii():  # SyslogMessage.pid, inlined
            process["pid"] = int(procid)
        event["process"] = process
        syslog["appname"] = msg.appname
    if procid:
        syslog["procid"] = procid
    if msg.priority is not None:
        syslog["priority"] = msg.priority
        fac = msg.facility or 0
        sev = msg.severity or 0
        syslog["facility"] = {"code": fac, "name": _FACILITIES[fac]}
        syslog["severity"] = {"code": sev, "name": _SEVERITIES[sev]}
    if msg.msgid:
        syslog["msgid"] = msg.msgid
    if msg.version is not None:
        syslog["version"] = str(msg.version)
    if msg.structured_data:
        syslog["structured_data"] = msg.structured_data
    return event


@dataclass
class SyslogParser:
    """Generic syslog parser (``syslog``): any RFC 3164/5424 line to a generic event."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)  # refuse a bad zone at construction

    def detect(self, raw: bytes) -> bool:
        """True when the line has a syslog PRI or a syslog/ISO timestamp up front."""
        head = raw[:24]
        if head.startswith(b"<"):
            end = head.find(b">", 1, 5)
            return end > 1 and head[1:end].isdigit()
        if head[:3].decode("ascii", "replace") in _MONTHS and head[3:4] == b" ":
            return True
        return head[:4].isdigit() and head[4:5] == b"-" and head[10:11] in (b"T", b" ")

    def parse(self, record: RawRecord) -> list[Event]:
        tzname = record.meta.get("timezone") or self.timezone  # record_timezone, inlined
        try:
            msg = parse_syslog(record.raw, timezone=tzname, reference=record.received)
        except ValueError as exc:  # a bad timezone name in the record's meta
            raise ParseError(str(exc), parser=self.name, field="timezone") from None
        return [base_event(msg)]
