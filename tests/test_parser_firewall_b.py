"""Tests of the cisco_asa, checkpoint, cef and leef parsers: Filebeat oracles per dataset
file, Wazuh LEEF test inputs, hand-written edge cases (escapes, delimiters, truncation),
detector cross-checks and property tests (arbitrary bytes raise nothing but ParseError)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.parsers.base import ParseError
from collectors.parsers.cef import CefParser, parse_extension
from collectors.parsers.checkpoint import CheckpointParser, parse_fields
from collectors.parsers.cisco_asa import CiscoAsaParser
from collectors.parsers.leef import LeefParser, parse_delimiter
from collectors.parsers.linux_auth import LinuxAuthParser
from soc.event import get_field
from tests.helpers_oracle_b import Agreement, compare_file, record

COMMON = (
    "@timestamp",
    "event.action",
    "event.category",
    "event.type",
    "event.outcome",
    "event.code",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "network.transport",
    "network.bytes",
    "user.name",
    "host.hostname",
    "observer.vendor",
    "observer.product",
    "rule.name",
    "url.original",
)
ASA_FIELDS = (
    *COMMON,
    "cisco.asa.message_id",
    "cisco.asa.rule_name",
    "cisco.asa.source_interface",
    "cisco.asa.destination_interface",
    "cisco.asa.connection_id",
    "cisco.asa.mapped_source_ip",
    "cisco.asa.mapped_destination_ip",
    "cisco.asa.source_username",
    "network.direction",
    "network.protocol",
    "source.nat.ip",
    "destination.nat.ip",
    "source.domain",
    "destination.domain",
    "source.user.name",
    "event.reason",
    "event.duration",
    "event.severity",
    "log.level",
    "process.name",
)
CHECKPOINT_FIELDS = (
    *COMMON,
    "event.id",
    "event.sequence",
    "network.direction",
    "network.iana_number",
    "network.application",
    "network.name",
    "observer.name",
    "observer.ingress.zone",
    "observer.egress.zone",
    "observer.egress.interface.name",
    "observer.ingress.interface.name",
    "rule.uuid",
    "client.ip",
    "client.port",
    "server.ip",
    "server.port",
    "source.nat.port",
    "source.user.name",
    "message",
    "checkpoint.rule_action",
    "checkpoint.logid",
    "checkpoint.sys_message",
    "observer.mac",
    "observer.ip",
    "dns.question.name",
    "source.user.group.name",
)
CEF_FIELDS = (
    *COMMON,
    "event.id",
    "event.severity",
    "message",
    "network.application",
    "source.bytes",
    "destination.bytes",
    "destination.user.name",
    "source.user.name",
    "destination.nat.ip",
    "observer.version",
    "observer.hostname",
    "observer.ip",
    "rule.id",
    "http.request.method",
    "http.request.referrer",
    "source.service.name",
    "destination.service.name",
    "source.user.group.name",
    "destination.user.group.name",
    "related.ip",
    "related.user",
    "related.hash",
    "related.hosts",
    "source.geo.location.lat",
    "cef.name",
    "cef.severity",
    "cef.version",
    "cef.device.vendor",
    "cef.device.product",
    "cef.device.version",
    "cef.device.event_class_id",
    "cef.extensions.message",
    "cef.extensions.deviceReceiptTime",
    "cef.extensions.sourceAddress",
    "cef.extensions.destinationPort",
    "cef.extensions.eventId",
    "cef.extensions.deviceCustomString1",
    "cef.extensions.sourceGeoLatitude",
    "cef.extensions.transportProtocol",
    "cef.extensions.bytesIn",
)

FAMILIES = {
    "cisco_asa": (CiscoAsaParser, ASA_FIELDS),
    "checkpoint": (CheckpointParser, CHECKPOINT_FIELDS),
    "cef": (CefParser, CEF_FIELDS),
}


def _folder(datasets: Path, family: str) -> Path:
    path = datasets / "logs" / "firewall" / family / "elastic-beats"
    if not path.is_dir():
        pytest.skip(f"dataset folder {path} not found")
    return path


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_filebeat_oracle_agreement(datasets: Path, family: str) -> None:
    cls, fields = FAMILIES[family]
    folder = _folder(datasets, family)
    parser = cls()
    total = Agreement()
    for log in sorted(folder.glob("*.log")):
        expected = log.with_name(log.name + "-expected.json")
        result = compare_file(
            log,
            expected,
            lambda line, doc: parser.parse(record(line, doc.get("event.timezone", "UTC"))),
            fields,
        )
        print("\n" + result.table(f"{family}/{log.name}"))
        assert result.docs > 0
        total.merge(result)
    print("\n" + total.table(f"{family} (all files)"))
    for line in total.mismatches[:20]:
        print("   ", line)
    assert sum(total.total.values()) > 100
    assert not total.errors, total.errors[:5]
    assert total.overall >= 95.0, total.mismatches[:20]


# --- LEEF: Wazuh ruleset test inputs ------------------------------------------------------

_INI_BLOCK = re.compile(r"^\[(?P<title>[^\]]+)\]\s*$")


def _wazuh_cases(path: Path) -> list[tuple[str, str, dict[str, str]]]:
    """(title, raw log, expectations) per ``[title]`` block of a Wazuh .ini test file."""
    cases: list[tuple[str, str, dict[str, str]]] = []
    title = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _INI_BLOCK.match(line)
        if m:
            title = m.group("title")
        elif " pass = " in line:
            cases.append((title, line.split(" pass = ", 1)[1], {}))
        elif "=" in line and cases and cases[-1][0] == title:
            key, _, value = line.partition("=")
            cases[-1][2][key.strip()] = value.strip()
    return cases


_SEVERITY_WORDS = {"low": range(0, 4), "medium": range(4, 7), "high": range(7, 9), "very high": range(9, 11)}


def test_leef_wazuh_panda_cases(datasets: Path) -> None:
    path = datasets / "logs" / "firewall" / "leef" / "wazuh-ruleset" / "panda_paps.ini"
    if not path.exists():
        pytest.skip(f"{path} not found")
    cases = _wazuh_cases(path)
    assert len(cases) == 8
    parser = LeefParser()
    checked = 0
    for title, raw, want in cases:
        assert parser.detect(raw.encode())
        (ev,) = parser.parse(record(raw.encode()))
        assert want["decoder"] == "paps"
        assert get_field(ev, "observer.product") == "paps"
        assert get_field(ev, "observer.vendor") == "Panda Security"
        attrs = get_field(ev, "leef.attributes")
        pairs = [p for p in raw.split("LEEF:", 1)[1].split("|", 5)[5].split("\t") if p.strip()]
        assert len(attrs) == len(pairs)
        assert get_field(ev, "source.ip") == attrs["src"]
        assert get_field(ev, "user.name") == attrs["usrName"]
        assert get_field(ev, "@timestamp").startswith(attrs["devTime"][:10])
        sev = get_field(ev, "event.severity")
        assert sev == int(attrs["sev"])
        for word in ("very high", "high", "medium", "low"):
            if f"{word} severity" in title:
                assert sev in _SEVERITY_WORDS[word], (title, sev)
                checked += 1
                break
        if "corrupted" in title:
            assert attrs.get("Broken") == "true" or "Broken" in " ".join(attrs), title
    assert checked == 4


def test_leef2_delimiters() -> None:
    p = LeefParser()
    for delim_field, delim in (
        ("^", "^"),
        ("x5E", "^"),
        ("0x5E", "^"),
        ("x09", "\t"),
        ("", "\t"),
        ("x7C", None),
    ):
        if delim is None:
            with pytest.raises(ParseError) as info:
                p.parse(record(f"LEEF:2.0|V|P|1.0|E1|{delim_field}|src=10.0.0.1".encode()))
            assert info.value.field == "delimiter"
            continue
        body = delim.join(["src=10.0.0.1", "dst=10.0.0.2", "dstPort=443", "usrName=alice smith", "proto=6"])
        (ev,) = p.parse(record(f"LEEF:2.0|V|P|1.0|E1|{delim_field}|{body}".encode()))
        assert get_field(ev, "leef.delimiter") == delim
        assert get_field(ev, "source.ip") == "10.0.0.1"
        assert get_field(ev, "destination.port") == 443
        assert get_field(ev, "user.name") == "alice smith"
        assert get_field(ev, "network.transport") == "tcp"
    assert parse_delimiter("0x3B") == ";"


def test_leef_syslog_wrapped_and_devtime() -> None:
    p = LeefParser(timezone="UTC")
    line = (
        b"<13>Jan 18 11:07:53 fw1 LEEF:1.0|Lancope|StealthWatch|1.0|41|src=192.0.2.1\tdst=172.50.123.1\t"
        b"devTime=Jan 18 2020 11:07:53.123 EDT\tsrcPort=81"
    )
    assert p.detect(line)
    (ev,) = p.parse(record(line))
    assert get_field(ev, "host.hostname") == "fw1"
    assert get_field(ev, "@timestamp") == "2020-01-18T15:07:53.123Z"
    assert get_field(ev, "source.port") == 81
    (ev,) = p.parse(record(b"LEEF:1.0|V|P|1|E|src=1.2.3.4\tdevTime=1579345673000"))
    assert get_field(ev, "@timestamp") == "2020-01-18T11:07:53.000Z"


@pytest.mark.parametrize(
    ("line", "fld"),
    [
        (b"LEEF:1.0|V|P", "product"),
        (b"LEEF:3.0|V|P|1|E|a=b", "version"),
        (b"LEEF:2.0|V|P|1|E|xZZ|a=b", "delimiter"),
        (b"LEEF:1.0|V|P|1|E|novalue", "attributes"),
        (b"LEEF:1.0|V|P|1|E|devTime=yesterday", "devTime"),
    ],
)
def test_leef_bad_lines(line: bytes, fld: str) -> None:
    with pytest.raises(ParseError) as info:
        LeefParser().parse(record(line))
    assert info.value.parser == "leef" and info.value.field == fld


# --- CEF -----------------------------------------------------------------------------------


def test_cef_header_and_extension_escapes() -> None:
    line = (
        rb"CEF:0|Sec\|Corp|Fire\\wall|1.0|100|Blocked a \| pipe|7|src=10.0.0.1 act=blocked a b "
        rb"msg=line1\nline2 \= equals \\ back request=https://x.example/a?b=c&d=e suser=bob smith dpt=80"
    )
    (ev,) = CefParser().parse(record(line))
    assert get_field(ev, "observer.vendor") == "Sec|Corp"
    assert get_field(ev, "observer.product") == "Fire\\wall"
    assert get_field(ev, "cef.name") == "Blocked a | pipe"
    assert get_field(ev, "event.action") == "blocked a b"
    assert get_field(ev, "message") == "line1\nline2 = equals \\ back"
    assert get_field(ev, "url.original") == "https://x.example/a?b=c&d=e"
    assert get_field(ev, "source.user.name") == "bob smith"
    assert get_field(ev, "destination.port") == 80
    assert get_field(ev, "event.severity") == 7


def test_cef_syslog_wrapped_and_times() -> None:
    line = (
        b"<134>Jan 17 08:52:10 smc01 CEF:0|V|P|1|5|n|High|rt=1579251130000 cs2Label=Rule Name cs2=allow-web"
    )
    p = CefParser(timezone="UTC")
    assert p.detect(line)
    (ev,) = p.parse(record(line))
    assert get_field(ev, "host.hostname") == "smc01"
    assert get_field(ev, "@timestamp") == "2020-01-17T08:52:10.000Z"
    assert get_field(ev, "event.severity") == 7
    assert get_field(ev, "rule.name") == "allow-web"
    assert parse_extension("a=1  b=two  words ") == {"a": "1", "b": "two  words"}


@pytest.mark.parametrize(
    ("line", "fld"),
    [
        (b"CEF:0|Vendor|Product|1.0", "device_version"),
        (b"CEF:x|V|P|1|2|n|3|a=b", "version"),
        (b"CEF:0|V|P|1|2|n|3|no pairs here", "extension"),
        (b"garbage CEF:0|V|P|1|2|n|3|a=b", "timestamp"),
        (b"CEF: 0|", "device_vendor"),
    ],
)
def test_cef_bad_lines(line: bytes, fld: str) -> None:
    with pytest.raises(ParseError) as info:
        CefParser().parse(record(line))
    assert info.value.parser == "cef" and info.value.field == fld


# --- Check Point -----------------------------------------------------------------------------

_CP_HEAD = b"<134>1 2020-03-29T13:19:20Z gw CheckPoint 1930 - "


def test_checkpoint_escapes_and_repeated_keys() -> None:
    text = '[a:"x \\"quoted\\" \\] \\; \\\\ end"; b::"two colons"; c:"1"; c:"2"; empty:""]'
    fields = parse_fields(text, 0)
    assert fields["a"] == ['x "quoted" ] ; \\ end']
    assert fields["b"] == ["two colons"]
    assert fields["c"] == ["1", "2"]
    line = (
        _CP_HEAD
        + b'[action:"Drop"; src:"10.0.0.1"; dst:"10.0.0.2"; proto:"6"; service:"22"; s_port:"5555"; '
        + (b'origin:"1.1.1.1"; product:"VPN-1 & FireWall-1"; rule_name:"Block SSH"; tag:"a"; tag:"b"]')
    )
    p = CheckpointParser()
    assert p.detect(line)
    (ev,) = p.parse(record(line))
    assert get_field(ev, "event.type") == ["connection", "denied"]
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "network.transport") == "tcp"
    assert get_field(ev, "destination.port") == 22 and get_field(ev, "source.port") == 5555
    assert get_field(ev, "rule.name") == "Block SSH"
    assert get_field(ev, "checkpoint.tag") == ["a", "b"]
    assert get_field(ev, "@timestamp") == "2020-03-29T13:19:20.000Z"


@pytest.mark.parametrize(
    ("line", "fld"),
    [
        (_CP_HEAD + b'[action:"Accept"; src:"10.0.0.1', "src"),
        (_CP_HEAD + b'[action:"Accept"; src:"10.0.0.1"', "message"),
        (_CP_HEAD + b'[action:Accept; x:"1"]', "action"),
        (b'<134>1 not-a-time gw CheckPoint 1 - [a:"1"]', "timestamp"),
        (b"no body at all", "message"),
    ],
)
def test_checkpoint_bad_lines(line: bytes, fld: str) -> None:
    with pytest.raises(ParseError) as info:
        CheckpointParser().parse(record(line))
    assert info.value.parser == "checkpoint" and info.value.field == fld


# --- Cisco ASA ---------------------------------------------------------------------------------


def test_asa_teardown_and_acl_mapping() -> None:
    p = CiscoAsaParser()
    (ev,) = p.parse(
        record(
            b"<166>Jun 21 2022 11:47:08 fw01 : %ASA-6-302014: Teardown TCP connection 9 "
            b"for outside:203.0.113.5/443 "
            b"to inside:10.0.0.8/51000 duration 1:02:03 bytes 4096 TCP FINs",
            "Asia/Ho_Chi_Minh",
        )
    )
    assert get_field(ev, "@timestamp") == "2022-06-21T04:47:08.000Z"
    assert get_field(ev, "event.action") == "flow-expiration"
    assert get_field(ev, "event.type") == ["connection", "end"]
    assert get_field(ev, "network.bytes") == 4096
    assert get_field(ev, "event.duration") == 3723 * 10**9
    assert get_field(ev, "event.reason") == "TCP FINs"
    assert get_field(ev, "host.hostname") == "fw01"
    (ev,) = p.parse(
        record(
            b"Apr 24 2013 16:00:28 FW : %ASA-6-106100: access-list inside denied udp "
            b"inside/172.29.2.101(1039) -> "
            b"outside/192.0.2.10(53) hit-cnt 1 first hit [0xd820e56a, 0x0]"
        )
    )
    assert get_field(ev, "event.type") == ["connection", "denied"]
    assert get_field(ev, "cisco.asa.rule_name") == "inside"
    assert get_field(ev, "destination.port") == 53


def test_asa_unknown_id_severity_filter_and_bad_lines() -> None:
    p = CiscoAsaParser()
    (ev,) = p.parse(record(b"Jan 1 2020 01:00:00 fw: %ASA-5-999001: Something new happened"))
    assert get_field(ev, "event.code") == 999001 and get_field(ev, "event.type") == ["info"]
    assert p.parse(record(b"Jan 1 2020 01:00:00 fw: %ASA-8-999999: debug noise")) == []
    for line, fld in (
        (b"Jan 1 2020 01:00:00 fw: no tag here", "header"),
        (b"Jan 1 2020 01:00:00 fw: %ASA-x-1: bad", "header"),
        (b"Jan 99 2020 01:00:00 fw: %ASA-6-302013: x", "timestamp"),
        (b"Jan 1 2020 25:61 fw: %ASA-6-302013: x", "timestamp"),
    ):
        with pytest.raises(ParseError) as info:
            p.parse(record(line))
        assert info.value.parser == "cisco_asa" and info.value.field == fld, line
    (ev,) = p.parse(
        record(b"%ASA-6-302013: Built inbound TCP connection 1 for a:1.2.3.4/1 (1.2.3.4/1) to b:5")
    )
    assert get_field(ev, "cisco.asa.message_id") == "302013"  # truncated body: header fields only


# --- detectors -----------------------------------------------------------------------------------

SAMPLES = {
    "cisco_asa": [
        b"Apr 29 2013 12:59:50: %ASA-6-302013: Built outbound TCP connection 89743274 "
        b"for outside:192.0.2.43/443",
        b"<166>May  5 17:51:17 dev01: %FTD-6-302015: Built inbound UDP connection 1 for a:1.1.1.1/1",
    ],
    "checkpoint": [_CP_HEAD + b'[flags:"133440"; ifdir:"inbound"; loguid:"{0x1}"; origin:"192.168.1.100"]'],
    "cef": [
        b"CEF:0|Elastic|Vaporware|1.0.0-alpha|18|Web request|low|eventId=3457 src=1.1.1.1",
        b"<134>Jan 17 08:52:10 h CEF:0|V|P|1|5|n|3|src=1.2.3.4",
    ],
    "leef": [
        b"LEEF:1.0|Panda Security|paps|02.47.00.0000|exec|sev=1\tsrc=1.2.3.4",
        b"<13>Jan 18 11:07:53 h LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=192.0.2.0^dst=172.50.123.1",
    ],
}
PARSERS = {
    "cisco_asa": CiscoAsaParser(),
    "checkpoint": CheckpointParser(),
    "cef": CefParser(),
    "leef": LeefParser(),
}


def _dataset_lines(datasets: Path) -> dict[str, list[bytes]]:
    fw = datasets / "logs" / "firewall"
    found: dict[str, list[bytes]] = {k: list(v) for k, v in SAMPLES.items()}
    for family in ("cisco_asa", "checkpoint", "cef"):
        for log in sorted((fw / family / "elastic-beats").glob("*.log")):
            found[family].extend(x for x in log.read_bytes().splitlines() if x.strip())
    ini = fw / "leef" / "wazuh-ruleset" / "panda_paps.ini"
    if ini.exists():
        found["leef"].extend(raw.encode() for _, raw, _ in _wazuh_cases(ini))
    auth = datasets / "logs" / "endpoint" / "linux_auth" / "elastic-beats"
    found["linux_auth"] = [
        x for log in sorted(auth.glob("*.log")) for x in log.read_bytes().splitlines()[:300]
    ]
    return found


def test_detectors_cross_check(datasets: Path) -> None:
    lines = _dataset_lines(datasets)
    assert lines["linux_auth"] and LinuxAuthParser().detect(lines["linux_auth"][0])
    for family, family_lines in lines.items():
        for line in family_lines:
            for name, parser in PARSERS.items():
                if name == family:
                    if name != "cisco_asa" or b"%ASA-8-" not in line:
                        assert parser.detect(line), (name, line[:120])
                else:
                    assert not parser.detect(line), (name, family, line[:120])


def test_every_dataset_line_parses(datasets: Path) -> None:
    lines = _dataset_lines(datasets)
    for family in PARSERS:
        for line in lines[family]:
            PARSERS[family].parse(record(line))  # a ParseError here fails the test


def test_long_adversarial_lines_are_handled() -> None:
    """Inputs that make backtracking parsers blow up: must parse (or fail) correctly."""
    (ev,) = CefParser().parse(record(b"CEF:0|V|P|1|2|n|3|" + b"a=" * 20000))
    assert get_field(ev, "cef.extensions") == {"a": ""}  # unescaped '=': every "a=" starts a pair
    (ev,) = CefParser().parse(record(b"CEF:0|V|P|1|2|n|3|msg=" + b"v " * 20000 + b"src=1.2.3.4"))
    assert get_field(ev, "message") == ("v " * 20000).strip() and get_field(ev, "source.ip") == "1.2.3.4"
    with pytest.raises(ParseError):
        CheckpointParser().parse(record(_CP_HEAD + b"[" + b'k:"' + b"\\" * 30000))
    (ev,) = LeefParser().parse(record(b"LEEF:2.0|V|P|1|E|^|" + b"^" * 30000 + b"src=1.2.3.4"))
    assert get_field(ev, "source.ip") == "1.2.3.4"
    (ev,) = CiscoAsaParser().parse(record(b"%ASA-6-106023: Deny tcp src " + b"a:" * 5000 + b" dst"))
    assert get_field(ev, "event.code") == 106023


# --- properties --------------------------------------------------------------------------------

_PREFIXES = [
    b"",
    b"CEF:0|",
    b"CEF:0|V|P|1|2|n|3|",
    b"LEEF:1.0|V|P|1|E|",
    b"LEEF:2.0|V|P|1|E|x5E|",
    b"%ASA-6-302013: ",
    b"Apr 29 2013 12:59:50: %ASA-4-106023: Deny tcp src ",
    b"<134>1 2020-03-29T13:19:20Z gw CheckPoint 1 - [",
    b"<13>Jan 18 11:07:53 h ",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(_PREFIXES), body=st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_parse_error(prefix: bytes, body: bytes) -> None:
    for parser in PARSERS.values():
        parser.detect(prefix + body)
        try:
            events = parser.parse(record(prefix + body))
        except ParseError as exc:
            assert exc.parser == parser.name and exc.reason
            continue
        assert isinstance(events, list)
        for ev in events:
            assert isinstance(ev["@timestamp"], str) and ev["@timestamp"].endswith("Z")


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=40)


@settings(max_examples=200, deadline=None)
@given(pairs=st.dictionaries(st.from_regex(r"[a-z][a-zA-Z0-9]{0,8}", fullmatch=True), _TEXT, max_size=6))
def test_cef_extension_round_trip(pairs: dict[str, str]) -> None:
    """Escaped values come back exactly, whatever they contain (spaces, '=', '\\')."""
    pairs = {k: v.strip(" ") for k, v in pairs.items()}

    def esc(v: str) -> str:
        return v.replace("\\", "\\\\").replace("=", "\\=")

    text = " ".join(f"{k}={esc(v)}" for k, v in pairs.items())
    got = parse_extension(text) if pairs else {}
    # a value that itself looks like " key=" would be a new key in CEF too; keep only clean cases
    if not any(
        re.search(r"(^| )[A-Za-z0-9_.\-\[\]]+=", v.replace("\\=", "")) for v in map(esc, pairs.values())
    ):
        assert got == {k: v for k, v in pairs.items()}
