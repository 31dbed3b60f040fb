"""Tests of the syslog header parser (RFC 3164 / 5424) and the generic syslog parser."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.parsers import PARSERS, detect_format, get_parser
from collectors.parsers.base import ParseError
from collectors.parsers.syslog import SyslogParser, parse_syslog, resolve_timezone
from soc.event import RawRecord, get_field

REF = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


def p(line: bytes, tz: str = "UTC", ref: datetime = REF):
    return parse_syslog(line, timezone=tz, reference=ref)


def test_rfc3164_full_header():
    m = p(b"<34>Oct 11 22:14:15 mymachine su[231]: 'su root' failed for lonvick on /dev/pts/8")
    assert m.rfc == "3164"
    assert m.timestamp == datetime(2023, 10, 11, 22, 14, 15, tzinfo=UTC)  # Oct 2024 is in the future
    assert (m.hostname, m.appname, m.procid, m.pid) == ("mymachine", "su", "231", 231)
    assert (m.priority, m.facility, m.severity) == (34, 4, 2)
    assert m.message == "'su root' failed for lonvick on /dev/pts/8"
    assert m.timezone_applied == "UTC"


def test_rfc3164_timezone_applied_and_space_padded_day():
    m = p(b"Feb  3 07:00:00 host sshd[1]: x", tz="Asia/Ho_Chi_Minh")
    assert m.timestamp == datetime(2024, 2, 3, 0, 0, tzinfo=UTC)
    m = p(b"Feb 3 07:00:00 host sshd[1]: x", tz="+07:00")
    assert m.timestamp == datetime(2024, 2, 3, 0, 0, tzinfo=UTC)


def test_rfc3164_new_year_inference():
    jan = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
    assert p(b"Dec 31 23:59:58 h app: x", ref=jan).timestamp.year == 2023
    assert p(b"Jan  1 00:04:00 h app: x", ref=jan).timestamp.year == 2024
    dec = datetime(2023, 12, 31, 23, 59, tzinfo=UTC)
    assert p(b"Jan  1 00:00:30 h app: x", ref=dec).timestamp == datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
    # a slightly future line (clock skew) stays in the current year
    assert p(b"Jun 15 20:00:00 h app: x").timestamp.year == 2024


def test_rfc3164_feb_29_outside_leap_year_goes_to_last_leap_year():
    assert p(b"Feb 29 10:00:00 h app: x", ref=datetime(2025, 3, 1, tzinfo=UTC)).timestamp.year == 2024


def test_rfc3164_iso_timestamps_and_missing_hostname():
    m = p(b"2019-06-14T13:01:15.412+01:30 localhost pam: user nobody logged out.", tz="-02:00")
    assert m.timestamp == datetime(2019, 6, 14, 11, 31, 15, 412000, tzinfo=UTC)
    assert m.timezone_applied is None
    m = p(b"2019-06-14T10:40:20.912134 localhost sudo: x", tz="-02:00")
    assert m.timestamp == datetime(2019, 6, 14, 12, 40, 20, 912134, tzinfo=UTC)
    assert m.timezone_applied == "-02:00"
    m = p(b"<13>Jun  2 10:00:00 mytag: hello")  # logger over a local socket: no hostname
    assert (m.hostname, m.appname, m.message) == (None, "mytag", "hello")


def test_rfc5424_structured_data_escapes_and_bom():
    line = (
        b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        b'[exampleSDID@32473 iut="3" eventSource="App\\]l\\"x\\\\y\\n"][other@1 a=""] '
        b"\xef\xbb\xbfAn application event"
    )
    m = p(line)
    assert m.rfc == "5424" and m.version == 1
    assert m.timestamp == datetime(2003, 10, 11, 22, 14, 15, 3000, tzinfo=UTC)
    assert (m.hostname, m.appname, m.procid, m.msgid) == ("mymachine.example.com", "evntslog", None, "ID47")
    assert m.structured_data == {
        "exampleSDID@32473": {"iut": "3", "eventSource": 'App]l"x\\y\\n'},
        "other@1": {"a": ""},
    }
    assert m.message == "An application event"


def test_rfc5424_nil_sd_and_no_msg():
    m = p(b"<13>1 2024-01-01T00:00:00+07:00 - - 123 - -")
    assert m.timestamp == datetime(2023, 12, 31, 17, tzinfo=UTC)
    assert (m.hostname, m.appname, m.procid, m.pid, m.message, m.structured_data) == (
        None,
        None,
        "123",
        123,
        "",
        {},
    )


@pytest.mark.parametrize(
    ("line", "field", "words"),
    [
        (b"", "header", "empty"),
        (b"hello world", "timestamp", "no RFC 3164"),
        (b"<999>Oct 11 22:14:15 h a: x", "priority", "0..191"),
        (b"<ab>Oct 11 22:14:15 h a: x", "priority", "bad PRI"),
        (b"Oct 41 22:14:15 h a: x", "timestamp", "bad RFC 3164 timestamp"),
        (b"Oct 11 22:14:15", "header", "nothing after"),
        (b"<13>1 2024-01-01T00:00:00Z h a p m", "header", "RFC 5424 header"),
        (b"<13>1 2024-13-01T00:00:00Z h a p m -", "timestamp", "ISO 8601"),
        (b'<13>1 2024-01-01T00:00:00Z h a p m [id a="x', "structured_data", "unterminated"),
        (b"<13>1 2024-01-01T00:00:00Z h a p m [id a=x]", "structured_data", 'name="value"'),
        (b"<13>1 2024-01-01T00:00:00Z h a p m junk", "structured_data", "must be '-'"),
    ],
)
def test_garbage_raises_parse_error_naming_the_field(line, field, words):
    with pytest.raises(ParseError) as info:
        p(line)
    assert info.value.field == field
    assert words in info.value.reason
    assert info.value.parser == "syslog"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_parse_error(raw):
    try:
        p(raw)
    except ParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([b"<13>", b"<13>1 ", b"Jan  1 ", b"2024-01-01T", b""]), st.binary(max_size=120))
def test_syslog_like_prefixes_raise_only_parse_error(prefix, tail):
    try:
        p(prefix + tail)
    except ParseError:
        pass


def test_resolve_timezone():
    assert resolve_timezone("UTC") is UTC
    assert resolve_timezone("-02:00").utcoffset(None).total_seconds() == -7200
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Base'"):
        resolve_timezone("Mars/Base")


def test_syslog_parser_ecs_and_meta_timezone_override():
    parser = SyslogParser(timezone="UTC")
    rec = RawRecord(
        raw=b"<38>Jun 15 10:00:00 web01 nginx[77]: GET /",
        source="t",
        position=0,
        received=REF,
        meta={"timezone": "Asia/Ho_Chi_Minh"},
    )
    (ev,) = parser.parse(rec)
    assert ev["@timestamp"] == "2024-06-15T03:00:00.000Z"
    assert ev["message"] == "GET /"
    assert get_field(ev, "host.hostname") == get_field(ev, "host.name") == "web01"
    assert get_field(ev, "process.name") == "nginx" and get_field(ev, "process.pid") == 77
    assert get_field(ev, "log.syslog.priority") == 38
    assert get_field(ev, "log.syslog.facility.code") == 4
    assert get_field(ev, "log.syslog.severity.code") == 6
    assert get_field(ev, "event.kind") == "event"
    assert get_field(ev, "event.timezone") == "Asia/Ho_Chi_Minh"


def test_syslog_parser_5424_fields():
    rec = RawRecord(
        raw=b'<165>1 2003-10-11T22:14:15.003Z h app 42 ID47 [a@1 k="v"] msg', source="t", position=0
    )
    (ev,) = SyslogParser().parse(rec)
    assert get_field(ev, "log.syslog.version") == "1"
    assert get_field(ev, "log.syslog.msgid") == "ID47"
    assert get_field(ev, "log.syslog.procid") == "42"
    assert get_field(ev, "log.syslog.structured_data") == {"a@1": {"k": "v"}}
    assert get_field(ev, "event.timezone") is None


def test_syslog_parser_bad_meta_timezone_is_parse_error():
    rec = RawRecord(raw=b"Jun 15 10:00:00 h a: x", source="t", position=0, meta={"timezone": "Nowhere/X"})
    with pytest.raises(ParseError, match="unknown timezone"):
        SyslogParser().parse(rec)


def test_registry_and_detection():
    assert {"linux_auth", "syslog"} <= set(PARSERS)
    assert list(PARSERS)[-1] == "syslog", "the generic syslog parser is detected last"
    assert get_parser("syslog", timezone="UTC").timezone == "UTC"
    with pytest.raises(ValueError, match=r"known parsers are .*linux_auth"):
        get_parser("nope")
    assert detect_format(
        b"Feb 21 21:54:44 localhost sshd[3402]: Accepted password for a from 1.2.3.4 port 1 ssh2"
    ) == ("linux_auth")
    assert detect_format(b"<13>Feb 21 21:54:44 localhost nginx: GET /") == "syslog"
    assert detect_format(b'{"json": true}') is None
