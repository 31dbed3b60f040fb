"""Tests of the firewall parsers iptables, pfsense, fortigate and panos: Filebeat and
CrowdSec oracles, detectors against each other's lines, and robustness on bad input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.parsers.base import ParseError
from collectors.parsers.fortigate import FortigateParser
from collectors.parsers.iptables import IptablesParser
from collectors.parsers.linux_auth import LinuxAuthParser
from collectors.parsers.panos import PanosParser
from collectors.parsers.pfsense import PfsenseParser
from soc.event import RawRecord, get_field, parse_ts
from tests.helpers_oracle import OracleReport, oracle_agreement

RECEIVED = datetime(2022, 10, 1, tzinfo=UTC)
FIELDS = (
    "@timestamp",
    "event.action",
    "event.category",
    "event.type",
    "event.outcome",
    "event.code",
    "event.kind",
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "network.transport",
    "network.bytes",
    "network.type",
    "user.name",
    "source.user.name",
    "host.name",
    "observer.vendor",
    "observer.product",
    "observer.name",
    "observer.hostname",
    "rule.name",
    "rule.id",
    "url.original",
    "url.domain",
    "url.path",
    "message",
)
FAMILIES: dict[str, tuple[type, str, tuple[str, ...]]] = {
    "iptables": (IptablesParser, "iptables", ("iptables.",)),
    "fortigate": (FortigateParser, "fortigate", ("fortinet.firewall.type", "fortinet.firewall.subtype")),
    "panos": (PanosParser, "panos", ("panw.panos.type", "panw.panos.sub_type", "panw.panos.threat.")),
}
PARSERS = (IptablesParser, PfsenseParser, FortigateParser, PanosParser)


def parse_one(cls: type, line: bytes, tz: str = "UTC") -> dict[str, Any]:
    (event,) = cls(timezone=tz).parse(RawRecord(raw=line, source="t", position=0, received=RECEIVED))
    return event


def lines_of(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line.strip()]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_filebeat_oracle_agreement(datasets: Path, family: str) -> None:
    cls, folder, prefixes = FAMILIES[family]
    logs = sorted((datasets / "logs" / "firewall" / folder / "elastic-beats").glob("*.log"))
    assert logs, f"no {family} dataset files"
    total = OracleReport()
    for log in logs:
        report = oracle_agreement(
            log,
            lambda line, doc: parse_one(cls, line, doc.get("event.timezone", "UTC")),
            FIELDS,
            prefixes=prefixes,
        )
        print(f"\n{family} {log.name}: {report.agreed}/{report.compared} ({100 * report.ratio:.2f}%)")
        total.add(report)
    print("\n" + total.table(f"{family}: Filebeat oracle, per field"))
    for line in total.mismatches[:10]:
        print("   ", line)
    assert total.docs >= 30
    assert total.ratio >= 0.95, total.mismatches[:20]


_CS = re.compile(r'^results\["s01-parse"\]\["([\w/-]+)"\]\[(\d+)\]\.Evt\.(Parsed|Meta)\["(\w+)"\] == "(.*)"$')


def crowdsec_asserts(path: Path, parser: str) -> dict[int, dict[str, str]]:
    want: dict[int, dict[str, str]] = {}
    for text in path.read_text().splitlines():
        m = _CS.match(text)
        if m and m.group(1) == parser:
            want.setdefault(int(m.group(2)), {})[m.group(4)] = json.loads(f'"{m.group(5)}"')
    return want


def _agree(cases: list[tuple[str, Any, Any]]) -> tuple[int, int, list[str]]:
    bad = [f"{key}: expected {want!r}, got {got!r}" for key, want, got in cases if want != got]
    return len(cases) - len(bad), len(cases), bad


def test_crowdsec_iptables_oracle(datasets: Path) -> None:
    folder = datasets / "logs" / "firewall" / "iptables" / "crowdsec-hub" / "iptables-logs"
    lines = lines_of(folder / "iptables-logs.log")
    want = crowdsec_asserts(folder / "parser.assert", "crowdsecurity/iptables-logs")
    extract = {
        "int_eth": lambda e: get_field(e, "iptables.input_device"),
        "length": lambda e: str(get_field(e, "iptables.length")),
        "proto": lambda e: (get_field(e, "network.transport") or "").upper(),
        "src_ip": lambda e: get_field(e, "source.ip"),
        "dst_ip": lambda e: get_field(e, "destination.ip"),
        "src_port": lambda e: str(get_field(e, "source.port")),
        "dst_port": lambda e: str(get_field(e, "destination.port")),
        "machine": lambda e: get_field(e, "observer.name"),
        "source_ip": lambda e: get_field(e, "source.ip"),
        "service": lambda e: get_field(e, "network.transport"),
    }
    cases = []
    for i, fields in want.items():
        event = parse_one(IptablesParser, lines[i])
        cases += [(k, v, extract[k](event)) for k, v in fields.items() if k in extract]
    agree, total, bad = _agree(cases)
    print(f"\nCrowdSec iptables-logs oracle: {agree}/{total}")
    assert total >= 20 and agree / total >= 0.95, bad


def _pf(path: str, kind: type = str):
    def get(event: dict[str, Any]) -> Any:
        value = get_field(event, path)
        if isinstance(value, list):
            return ";".join(value)
        return None if value is None else str(value)

    return get


PF_EXTRACT = {
    "action": _pf("event.action"),
    "reason": _pf("event.reason"),
    "tracker": _pf("rule.id"),
    "rule": _pf("pfsense.rule.number"),
    "iface": _pf("pfsense.interface"),
    "direction": _pf("pfsense.direction"),
    "src_ip": _pf("source.ip"),
    "dst_ip": _pf("destination.ip"),
    "src_port": _pf("source.port"),
    "dst_port": _pf("destination.port"),
    "length": _pf("pfsense.ip.length"),
    "ip4_ttl": _pf("pfsense.ip.ttl"),
    "ip6_hop_limit": _pf("pfsense.ip.ttl"),
    "ip4_id": _pf("pfsense.ip.id"),
    "ip4_tos": _pf("pfsense.ip.tos"),
    "ip4_flags": _pf("pfsense.ip.flags"),
    "ip4_offset": _pf("pfsense.ip.offset"),
    "ip6_class": _pf("pfsense.ip.class"),
    "ip6_flow_label": _pf("pfsense.ip.flow_label"),
    "ip4_proto": _pf("pfsense.ip.protocol"),
    "ip6_proto": _pf("pfsense.ip.protocol"),
    "ip4_proto_id": _pf("network.iana_number"),
    "ip6_proto_id": _pf("network.iana_number"),
    "data_length": lambda e: str(get_field(e, "pfsense.tcp.length", get_field(e, "pfsense.udp.length"))),
    "tcp_flags": _pf("pfsense.tcp.flags"),
    "sequence_number": _pf("pfsense.tcp.seq"),
    "ack_number": _pf("pfsense.tcp.ack"),
    "tcp_window": _pf("pfsense.tcp.window"),
    "tcp_options": _pf("pfsense.tcp.options"),
    "machine": _pf("observer.name"),
    "program": _pf("process.name"),
    "pid": _pf("process.pid"),
    "ip_ver": lambda e: get_field(e, "network.type")[-1],
}


def test_crowdsec_pfsense_oracle(datasets: Path) -> None:
    folder = datasets / "logs" / "firewall" / "pfsense" / "crowdsec-hub" / "pf-logs"
    lines = lines_of(folder / "pf-logs.log")
    want = crowdsec_asserts(folder / "parser.assert", "firewallservices/pf-logs")
    cases = []
    for i, fields in want.items():
        event = parse_one(PfsenseParser, lines[i])
        cases += [(k, v, PF_EXTRACT[k](event)) for k, v in fields.items() if k in PF_EXTRACT]
        if "timestamp8601" in fields:
            cases.append(("timestamp8601", parse_ts(fields["timestamp8601"]), parse_ts(event["@timestamp"])))
    agree, total, bad = _agree(cases)
    print(f"\nCrowdSec pf-logs oracle: {agree}/{total}")
    assert total >= 150 and agree / total >= 0.95, bad


def test_pfsense_rfc5424_and_protocols(datasets: Path) -> None:
    folder = datasets / "logs" / "firewall" / "pfsense" / "crowdsec-hub" / "pfsense-rfc5424-filterlog"
    events = [parse_one(PfsenseParser, line) for line in lines_of(folder / "pfsense-rfc5424-filterlog.log")]
    assert [get_field(e, "observer.name") for e in events] == ["firewall.lan"] * 4
    assert events[0]["@timestamp"] == "2025-11-06T11:32:42.868451Z"
    v6 = events[2]
    assert get_field(v6, "network.type") == "ipv6" and get_field(v6, "network.transport") == "tcp"
    assert get_field(v6, "source.ip") == "fdfd:ace:ace:10:d8:cdbf:f6f8:6d69"
    assert get_field(v6, "destination.port") == 443 and get_field(v6, "event.type") == [
        "connection",
        "denied",
    ]
    ev = parse_one(
        PfsenseParser,
        b"Sep 28 10:38:09 fw filterlog: 5,,,1000000103,igb1,match,pass,out,4,0x0,,64,0,0,"
        b"none,1,icmp,84,10.0.0.1,8.8.8.8,request,4242,7",
    )
    assert get_field(ev, "pfsense.icmp") == {"type": "request", "id": 4242, "seq": 7}
    assert get_field(ev, "observer.egress.interface.name") == "igb1"
    assert get_field(ev, "event.type") == ["connection", "allowed"]


def test_fortigate_quoting_and_eventtime() -> None:
    ev = parse_one(
        FortigateParser,
        b'date=2024-01-02 time=03:04:05 devname="fw 1" devid="FG1" logid="0000000013" type="traffic" '
        b'subtype="forward" level="notice" eventtime=1704164645123456789 tz="+0700" srcip=10.0.0.1 '
        b'srcport=1234 dstip=10.0.0.2 dstport=443 proto=6 action="deny" policyid=7 policyname="a \\"b\\" c" '
        b"user=N/A sentbyte=10 rcvdbyte=20",
    )
    assert ev["@timestamp"] == "2024-01-01T20:04:05.000Z"
    assert get_field(ev, "event.start") == "2024-01-02T03:04:05.123Z"
    assert get_field(ev, "observer.name") == "fw 1"
    assert get_field(ev, "rule.name") == 'a "b" c'
    assert get_field(ev, "network.bytes") == 30 and get_field(ev, "network.transport") == "tcp"
    assert get_field(ev, "user.name") is None  # N/A is dropped
    assert "denied" in get_field(ev, "event.type")
    with pytest.raises(ParseError) as info:
        parse_one(FortigateParser, b'date=2024-01-02 time=03:04:05 logid="1" type="traffic" msg="cut')
    assert info.value.parser == "fortigate" and info.value.field == "message"
    with pytest.raises(ParseError) as info:
        parse_one(FortigateParser, b'logid="1" type="traffic" devid="x"')
    assert info.value.field == "date"


def test_panos_system_and_errors() -> None:
    ev = parse_one(
        PanosParser,
        b"1,2024/01/02 03:04:05,0123456789,SYSTEM,general,0,2024/01/02 03:04:05,,general,,0,0,general,"
        b'informational,"User admin logged in via Web from 10.1.1.1, using https",1234,0x0,0,0,0,0,,PA-1',
        tz="+07:00",
    )
    assert ev["@timestamp"] == "2024-01-01T20:04:05.000Z"
    assert get_field(ev, "message") == "User admin logged in via Web from 10.1.1.1, using https"
    assert get_field(ev, "observer.hostname") == "PA-1" and get_field(ev, "log.level") == "informational"
    with pytest.raises(ParseError) as info:
        parse_one(PanosParser, b"1,2024/01/02 03:04:05,0123,TRAFFIC")
    assert info.value.parser == "panos" and info.value.field == "message"
    with pytest.raises(ParseError) as info:
        parse_one(PanosParser, b"1,2024/01/02 03:04:05,0123,TRAFFIC,end,1,2024/13/02 03:04:05")
    assert info.value.field == "generated_time"


def test_iptables_errors_name_the_field() -> None:
    with pytest.raises(ParseError) as info:
        parse_one(IptablesParser, b"Jan  8 03:37:09 host kernel: something unrelated happened")
    assert info.value.parser == "iptables" and info.value.field == "message"
    with pytest.raises(ParseError) as info:
        parse_one(IptablesParser, b"IN=eth0 OUT= SRC=1.2.3.4")
    assert info.value.field == "timestamp"


def _sample_lines(datasets: Path) -> dict[str, list[bytes]]:
    fw = datasets / "logs" / "firewall"
    out: dict[str, list[bytes]] = {
        "iptables": [],
        "pfsense": [],
        "fortigate": [],
        "panos": [],
        "linux_auth": [],
    }
    for log in (fw / "iptables").rglob("*.log"):
        out["iptables"] += [ln for ln in lines_of(log) if b"IN=" in ln]
    for log in (fw / "pfsense").rglob("*.log"):
        out["pfsense"] += lines_of(log)
    for log in (fw / "fortigate").rglob("*.log"):
        out["fortigate"] += lines_of(log)
    for log in (fw / "panos").rglob("*.log"):
        out["panos"] += lines_of(log)
    for log in (datasets / "logs" / "endpoint" / "linux_auth" / "elastic-beats").glob("*.log"):
        out["linux_auth"] += lines_of(log)[:300]
    return out


def test_detectors_cross_check(datasets: Path) -> None:
    samples = _sample_lines(datasets)
    detectors = {p.name: p for p in (cls() for cls in PARSERS)}
    for family, lines in samples.items():
        assert lines, family
        for name, parser in detectors.items():
            hits = sum(parser.detect(line) for line in lines)
            if name == family:
                assert hits == len(lines), f"{name} detected {hits}/{len(lines)} of its own lines"
            else:
                assert hits == 0, f"{name} claims {hits} {family} lines"
    auth = LinuxAuthParser()
    for family in ("iptables", "pfsense", "fortigate", "panos"):
        assert not any(auth.detect(line) for line in samples[family]), family


@pytest.mark.parametrize("cls", PARSERS, ids=lambda c: c.__name__)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_parse_error(cls: type, data: bytes) -> None:
    try:
        events = cls(timezone="UTC").parse(RawRecord(raw=data, source="t", position=0, received=RECEIVED))
    except ParseError as exc:
        assert exc.parser == cls(timezone="UTC").name and exc.reason
    else:
        assert len(events) == 1 and "@timestamp" in events[0]


_TRUNCATION_SOURCES = {
    IptablesParser: ("iptables/elastic-beats/iptables.log", "iptables/elastic-beats/ipv6.log"),
    PfsenseParser: ("pfsense/crowdsec-hub/pf-logs/pf-logs.log",),
    FortigateParser: ("fortigate/elastic-beats/utm.log", "fortigate/elastic-beats/event.log"),
    PanosParser: ("panos/elastic-beats/traffic.log", "panos/elastic-beats/threat.log"),
}


@pytest.mark.parametrize("cls", PARSERS, ids=lambda c: c.__name__)
def test_truncated_lines_raise_parse_error_or_parse_partially(datasets: Path, cls: type) -> None:
    fw = datasets / "logs" / "firewall"
    lines = [ln for rel in _TRUNCATION_SOURCES[cls] for ln in lines_of(fw / rel)[:4]]
    parser = cls(timezone="UTC")
    outcomes = {"parsed": 0, "error": 0}
    for line in lines:
        for cut in range(0, len(line), 7):
            record = RawRecord(raw=line[:cut], source="t", position=0, received=RECEIVED)
            try:
                (event,) = parser.parse(record)
            except ParseError as exc:
                assert exc.parser == parser.name and exc.reason
                outcomes["error"] += 1
            else:
                assert event["@timestamp"] and get_field(event, "event.kind")
                outcomes["parsed"] += 1
    assert outcomes["parsed"] and outcomes["error"], outcomes


@pytest.mark.parametrize("cls", PARSERS, ids=lambda c: c.__name__)
def test_long_pathological_lines_are_linear(cls: type) -> None:
    # Inputs that make backtracking regexes explode: many '=' / quotes / commas / brackets.
    for body in (
        b"a=" * 20000,
        b'k="' + b"\\" * 40000,
        b"," * 40000,
        b"[" * 20000 + b"IN=",
        b"IN= OUT= " * 5000,
    ):
        record = RawRecord(
            raw=b"<134>Jan  1 00:00:00 h kernel: " + body, source="t", position=0, received=RECEIVED
        )
        try:
            cls(timezone="UTC").parse(record)
        except ParseError:
            pass
