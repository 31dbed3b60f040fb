"""Tests of the Windows parser and the EVTX input: Winlogbeat golden-file oracle, every
JSON shape in the datasets, EVTX attack samples, a cut EVTX file, fuzzing and detection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.inputs.evtx import EvtxReader, is_evtx, read_evtx_records
from collectors.parsers.base import ParseError
from collectors.parsers.windows import WindowsParser, shape_of
from soc.event import RawRecord, get_field, parse_ts
from tests.helpers_windows import oracle

PARSER = WindowsParser()


def _win(datasets: Path) -> Path:
    return datasets / "logs" / "endpoint" / "windows"


def _parse(raw: bytes) -> dict:
    (ev,) = PARSER.parse(RawRecord(raw=raw, source="t", position=0))
    return ev


def test_winlogbeat_golden_oracle(datasets: Path) -> None:
    families = oracle(_win(datasets) / "winlogbeat")
    print("\nWinlogbeat golden oracle (fields agreeing / compared):")
    for name, agg in sorted(families.items()):
        print(f"  {name:9s} events={agg.events:3d} fields={agg.agree}/{agg.total} ({agg.pct:.2f}%)")
        for m in agg.mismatches[:10]:
            print("     ", m[:200])
    assert set(families) == {"security", "sysmon"}
    for name, agg in families.items():
        assert agg.events >= 20 and agg.total >= 500, name
        assert agg.pct >= 95.0, (name, agg.mismatches[:10])


def test_logon_4624_mapping(datasets: Path) -> None:
    path = _win(datasets) / "winlogbeat" / "security-windows2012r2-logon.evtx"
    events = {e["winlog"]["record_id"]: e for r in read_evtx_records(path) for e in PARSER.parse(r)}
    ev = events["1535"]
    assert ev["@timestamp"] == "2019-03-29T21:10:39.786832Z"
    assert ev["event"]["action"] == "logged-in" and ev["event"]["outcome"] == "success"
    assert ev["event"]["category"] == ["authentication"] and ev["event"]["type"] == ["start"]
    assert ev["user"] == {"id": "S-1-5-18", "name": "SYSTEM", "domain": "NT AUTHORITY"}
    assert ev["process"] == {
        "pid": 508,
        "executable": "C:\\Windows\\System32\\services.exe",
        "name": "services.exe",
    }
    assert ev["winlog"]["logon"]["type"] == "Service"
    assert ev["host"]["name"] == "vagrant-2012-r2"


JSON_SHAPES = {
    "cmd_userinitmprlogonscript_batch_2020-10-1922471810.json": "nxlog",
    "securityauditing_log4shell_cve2021_44228_java_serialized_object_2022-05-13045400.json": "sentinel",
}


@pytest.mark.parametrize("name", sorted(JSON_SHAPES))
def test_otrf_json_shapes_parse(datasets: Path, name: str) -> None:
    lines = (_win(datasets) / "otrf-security-datasets" / name).read_bytes().splitlines()
    codes = set()
    for line in lines:
        assert PARSER.detect(line)
        assert shape_of(json.loads(line)) == JSON_SHAPES[name]
        ev = _parse(line)
        assert ev["event"]["code"] and ev["host"]["name"] == "WORKSTATION5"
        assert parse_ts(ev["@timestamp"]).year in (2020, 2022)
        codes.add(ev["event"]["code"])
    assert len(lines) >= 39 and len(codes) >= 5


def test_nxlog_sysmon_process_access_and_4688(datasets: Path) -> None:
    path = (
        _win(datasets) / "otrf-security-datasets" / "cmd_userinitmprlogonscript_batch_2020-10-1922471810.json"
    )
    events = [_parse(line) for line in path.read_bytes().splitlines()]
    access = next(e for e in events if e["event"]["code"] == "10")
    assert access["event"]["action"] == "ProcessAccess" and access["process"]["pid"] > 0
    assert access["process"]["executable"].lower().endswith(".exe")
    reg = next(e for e in events if e["event"]["code"] == "13")
    assert reg["registry"]["hive"] in ("HKLM", "HKU", "HKCU") and reg["registry"]["path"]
    proc = next(e for e in events if e["event"]["code"] == "4688")
    assert proc["event"]["action"] == "created-process"
    assert proc["process"]["command_line"] and proc["process"]["parent"]["name"]
    cleared = next(e for e in events if e["event"]["code"] == "1102")
    assert cleared["event"]["action"] == "audit-log-cleared"


def test_sentinel_eventdata_xml(datasets: Path) -> None:
    path = _win(datasets) / "otrf-security-datasets"
    line = next(
        x
        for x in (
            path / "securityauditing_log4shell_cve2021_44228_java_serialized_object_2022-05-13045400.json"
        )
        .read_bytes()
        .splitlines()
        if b'"EventID":5156' in x
    )
    ev = _parse(line)
    assert ev["winlog"]["event_data"]["DestPort"] == "8080"
    assert ev["destination"] == {"ip": "192.168.2.5", "port": 8080}
    assert ev["source"]["ip"] == "192.168.3.5" and ev["network"]["transport"] == "tcp"


def test_winlogbeat_documents_round_trip(datasets: Path) -> None:
    folder = _win(datasets) / "winlogbeat"
    n = 0
    for golden in folder.glob("*.evtx.golden.json"):
        for doc in json.loads(golden.read_text()):
            raw = json.dumps(doc).encode()
            assert PARSER.detect(raw)
            ev = _parse(raw)
            assert ev["event"]["code"] == str(doc["winlog"]["event_id"])
            assert ev["host"]["name"] == doc["host"]["name"]
            n += 1
    assert n == 62


def test_evtx_rs_samples(datasets: Path) -> None:
    folder = _win(datasets) / "evtx-rs-samples"
    reader = EvtxReader(folder / "security.evtx")
    events = [e for r in reader.records() for e in PARSER.parse(r)]
    assert len(events) == 2261 and not reader.errors
    assert all(e["event"]["code"] and e["host"]["name"] for e in events)
    sysmon = EvtxReader(folder / "sysmon.evtx")
    recs = list(sysmon.records())
    assert len(recs) == 358 and sysmon.errors  # the zero-filled tail chunk is reported
    assert any(err.chunk == 9 for err in sysmon.errors)
    assert all(r.source == f"evtx:{(folder / 'sysmon.evtx').resolve()}" for r in recs)
    assert all(
        r.meta == {"input": "evtx", "path": str((folder / "sysmon.evtx").resolve()), "format": "windows"}
        for r in recs
    )
    assert [r.position for r in recs] == sorted(r.position for r in recs)


def test_evtx_attack_samples(datasets: Path) -> None:
    folder = _win(datasets) / "evtx-attack-samples"
    files = sorted(folder.rglob("*.evtx"))
    assert len(files) == 5
    codes: set[str] = set()
    errors = 0
    for path in files:
        assert is_evtx(path)
        reader = EvtxReader(path)
        for rec in reader.records():
            (ev,) = PARSER.parse(rec)
            codes.add(ev["event"]["code"])
        errors += len(reader.errors)
        assert reader.count > 0, path
    print(f"\nEVTX attack samples: {len(files)} files, codes {sorted(codes)}, {errors} errors")
    assert {"1", "10", "13", "4720", "5145"} <= codes


def test_evtx_cut_file_reports_and_keeps_good_records(datasets: Path, tmp_path: Path) -> None:
    src = _win(datasets) / "evtx-rs-samples" / "security.evtx"
    data = src.read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 * 3 + 30000])
    reader = EvtxReader(cut)
    recs = list(reader.records())
    full_ids = [r.position for r in read_evtx_records(src)]
    assert len(recs) > 260  # three whole chunks hold 260 records; the padded partial chunk gives more
    assert [r.position for r in recs] == full_ids[: len(recs)]
    assert [r.raw for r in recs[:5]] == [r.raw for r in list(read_evtx_records(src))[:5]]
    assert any(e.chunk == 3 and "short" in e.reason for e in reader.errors)
    assert any("declares" in e.reason for e in reader.errors)


def test_not_evtx(tmp_path: Path) -> None:
    p = tmp_path / "x.evtx"
    p.write_bytes(b"not an evtx file")
    assert not is_evtx(p) and not is_evtx(tmp_path / "missing.evtx")


def test_bad_records_raise_parse_error() -> None:
    for raw, fld in (
        (b"not json", "json"),
        (b'{"EventID": 4624, "Channel": "Security"}', "TimeCreated"),
        (b'{"EventID": "abc", "Channel": "Security", "TimeCreated": "2020-01-01 00:00:00"}', "EventID"),
        (b'{"Event": {"System": {"EventID": 1}}}', "TimeCreated"),
        (b'{"event_type": "alert", "src_ip": "1.2.3.4"}', "shape"),
        (b"\xff\xfe", "json"),
    ):
        with pytest.raises(ParseError) as info:
            _parse(raw)
        assert info.value.field == fld, (raw, info.value)
        assert info.value.parser == "windows"


def test_detector_does_not_claim_other_formats() -> None:
    others = [
        b"Feb 21 21:56:12 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 ssh2",
        b'{"timestamp":"2021-01-01T00:00:00.000000+0000","event_type":"alert","src_ip":"10.0.0.1","dest_port":80}',
        b'{"ts":1591367999.305988,"uid":"CMdzit1AMNsmfAIiQc","id.orig_h":"192.168.4.76","id.resp_p":53}',
        b'{"EventID": 5}',  # no channel or host: not enough to say Windows
        b"<Event><System><EventID>4624</EventID></System></Event>",
        b"",
    ]
    assert not any(PARSER.detect(raw) for raw in others)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c, max_size=5),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    [
        "EventID",
        "Channel",
        "TimeCreated",
        "Hostname",
        "SourceName",
        "TimeGenerated",
        "Computer",
        "EventData",
        "winlog",
        "Event",
        "System",
        "event_id",
        "@timestamp",
        "TargetUserName",
        "LogonType",
        "Image",
        "UtcTime",
    ]
)
windows_like = st.dictionaries(_KEYS, json_values, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_bytes_only_parse_error(raw: bytes) -> None:
    PARSER.detect(raw)
    try:
        PARSER.parse(RawRecord(raw=raw, source="f", position=0))
    except ParseError:
        pass


@settings(max_examples=400, deadline=None)
@given(windows_like)
def test_fuzz_json_only_parse_error(doc: dict) -> None:
    for candidate in (doc, {"Event": {"System": doc}}, {"winlog": doc, "@timestamp": "2020-01-01T00:00:00Z"}):
        raw = json.dumps(candidate).encode()
        try:
            ev = _parse(raw)
        except ParseError:
            continue
        assert get_field(ev, "event.code") is not None and parse_ts(ev["@timestamp"])
