"""Tests of the network security monitor parsers (``zeek``, ``suricata``): Filebeat
zeek/suricata oracles, every line of the OTRF Zeek JSON and TSV datasets, the mapping of
each log family, TSV header handling, detectors, and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.inputs.file import read_records
from collectors.parsers.base import ParseError
from collectors.parsers.suricata import SuricataParser
from collectors.parsers.zeek import ZeekParser, infer_log, normalise_keys, read_zeek_tsv
from collectors.parsers.zeek.tsv import zeek_log_from_path
from soc.event import RawRecord, get_field
from tests.helpers_network import compare_file, file_pairs

ZEEK = ZeekParser()
SURICATA = SuricataParser()


def _rec(line: bytes, **meta: object) -> RawRecord:
    return RawRecord(raw=line, source="t", position=0, meta=dict(meta))


def zeek(line: bytes | str, log: str | None = None) -> dict:
    raw = line.encode() if isinstance(line, str) else line
    (ev,) = ZEEK.parse(_rec(raw, **({"zeek_log": log} if log else {})))
    return ev


def eve(obj: dict) -> dict:
    (ev,) = SURICATA.parse(_rec(json.dumps(obj).encode()))
    return ev


# -- Filebeat oracles ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "folder", "parser", "min_values"),
    [
        ("zeek", ("zeek", "elastic-beats-json"), ZEEK, 500),
        ("suricata", ("suricata", "elastic-beats"), SURICATA, 1500),
    ],
)
def test_filebeat_oracle_agreement(datasets: Path, family, folder, parser, min_values):
    base = datasets / "logs" / "network" / folder[0] / folder[1]
    if not base.is_dir():
        pytest.skip(f"dataset {base} not found")
    agree = total = files = 0
    mismatches: list[str] = []
    for raw_path, expected in file_pairs(base):
        a, t, bad = compare_file(raw_path, expected, parser.parse)
        agree, total, files = agree + a, total + t, files + 1
        mismatches += bad
    pct = 100.0 * agree / total
    print(f"\nFilebeat {family} oracle: {agree}/{total} field values agree ({pct:.2f}%) over {files} files")
    for m in mismatches[:20]:
        print("  ", m)
    assert files >= 4 and total >= min_values
    assert pct >= 95.0, mismatches[:20]


# -- OTRF datasets: every line parses ----------------------------------------------------


def test_every_otrf_zeek_json_line_parses(datasets: Path):
    folder = datasets / "logs" / "network" / "zeek" / "otrf-apt29-day2-json"
    if not folder.is_dir():
        pytest.skip(f"dataset {folder} not found")
    lines = 0
    datasets_seen: set[str] = set()
    for path in sorted(folder.glob("*.log")):
        for record in read_records(path):
            (ev,) = ZEEK.parse(record)
            lines += 1
            datasets_seen.add(ev["event"]["dataset"])
            assert ev["@timestamp"].startswith("2020-05-01T"), (path.name, ev["@timestamp"])
            if "id_orig_h" in record.raw.decode():
                assert get_field(ev, "source.ip") and get_field(ev, "destination.port") is not None
    assert lines == 774
    assert {"zeek.connection", "zeek.dns", "zeek.ssl", "zeek.kerberos", "zeek.dce_rpc", "zeek.x509"} <= (
        datasets_seen
    )


def test_every_otrf_zeek_tsv_line_parses(datasets: Path):
    folder = datasets / "logs" / "network" / "zeek" / "otrf-lsass-campaign-01-tsv"
    if not folder.is_dir():
        pytest.skip(f"dataset {folder} not found")
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("*.log")):
        for record in read_zeek_tsv(path):
            assert record.meta["format"] == "zeek" and record.meta["zeek_fields"]
            assert not record.raw.startswith(b"#")
            (ev,) = ZEEK.parse(record)
            counts[record.meta["zeek_log"]] = counts.get(record.meta["zeek_log"], 0) + 1
            assert ev["@timestamp"].startswith("2023-08-16T")
    assert counts["conn"] == 112 and counts["kerberos"] == 10 and counts["weird"] == 22
    assert sum(counts.values()) >= 250


def test_tsv_offsets_point_at_line_starts(datasets: Path):
    path = datasets / "logs" / "network" / "zeek" / "otrf-lsass-campaign-01-tsv" / "conn.log"
    if not path.exists():
        pytest.skip(f"dataset {path} not found")
    data = path.read_bytes()
    records = list(read_zeek_tsv(path))
    for r in records:
        assert data[r.position : r.position + len(r.raw)] == r.raw
        assert r.position == 0 or data[r.position - 1 : r.position] == b"\n"
    first = ZEEK.parse(records[0])[0]
    assert first["@timestamp"] == "2023-08-16T04:53:42.036086Z"
    assert get_field(first, "zeek.connection.state") == "SHR"
    assert get_field(first, "network.protocol") == "dns"
    assert get_field(first, "source.port") == 52605 and get_field(first, "destination.port") == 53
    assert get_field(first, "event.duration") is None  # "-" is unset, not zero


# -- Zeek mapping ---------------------------------------------------------------------


def test_tsv_header_and_types(tmp_path: Path):
    path = tmp_path / "dns.log"
    path.write_bytes(
        b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n"
        b"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\t"
        b"rcode_name\tRD\tanswers\tTTLs\n"
        b"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tstring\tbool\t"
        b"vector[string]\tvector[interval]\n"
        b"1692161622.5\tCx\t10.0.0.1\t5353\t10.0.0.2\t53\tudp\tevil\\x09.example\tA\tNOERROR\tT\t"
        b"1.2.3.4,cname.example\t60.0,30.0\n"
        b"1692161623.0\tCy\t10.0.0.1\t5354\t10.0.0.2\t53\tudp\t-\t-\t-\tF\t(empty)\t(empty)\n"
        b"#close\t2023-08-16-01-28-55\n"
    )
    records = list(read_zeek_tsv(path))
    assert [r.meta["zeek_log"] for r in records] == ["dns", "dns"]
    ev = ZEEK.parse(records[0])[0]
    assert get_field(ev, "dns.question.name") == "evil\t.example"
    assert get_field(ev, "dns.answers") == [
        {"data": "1.2.3.4", "ttl": 60},
        {"data": "cname.example", "ttl": 30},
    ]
    assert get_field(ev, "dns.resolved_ip") == ["1.2.3.4"]
    assert get_field(ev, "dns.header_flags") == ["RD"]
    assert get_field(ev, "event.outcome") == "success"
    ev = ZEEK.parse(records[1])[0]
    assert get_field(ev, "dns.type") == "query" and get_field(ev, "dns.question") is None
    assert get_field(ev, "zeek.dns.answers") == []


def test_tsv_line_without_header_or_with_wrong_columns_is_parse_error():
    with pytest.raises(ParseError) as info:
        ZEEK.parse(_rec(b"1692161622.5\tCx\t10.0.0.1"))
    assert info.value.parser == "zeek" and info.value.field == "header"
    meta = {"zeek_log": "conn", "zeek_fields": ["ts", "uid"], "zeek_types": ["time", "string"]}
    with pytest.raises(ParseError, match="3 columns"):
        ZEEK.parse(_rec(b"1.0\tC\textra", **meta))
    with pytest.raises(ParseError) as info:
        ZEEK.parse(_rec(b"yesterday\tC", **meta))
    assert info.value.field == "ts"
    assert ZEEK.parse(_rec(b"#fields\tts\tuid")) == []


def test_underscore_json_and_inferred_log():
    line = (
        '{"@stream":"conn","ts":1588316522.186129,"uid":"C1","id_orig_h":"10.0.1.5","id_orig_p":60818,'
        '"id_resp_h":"10.0.0.4","id_resp_p":445,"proto":"tcp","service":"smb","duration":1.5,'
        '"conn_state":"RSTO","orig_ip_bytes":1307,"resp_ip_bytes":2093,"orig_pkts":12,"resp_pkts":10}'
    )
    ev = zeek(line)
    assert get_field(ev, "event.dataset") == "zeek.connection"
    assert get_field(ev, "source.ip") == "10.0.1.5" and get_field(ev, "destination.port") == 445
    assert get_field(ev, "network.bytes") == 3400 and get_field(ev, "network.packets") == 22
    assert get_field(ev, "event.duration") == 1_500_000_000
    assert get_field(ev, "event.type") == ["connection", "info"]
    assert normalise_keys({"certificate_serial": "1", "seen_bytes": 3}, "x509") == {
        "certificate.serial": "1",
        "seen_bytes": 3,
    }
    assert infer_log({"ts": 1, "fuid": "F", "analyzers": []}) == "files"
    assert infer_log({"ts": 1, "note": "Scan::Port_Scan"}) == "notice"
    ev = zeek('{"ts":1.0,"uid":"C","id.orig_h":"1.1.1.1","id.orig_p":1,"id.resp_h":"2.2.2.2","id.resp_p":22,'
              '"auth_success":true,"auth_attempts":1}')  # fmt: skip
    assert get_field(ev, "event.dataset") == "zeek.ssh" and get_field(ev, "event.outcome") == "success"


def test_log_name_from_file_names():
    assert zeek_log_from_path("/x/UTICA-A_dce_rpc.log") == "dce_rpc"
    assert zeek_log_from_path("/x/conn.09:00:00-10:00:00.log.gz") == "conn"
    assert zeek_log_from_path("/x/http-json.log") == "http"
    assert zeek_log_from_path("/x/smb_mapping.log") == "smb_mapping"
    assert zeek_log_from_path("/x/random.txt") is None


def test_zeek_notice_and_weird_are_alerts():
    ev = zeek(
        '{"ts":1320435875.879278,"note":"SSH::Password_Guessing","msg":"guessing","src":"172.16.238.1",'
        '"dropped":true}',
        "notice",
    )
    assert get_field(ev, "event.kind") == "alert" and get_field(ev, "rule.name") == "SSH::Password_Guessing"
    assert get_field(ev, "event.type") == ["info", "denied"]
    assert get_field(ev, "source.ip") == "172.16.238.1"
    ev = zeek('{"ts":1.5,"name":"bad_TCP_checksum","notice":false,"peer":"w1"}')
    assert get_field(ev, "event.dataset") == "zeek.weird" and get_field(ev, "rule.name") == "bad_TCP_checksum"


def test_zeek_bad_json_is_parse_error():
    for line, field in ((b"{not json", "message"), (b"[1, 2]", "message"), (b'{"uid":"C"}', "log")):
        with pytest.raises(ParseError) as info:
            ZEEK.parse(_rec(line))
        assert info.value.parser == "zeek" and info.value.field == field
    with pytest.raises(ParseError) as info:
        ZEEK.parse(_rec(b'{"uid":"C","conn_state":"SF"}'))
    assert info.value.field == "ts"
    with pytest.raises(ParseError) as info:
        ZEEK.parse(_rec(b'{"ts":"noon","conn_state":"SF"}'))
    assert info.value.field == "ts"


# -- Suricata mapping -----------------------------------------------------------------

_BASE = {
    "timestamp": "2024-05-01T10:00:00.123456+0700",
    "flow_id": 1234,
    "src_ip": "10.0.0.5",
    "src_port": 51000,
    "dest_ip": "203.0.113.9",
    "dest_port": 53,
    "proto": "UDP",
}


def test_suricata_dns_v2_answers_and_blocked_alert():
    ev = eve(
        {
            **_BASE,
            "event_type": "dns",
            "community_id": "1:abc=",
            "dns": {
                "version": 2,
                "type": "answer",
                "id": 7,
                "rrname": "x.example",
                "rrtype": "A",
                "rcode": "NOERROR",
                "rd": True,
                "ra": True,
                "answers": [{"rrname": "x.example", "rrtype": "A", "ttl": 5, "rdata": "198.51.100.1"}],
            },
        }
    )
    assert ev["@timestamp"] == "2024-05-01T03:00:00.123456Z"
    assert get_field(ev, "dns.question.name") == "x.example"
    assert get_field(ev, "dns.answers") == [
        {"name": "x.example", "type": "A", "ttl": 5, "data": "198.51.100.1"}
    ]
    assert get_field(ev, "dns.resolved_ip") == ["198.51.100.1"]
    assert get_field(ev, "dns.header_flags") == ["RD", "RA"]
    assert get_field(ev, "network.community_id") == "1:abc="
    assert get_field(ev, "network.protocol") == "dns" and get_field(ev, "network.transport") == "udp"
    assert get_field(ev, "suricata.eve.flow_id") == "1234"
    assert "198.51.100.1" in get_field(ev, "related.ip")
    ev = eve(
        {
            **_BASE,
            "event_type": "alert",
            "alert": {
                "action": "blocked",
                "signature_id": 9,
                "signature": "X",
                "category": "C",
                "severity": 1,
            },
        }
    )
    assert get_field(ev, "event.kind") == "alert" and get_field(ev, "event.type") == ["denied"]
    assert get_field(ev, "rule.id") == "9" and get_field(ev, "event.severity") == 1
    assert get_field(ev, "suricata.eve.alert.action") is None


def test_suricata_anomaly_and_stats():
    ev = eve({**_BASE, "event_type": "anomaly", "anomaly": {"type": "decode", "event": "ipv4.trunc_pkt"}})
    assert get_field(ev, "suricata.eve.anomaly.event") == "ipv4.trunc_pkt"
    assert get_field(ev, "event.kind") == "event"
    ev = eve({"timestamp": "2024-05-01T10:00:00+0000", "event_type": "stats", "stats": {"uptime": 5}})
    assert get_field(ev, "event.kind") == "metric" and get_field(ev, "suricata.eve.stats.uptime") == 5


def test_suricata_bad_records_are_parse_errors():
    cases = [
        (b"{oops", "message"),
        (b'{"event_type":"flow"}', "timestamp"),
        (b'{"timestamp":"2024-05-01T10:00:00+0000"}', "event_type"),
        (b'{"timestamp":"yesterday","event_type":"flow"}', "timestamp"),
    ]
    for line, field in cases:
        with pytest.raises(ParseError) as info:
            SURICATA.parse(_rec(line))
        assert info.value.parser == "suricata" and info.value.field == field


# -- detectors ------------------------------------------------------------------------

_ZEEK_LINES = [
    b'{"ts":1547188415.857497,"uid":"CAcJw21BbVedgFnYH3","id.orig_h":"192.168.86.167","proto":"udp"}',
    b'{"@stream":"dns","ts":1588316522.1,"uid":"C1","id_orig_h":"10.0.1.5"}',
    b'{"ts":1547688796.636812,"fuid":"FMkioa222mEuM2RuQ9","source":"SSL"}',
]
_EVE_LINES = [
    b'{"timestamp":"2018-07-05T15:01:09.820360-0400","flow_id":1,"event_type":"ssh","src_ip":"1.1.1.1"}',
    b'{"timestamp":"2018-07-05T15:51:23.009510-0400","event_type":"stats","stats":{"uptime":5400}}',
]
_OTHER_LINES = [
    b'{"EventID":4624,"Channel":"Security","Hostname":"WS01","EventTime":"2020-10-19 22:47:18"}',
    b'{"TimeGenerated":"2022-05-13T04:54:00Z","EventID":4688,"Computer":"WIN","EventData":"<Data/>"}',
    b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
    b"Feb 21 21:54:44 localhost sshd[3402]: Accepted password for a from 1.2.3.4 port 1 ssh2",
    b"1692161622.036086\tCnsu5m395zFmE9ikp4\t192.168.1.41\t52605\t192.168.1.4\t53\tudp",
    b"",
]


def test_detectors_do_not_cross_claim():
    for line in _ZEEK_LINES:
        assert ZEEK.detect(line) and not SURICATA.detect(line), line
    for line in _EVE_LINES:
        assert SURICATA.detect(line) and not ZEEK.detect(line), line
    for line in _OTHER_LINES:
        assert not ZEEK.detect(line) and not SURICATA.detect(line), line


def test_detectors_on_datasets(datasets: Path):
    net = datasets / "logs" / "network"
    windows = datasets / "logs" / "endpoint" / "windows" / "otrf-security-datasets"
    checked = 0
    for path in sorted((net / "zeek").glob("*json/*.log")):
        for line in path.read_bytes().splitlines()[:50]:
            assert ZEEK.detect(line) and not SURICATA.detect(line), (path.name, line[:80])
            checked += 1
    for path in sorted((net / "suricata" / "elastic-beats").glob("*.log")):
        for line in path.read_bytes().splitlines():
            assert SURICATA.detect(line) and not ZEEK.detect(line), (path.name, line[:80])
            checked += 1
    for path in sorted(windows.glob("*.json")):
        for line in path.read_bytes().splitlines()[:50]:
            assert not ZEEK.detect(line) and not SURICATA.detect(line), (path.name, line[:80])
            checked += 1
    assert checked > 300


# -- fuzzing --------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_parse_error(data: bytes):
    for parser in (ZEEK, SURICATA):
        parser.detect(data)
        try:
            parser.parse(_rec(data))
        except ParseError:
            pass
    meta = {
        "zeek_log": "conn",
        "zeek_fields": ["ts", "uid", "id.orig_h"],
        "zeek_types": ["time", "string", "addr"],
    }
    try:
        ZEEK.parse(_rec(data, **meta))
    except ParseError:
        pass


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
_KEYS = st.sampled_from(
    ["ts", "uid", "id.orig_h", "id.orig_p", "proto", "conn_state", "query", "answers", "TTLs", "method",
     "status_code", "certificate.not_valid_before", "conn_uids", "tx_hosts", "client", "till", "subject",
     "timestamp", "event_type", "src_ip", "flow", "alert", "dns", "http", "tls", "fileinfo", "version"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(_KEYS, _JSON_VALUES, max_size=8), st.sampled_from(["conn", "dns", "http", "x509", None])
)
def test_arbitrary_json_records_only_raise_parse_error(obj: dict, log: str | None):
    raw = json.dumps(obj).encode()
    try:
        ZEEK.parse(_rec(raw, **({"zeek_log": log} if log else {})))
    except ParseError:
        pass
    try:
        SURICATA.parse(_rec(raw))
    except ParseError:
        pass
