"""The web server access log parser (collectors/parsers/weblog.py) on hand-written
Apache/Nginx lines, and on arbitrary bytes (only ParseError may come out)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.parsers.base import ParseError
from collectors.parsers.weblog import WebAccessParser
from soc.event import RawRecord, get_field

PARSER = WebAccessParser()

COMBINED = (
    b'203.0.113.9 - alice [10/Oct/2026:13:55:36 +0700] "GET /shop/item.php?id=7&cmd=whoami HTTP/1.1" 200 2326 '  # noqa: E501
    b'"https://www.example.vn/shop/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"'
)
COMMON = b'198.51.100.4 - - [01/Feb/2026:00:00:01 -0500] "POST /wp-login.php HTTP/1.0" 401 512'
VHOST = (
    b'portal.tinh.gov.vn:443 2001:db8::7 - - [28/Nov/2026:09:15:00 +0700] "PUT /index.html HTTP/2.0" 201 0 '
    b'"-" "curl/8.5.0"'
)
NGINX_EXTRA = (
    b'10.0.0.5 - - [28/Nov/2026:09:15:00 +0700] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29" "-"'
)


def parse(line: bytes, **meta: str) -> dict:
    [event] = PARSER.parse(RawRecord(line, "file:/var/log/nginx/access.log", 0, meta=dict(meta)))
    return event


def test_combined_line_maps_to_ecs_like_filebeat() -> None:
    e = parse(COMBINED)
    assert e["@timestamp"] == "2026-10-10T06:55:36.000Z"  # +0700 honoured
    assert get_field(e, "source.ip") == "203.0.113.9"
    assert get_field(e, "user.name") == "alice"
    assert get_field(e, "http.request.method") == "GET"
    assert get_field(e, "http.version") == "1.1"
    assert get_field(e, "url.original") == "/shop/item.php?id=7&cmd=whoami"
    assert get_field(e, "url.path") == "/shop/item.php"
    assert get_field(e, "url.query") == "id=7&cmd=whoami"
    assert get_field(e, "url.extension") == "php"
    assert get_field(e, "http.response.status_code") == 200
    assert get_field(e, "http.response.body.bytes") == 2326
    assert get_field(e, "http.request.referrer") == "https://www.example.vn/shop/"
    assert get_field(e, "user_agent.original").startswith("Mozilla/5.0")
    assert e["event"]["category"] == ["web"]
    assert e["event"]["outcome"] == "success"
    assert e["event"]["module"] == "nginx" and e["event"]["dataset"] == "nginx.access"


@pytest.mark.parametrize(
    ("source", "module"),
    [
        ("file:/var/log/apache2/access.log", "apache"),
        ("file:/var/log/httpd/access_log", "apache"),
        ("file:/srv/logs/portal-access.log", "weblog"),
        ("syslog:udp:10.0.0.9", "weblog"),
    ],
)
def test_module_follows_the_file_path(source: str, module: str) -> None:
    [e] = PARSER.parse(RawRecord(COMMON, source, 0))
    assert e["event"]["module"] == module and e["event"]["dataset"] == f"{module}.access"


def test_common_format_and_failure_outcome() -> None:
    e = parse(COMMON)
    assert e["@timestamp"] == "2026-02-01T05:00:01.000Z"
    assert get_field(e, "http.response.status_code") == 401
    assert e["event"]["outcome"] == "failure"
    assert get_field(e, "user.name") is None
    assert get_field(e, "user_agent.original") is None
    assert get_field(e, "http.version") == "1.0"


def test_vhost_combined_with_ipv6_client() -> None:
    e = parse(VHOST)
    assert get_field(e, "destination.domain") == "portal.tinh.gov.vn"
    assert get_field(e, "destination.port") == 443
    assert get_field(e, "source.ip") == "2001:db8::7"
    assert get_field(e, "http.request.method") == "PUT"
    assert get_field(e, "http.version") == "2.0"
    assert get_field(e, "url.path") == "/index.html"


def test_trailing_nginx_fields_are_ignored() -> None:
    e = parse(NGINX_EXTRA)
    assert get_field(e, "user_agent.original") == "kube-probe/1.29"


def test_escaped_quotes_in_user_agent_and_dash_request() -> None:
    e = parse(b'192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 - "-" "a \\"quoted\\" agent"')
    assert get_field(e, "user_agent.original") == 'a "quoted" agent'
    assert get_field(e, "http.response.body.bytes") is None
    e = parse(b'192.0.2.1 - - [10/Oct/2026:13:55:36 +0000] "-" 408 0 "-" "-"')
    assert get_field(e, "http.request.method") is None
    assert get_field(e, "http.response.status_code") == 408


def test_hostname_client_goes_to_source_domain() -> None:
    e = parse(b'crawler.example.org - - [10/Oct/2026:13:55:36 +0000] "GET /robots.txt HTTP/1.1" 200 20')
    assert get_field(e, "source.domain") == "crawler.example.org"
    assert get_field(e, "source.ip") is None


def test_time_without_offset_uses_record_zone() -> None:
    line = b'192.0.2.1 - - [10/Oct/2026:13:55:36] "GET / HTTP/1.1" 200 5'
    assert parse(line)["@timestamp"] == "2026-10-10T06:55:36.000Z"  # Asia/Ho_Chi_Minh
    assert parse(line, timezone="UTC")["@timestamp"] == "2026-10-10T13:55:36.000Z"


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (b"", "message"),
        (b"hello world", "ident"),
        (b'1.2.3.4 - - [32/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1', "timestamp"),
        (b'1.2.3.4 - - [10/Foo/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 1', "timestamp"),
        (b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1 200 1', "http.request"),
        (b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 2000 1', "http.response.status_code"),
        (b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 12x', "http.response.body.bytes"),
        (b'1.2.3.4 - - [10/Oct/2026:13:55:36 +0000 "GET / HTTP/1.1" 200 1', "timestamp"),
    ],
)
def test_garbage_raises_parse_error_naming_the_field(line: bytes, field: str) -> None:
    with pytest.raises(ParseError) as exc:
        PARSER.parse(RawRecord(line, "file:x", 0))
    assert exc.value.parser == "weblog"
    assert exc.value.field == field


def test_detect_is_specific() -> None:
    assert PARSER.detect(COMBINED) and PARSER.detect(COMMON) and PARSER.detect(VHOST)
    assert not PARSER.detect(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert not PARSER.detect(b'{"timestamp":"2026-01-01T00:00:00Z","event_type":"alert"}')
    assert not PARSER.detect(b"date=2020-04-23 time=12:17:48 devname=fw1 logid=0316013056 type=utm")


def test_detect_claims_no_dataset_line(datasets: Path) -> None:
    checked = 0
    for path in (datasets / "logs").rglob("*.log"):
        for line in path.read_bytes().splitlines()[:200]:
            checked += 1
            assert not PARSER.detect(line), f"{path}: {line[:120]!r}"
    assert checked > 1000


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_parse_error(raw: bytes) -> None:
    try:
        events = PARSER.parse(RawRecord(raw, "file:x", 0))
    except ParseError:
        return
    assert len(events) == 1 and "@timestamp" in events[0]


_token = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=300, deadline=None)
@given(_token, _token, _token, st.integers(100, 599))
def test_well_formed_lines_with_arbitrary_fields_parse(path: str, ref: str, agent: str, status: int) -> None:
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace('"', '\\"')

    line = (
        f'192.0.2.8 - - [10/Oct/2026:13:55:36 +0000] "GET /{esc(path).replace(" ", "%20")} HTTP/1.1" '
        f'{status} 10 "{esc(ref)}" "{esc(agent)}"'
    ).encode("utf-8", "surrogatepass")
    e = parse(line)
    assert get_field(e, "http.response.status_code") == status
    assert get_field(e, "user_agent.original") == (agent or None if agent != "-" else None)
