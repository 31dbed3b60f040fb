"""Web server access logs (``weblog``): Apache/Nginx common, combined and vhost-combined
formats, mapped as Filebeat's ``apache``/``nginx`` ``access`` filesets::

    203.0.113.9 - alice [10/Oct/2026:13:55:36 +0700] "GET /a.php?x=1 HTTP/1.1" 200 2326 "-" "curl/8.0"
    www.example.vn:443 203.0.113.9 - - [10/Oct/2026:13:55:36 +0700] "POST /up HTTP/1.1" 404 0 "-" "-"

Common is ``%h %l %u %t "%r" %>s %b``; combined adds ``"%{Referer}i" "%{User-Agent}i"``;
vhost-combined puts ``%v:%p`` in front. Anything after the user agent (Nginx's
``"$http_x_forwarded_for"`` and the like) is ignored. ``@timestamp`` honours the line's
offset (a line without one is read in the record's zone). ``event.outcome`` is
``failure`` for status >= 400. ``event.module`` is ``nginx`` or ``apache`` when the file
path names the server, else ``weblog`` (the formats are the same). The line is read by a
left-to-right tokenizer (quoted fields with backslash escapes, one bracketed time), linear
in its length; anything that is not this shape raises :class:`ParseError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.fwcommon import MONTHS, ip_or_none
from collectors.parsers.syslog import format_ts_cached, record_timezone, resolve_timezone
from soc.event import Event, RawRecord

PARSER_NAME = "weblog"

# Bounded and anchored: each ``\S+ `` run ends at the first space, so no backtracking blow-up.
_DETECT = re.compile(
    rb"^(?:\S+ )?\S+ \S+ \S+ \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}(?: [+-]\d{4})?\] \""
)
_METHOD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
_UNESCAPE = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def _put(event: Event, path: str, value: Any) -> None:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _dash(text: str) -> str | None:
    return None if text in ("-", "") else text


class _Cursor:
    """A left-to-right reader over one log line."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def word(self, fld: str) -> str:
        """The text up to the next space (the space is consumed)."""
        end = self.text.find(" ", self.pos)
        if end < 0 or end == self.pos:
            raise _err("line ends before the field", fld)
        value = self.text[self.pos : end]
        self.pos = end + 1
        return value

    def bracketed(self, fld: str) -> str:
        if not self.text.startswith("[", self.pos):
            raise _err("expected '[' before the time", fld)
        end = self.text.find("]", self.pos)
        if end < 0:
            raise _err("unterminated '[' time", fld)
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        self.skip_space(fld)
        return value

    def quoted(self, fld: str) -> str:
        """A double-quoted field; ``\\"`` and ``\\\\`` are unescaped (as Apache writes them)."""
        text = self.text
        if not text.startswith('"', self.pos):
            raise _err("expected a double-quoted field", fld)
        out: list[str] = []
        i = self.pos + 1
        n = len(text)
        while True:
            q = text.find('"', i)
            b = text.find("\\", i, q if q >= 0 else n)
            if b >= 0:
                out.append(text[i:b])
                if b + 1 >= n:
                    raise _err("unterminated quoted field", fld)
                nxt = text[b + 1]
                out.append(_UNESCAPE.get(nxt, "\\" + nxt))
                i = b + 2
                continue
            if q < 0:
                raise _err("unterminated quoted field", fld)
            out.append(text[i:q])
            self.pos = q + 1
            if self.pos < n:
                self.skip_space(fld)
            return "".join(out)

    def skip_space(self, fld: str) -> None:
        if not self.text.startswith(" ", self.pos):
            raise _err("expected a space after the field", fld)
        self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek_quote(self) -> bool:
        return self.text.startswith('"', self.pos)

    def rest_word(self, fld: str) -> str:
        """The next space-separated word, or the rest of the line."""
        end = self.text.find(" ", self.pos)
        if end < 0:
            value, self.pos = self.text[self.pos :], len(self.text)
        else:
            value, self.pos = self.text[self.pos : end], end + 1
        if not value:
            raise _err("empty field", fld)
        return value


def parse_time(text: str, default_tz: str) -> datetime:
    """``10/Oct/2000:13:55:36 -0700`` (the offset may be missing: ``default_tz`` is used)."""
    stamp, _, offset = text.partition(" ")
    if len(stamp) != 20 or stamp[2] != "/" or stamp[6] != "/" or stamp[11] != ":":
        raise _err(f"bad time {text!r}: expected dd/Mon/yyyy:HH:MM:SS +zzzz", "timestamp")
    month = MONTHS.get(stamp[3:6])
    digits = stamp[0:2] + stamp[7:11] + stamp[12:14] + stamp[15:17] + stamp[18:20]
    if month is None or not digits.isdigit() or not digits.isascii() or stamp[14] != ":" or stamp[17] != ":":
        raise _err(f"bad time {text!r}: expected dd/Mon/yyyy:HH:MM:SS +zzzz", "timestamp")
    if offset:
        if len(offset) != 5 or offset[0] not in "+-" or not offset[1:].isdigit() or not offset.isascii():
            raise _err(f"bad time zone offset {offset!r}", "timestamp")
        minutes = int(offset[1:3]) * 60 + int(offset[3:5])
        tz: Any = timezone(timedelta(minutes=-minutes if offset[0] == "-" else minutes))
    else:
        tz = resolve_timezone(default_tz)
    try:
        return datetime(
            int(stamp[7:11]),
            month,
            int(stamp[0:2]),
            int(stamp[12:14]),
            int(stamp[15:17]),
            int(stamp[18:20]),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise _err(f"bad time {text!r}: {exc}", "timestamp") from None


def _request(event: Event, request: str) -> None:
    """``METHOD URL HTTP/x.y`` (or HTTP/0.9 ``METHOD URL``) into ``http.request`` and ``url``."""
    parts = request.split(" ")
    if len(parts) not in (2, 3) or not parts[0] or not set(parts[0]) <= _METHOD_CHARS:
        return  # "-", a TLS handshake sent to the HTTP port, garbage: kept in event.original only
    method, target = parts[0], parts[1]
    if not target:
        return
    _put(event, "http.request.method", method)
    if len(parts) == 3:
        if not parts[2].startswith("HTTP/"):
            return
        _put(event, "http.version", parts[2][5:])
    _put(event, "url.original", target)
    path, sep, query = target.partition("?")
    if path.startswith(("http://", "https://")):  # proxy-style absolute URL
        scheme, _, rest = path.partition("://")
        host, slash, tail = rest.partition("/")
        _put(event, "url.scheme", scheme)
        if host:
            _put(event, "url.domain", host)
        path = slash + tail
    if path:
        _put(event, "url.path", path)
        last = path.rsplit("/", 1)[-1]
        if "." in last:
            ext = last.rsplit(".", 1)[1]
            if ext and len(ext) <= 16:
                _put(event, "url.extension", ext.lower())
    if sep and query:
        _put(event, "url.query", query)


def _module(record: RawRecord) -> str:
    """``nginx`` or ``apache`` (Filebeat's module names) when the source path says which
    server wrote the file (``/var/log/nginx/``, ``/var/log/apache2/``, ``httpd``), else ``weblog``."""
    where = (record.meta.get("path") or record.source or "").lower()
    if "nginx" in where:
        return "nginx"
    if "apache" in where or "httpd" in where:
        return "apache"
    return "weblog"


@dataclass
class WebAccessParser:
    """Apache/Nginx access log lines (common, combined, vhost-combined) to ECS."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for ``host ident user [dd/Mon/yyyy:HH:MM:SS zone] "`` (optionally ``vhost:port`` first)."""
        return _DETECT.match(raw[:400]) is not None

    def parse(self, record: RawRecord) -> list[Event]:
        text = record.raw.decode("utf-8", "backslashreplace").rstrip("\x00\r\n ")
        if not text:
            raise _err("empty line", "message")
        cur = _Cursor(text)
        first = cur.word("source.address")
        second = cur.word("ident")
        vhost: str | None = None
        if cur.text.startswith("[", cur.text.find(" ", cur.pos) + 1):
            # common: host ident user [time]
            host, user = first, cur.word("user.name")
        else:
            # vhost-combined: vhost:port host ident user [time]
            vhost, host = first, second
            cur.word("ident")
            user = cur.word("user.name")
        when = parse_time(cur.bracketed("timestamp"), record_timezone(record, self.timezone))
        request = cur.quoted("http.request")
        status_text = cur.rest_word("http.response.status_code")
        if len(status_text) != 3 or not status_text.isdigit() or not status_text.isascii():
            raise _err(f"bad status code {status_text!r}", "http.response.status_code")
        status = int(status_text)
        size_text = None if cur.at_end() else cur.rest_word("http.response.body.bytes")
        referrer = agent = None
        if not cur.at_end() and cur.peek_quote():
            referrer = cur.quoted("http.request.referrer")
            if not cur.at_end() and cur.peek_quote():
                agent = cur.quoted("user_agent.original")

        module = _module(record)
        event: Event = {
            "@timestamp": format_ts_cached(when),
            "event": {
                "kind": "event",
                "module": module,
                "dataset": f"{module}.access",
                "category": ["web"],
                "type": ["access"],
                "outcome": "failure" if status >= 400 else "success",
            },
        }
        ip = ip_or_none(host)
        if host != "-":
            _put(event, "source.address", host)
        if ip:
            _put(event, "source.ip", ip)
            event["related"] = {"ip": [ip]}
        elif host != "-":
            _put(event, "source.domain", host)
        if user := _dash(user):
            _put(event, "user.name", user)
            event.setdefault("related", {})["user"] = [user]
        _request(event, request)
        _put(event, "http.response.status_code", status)
        if size_text is not None and size_text != "-":
            if not size_text.isdigit() or not size_text.isascii() or len(size_text) > 18:
                raise _err(f"bad body size {size_text!r}", "http.response.body.bytes")
            _put(event, "http.response.body.bytes", int(size_text))
        if referrer := _dash(referrer or ""):
            _put(event, "http.request.referrer", referrer)
        if agent := _dash(agent or ""):
            _put(event, "user_agent.original", agent)
        if vhost:
            name, colon, port = vhost.rpartition(":")
            if colon and port.isdigit() and port.isascii() and name:
                _put(event, "destination.domain", name)
                _put(event, "destination.port", int(port))
            else:
                _put(event, "destination.domain", vhost)
        return [event]
