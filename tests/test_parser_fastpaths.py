"""The parsers' speed-ups say exactly what the plain code they shortcut says: cached
timestamp text, the plain CEF header/extension split, orjson with a json fallback,
cached dotted paths, and the per-second RFC 3164 time cache across a new year."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers.base import ParseError
from collectors.parsers.cef import parse_extension, split_header
from collectors.parsers.jsonload import loads_json
from collectors.parsers.syslog import format_ts_cached, parse_syslog
from collectors.parsers.windows.common import get_field as win_get
from collectors.parsers.windows.common import set_field as win_set
from soc.event import format_ts, get_field, set_field

_ZONES = (
    UTC,
    timezone(timedelta(hours=-4)),
    timezone(timedelta(seconds=30, microseconds=7)),
    ZoneInfo("Asia/Ho_Chi_Minh"),
)


@pytest.mark.parametrize("tz", _ZONES)
@pytest.mark.parametrize("us", [0, 1, 999, 1000, 123000, 123456, 999999])
def test_format_ts_cached_is_format_ts(tz, us) -> None:
    ts = datetime(2024, 12, 31, 23, 59, 59, us, tzinfo=tz)
    assert format_ts_cached(ts) == format_ts(ts)
    assert format_ts_cached(ts) == format_ts(ts)  # from the cache


def test_format_ts_cached_refuses_naive_like_format_ts() -> None:
    naive = datetime(2024, 1, 1, 0, 0, 0, 5000)
    with pytest.raises(ValueError) as plain:
        format_ts(naive)
    with pytest.raises(ValueError) as cached:
        format_ts_cached(naive)
    assert str(plain.value) == str(cached.value)


@pytest.mark.parametrize(
    ("text", "vendor", "ext"),
    [
        ("0|V|P|1|sig|name|5|a=b", "V", "a=b"),
        ("0|V|P|1|sig|name|5|", "V", ""),
        ("0|V|P|1|sig|name|5|a=b|c", "V", "a=b|c"),
        ("0|V\\|x|P|1|sig|name|5|a=b", "V|x", "a=b"),
        ("0|V\\\\|P|1|sig|name|5|a=b", "V\\", "a=b"),
        ("0|V\\q|P|1|sig|name|5|a=b", "V\\q", "a=b"),
    ],
)
def test_cef_header_split(text: str, vendor: str, ext: str) -> None:
    fields, rest = split_header(text)
    assert (len(fields), fields[1], fields[6], rest) == (7, vendor, "5", ext)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("a=b=c", {"a": "", "b": "c"}),
        ("a=1 b=two words c=3", {"a": "1", "b": "two words", "c": "3"}),
        ("msg=x = y k=v", {"msg": "x = y", "k": "v"}),
        ("bad~key=1 k=2", {"k": "2"}),
        ("k=v  ", {"k": "v"}),
        ("k=a\\=b n=x\\ny", {"k": "a=b", "n": "x\ny"}),
    ],
)
def test_cef_extension_plain_and_escaped(text: str, want: dict[str, str]) -> None:
    assert parse_extension(text) == want


def test_cef_extension_without_pairs_is_an_error() -> None:
    with pytest.raises(ParseError):
        parse_extension("no pairs here")


def test_json_fast_path_falls_back_to_json() -> None:
    loads = loads_json
    assert loads(b'{"a": 1, "a": 2}') == {"a": 2}
    assert loads(b'\xef\xbb\xbf{"a": 1}') == json.loads(b'\xef\xbb\xbf{"a": 1}')
    assert math.isnan(loads(b'{"a": NaN}')["a"])
    assert loads(b'{"a": "\\ud800"}') == {"a": "\ud800"}
    assert loads(b'{"a": 123456789012345678901234567890}') == {"a": 123456789012345678901234567890}
    assert loads(b'{"a": -9223372036854775809}') == {"a": -9223372036854775809}
    assert loads(b'{"a": 18446744073709551615}') == {"a": 18446744073709551615}
    with pytest.raises(json.JSONDecodeError):
        loads(b'{"a": ')


def test_windows_dotted_paths_match_soc_event() -> None:
    a: dict = {"user": "not a dict", "x.y": 1}
    b: dict = {"user": "not a dict", "x.y": 1}
    for path, value in (("user.name", "bob"), ("user.target.id", "S-1"), ("source.ip", "10.0.0.1")):
        set_field(a, path, value)
        win_set(b, path, value)
    assert a == b
    for path in ("user.name", "user.target", "x.y", "x", "missing.path", "user.name.deeper"):
        assert win_get(b, path, "d") == get_field(a, path, "d")


def test_rfc3164_second_cache_across_new_year() -> None:
    line = b"Dec 31 23:59:59 host app: x"
    in_dec = parse_syslog(line, timezone="UTC", reference=datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC))
    in_jan = parse_syslog(line, timezone="UTC", reference=datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC))
    assert in_dec.timestamp.year == 2024 and in_jan.timestamp.year == 2024
    jan = b"Jan  1 00:00:01 host app: x"
    early = parse_syslog(jan, timezone="UTC", reference=datetime(2024, 12, 31, 23, 59, 58, tzinfo=UTC))
    later = parse_syslog(jan, timezone="UTC", reference=datetime(2025, 1, 1, 0, 0, 2, tzinfo=UTC))
    assert early.timestamp == later.timestamp == datetime(2025, 1, 1, 0, 0, 1, tzinfo=UTC)
