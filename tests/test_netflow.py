"""NetFlow v5 / v9 / IPFIX: the decoder against Filebeat's golden decodes and Telegraf's
expected outputs, template caching, a real exporter (softflowd) over UDP, malformed input."""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.inputs.netflow_decode import NetflowDecodeError, NetflowDecoder, snake_case
from collectors.inputs.pcap import read_pcap_records
from collectors.parsers.base import ParseError
from collectors.parsers.netflow import NetflowParser
from soc.event import RawRecord, get_field
from tests.helpers_netflow import leaf_agreement, running_netflow, udp_payloads

BEATS_DAT = {
    "IPFIX-OpenBSD-pflow": ["ipfix_test_openbsd_pflow_tpl.dat", "ipfix_test_openbsd_pflow_data.dat"],
    "Netflow-9-Fortigate-FortiOS-5.2.1": [
        "netflow9_test_fortigate_fortios_521_tpl.dat",
        "netflow9_test_fortigate_fortios_521_data256.dat",
        "netflow9_test_fortigate_fortios_521_data257.dat",
    ],
    "Netflow-9-Palo-Alto-PAN--OS-with-app--id": [
        "netflow9_test_paloalto_panos_tpl.dat",
        "netflow9_test_paloalto_panos_data.dat",
    ],
}
BEATS_PCAPS = ["ipfix_cisco.pcap", "netflow9_ubiquiti_edgerouter.pcap"]
DAT_EXPORTER = "192.0.2.1:4444"  # the address Filebeat's dat tests use

# ECS fields of the golden documents that this parser maps (the rest is GeoIP/locality/community_id).
ECS_COMPARED = ("source.ip", "source.port", "destination.ip", "destination.port", "network.transport",
                "network.bytes", "network.packets", "observer.ip", "event.action")  # fmt: skip


def _beats(datasets: Path) -> Path:
    return datasets / "logs/network/netflow/elastic-beats"


def _golden_cases(datasets: Path):
    base = _beats(datasets)
    for name, files in BEATS_DAT.items():
        dec = NetflowDecoder()
        flows = [f for file in files for f in dec.decode((base / "dat" / file).read_bytes(), DAT_EXPORTER)]
        yield name, flows, json.loads((base / "golden" / f"{name}.golden.json").read_text())["events"]
    for pcap in BEATS_PCAPS:
        dec = NetflowDecoder()
        flows = [f for payload, peer in udp_payloads(base / pcap) for f in dec.decode(payload, peer)]
        yield pcap, flows, json.loads((base / f"{pcap}.golden.json").read_text())["events"]


def test_decoder_agrees_with_filebeat_goldens(datasets: Path) -> None:
    agree = total = 0
    ecs_agree = ecs_total = 0
    parser = NetflowParser()
    for name, flows, golden in _golden_cases(datasets):
        assert len(flows) == len(golden), f"{name}: {len(flows)} flows decoded, golden has {len(golden)}"
        for flow, doc in zip(flows, golden, strict=True):
            a, t, diffs = leaf_agreement(doc["Fields"]["netflow"], flow)
            agree, total = agree + a, total + t
            assert a / t >= 0.95, f"{name}: {diffs}"
            event = NetflowParser().parse(
                RawRecord(raw=json.dumps(flow).encode(), source="netflow:test", position=-1)
            )[0]
            assert parser.detect(json.dumps(flow, separators=(",", ":")).encode())
            for path in ECS_COMPARED:
                want = get_field(doc["Fields"], path)
                if want is not None:
                    ecs_total += 1
                    ecs_agree += get_field(event, path) == want
    print(f"\nnetflow.* field agreement with Filebeat goldens: {agree}/{total} = {agree / total:.4f}")
    print(
        f"ECS field agreement ({', '.join(ECS_COMPARED)}): "
        f"{ecs_agree}/{ecs_total} = {ecs_agree / ecs_total:.4f}"
    )
    assert total > 1000
    assert agree / total >= 0.95
    assert ecs_agree / ecs_total >= 0.95


_LINE = re.compile(r"^netflow(?:_options)?,source=[^,]+,version=\S+ (.*?)(?: \d+)?$")
_TELEGRAF_MAP = {"src": "source_ipv4_address", "dst": "destination_ipv4_address",
                 "src_port": "source_transport_port",
                 "dst_port": "destination_transport_port", "in_bytes": "octet_delta_count",
                 "in_packets": "packet_delta_count", "in_total_bytes": "octet_total_count",
                 "in_total_packets": "packet_total_count", "first_switched": "flow_start_sys_up_time",
                 "last_switched": "flow_end_sys_up_time"}  # fmt: skip


def _telegraf_fields(line: str) -> dict[str, object]:
    m = _LINE.match(line)
    assert m, line
    body = m.group(1)
    out: dict[str, object] = {}
    for key, value in re.findall(r'(\w+)=("[^"]*"|[^,]+)', body):
        if key in _TELEGRAF_MAP:
            out[_TELEGRAF_MAP[key]] = value.strip('"') if value.startswith('"') else int(value.rstrip("u"))
    return out


def test_decoder_agrees_with_telegraf_expected(datasets: Path) -> None:
    base = datasets / "logs/network/netflow/telegraf-testcases"
    agree = total = 0
    for case in ("netflow_v5_example", "netflow_v9_example", "ipfix_example"):
        dec = NetflowDecoder()
        bins = sorted((base / case).glob("*.bin"), key=lambda p: p.name)
        flows = [f for b in bins for f in dec.decode(b.read_bytes(), "127.0.0.1:1234")]  # flows and options
        lines = [x for x in (base / case / "expected.out").read_text().splitlines() if x.strip()]
        assert len(flows) == len(lines), f"{case}: {len(flows)} flows, telegraf expects {len(lines)}"
        for flow, line in zip(flows, lines, strict=True):
            values = {**flow.get("scope", {}), **flow.get("options", {}), **flow}
            for key, want in _telegraf_fields(line).items():
                total += 1
                agree += values.get(key) == want
    print(f"\nfield agreement with Telegraf expected outputs: {agree}/{total} = {agree / total:.4f}")
    assert total > 100
    assert agree / total >= 0.95


def test_snake_case_matches_filebeat_names() -> None:
    assert snake_case("sourceIPv4Address") == "source_ipv4_address"
    assert snake_case("postNATSourceIPv4Address") == "post_nat_source_ipv4_address"
    assert snake_case("ipTTL") == "ip_ttl"
    assert snake_case("ingressVRFID") == "ingress_vrfid"


# --- templates ------------------------------------------------------------------------------------------


def _ipfix(sets: bytes, domain: int = 7, seq: int = 0) -> bytes:
    return struct.pack(">HHIII", 10, 16 + len(sets), 1_700_000_000, seq, domain) + sets


def _set(set_id: int, body: bytes) -> bytes:
    return struct.pack(">HH", set_id, 4 + len(body)) + body


# template 300: sourceIPv4Address, destinationIPv4Address, octetDeltaCount(8), protocolIdentifier,
# an enterprise field (PEN 29305, id 5, 2 bytes) and applicationName (variable length)
TEMPLATE = _set(2, struct.pack(">HH", 300, 6) + struct.pack(">HHHHHHHH", 8, 4, 12, 4, 1, 8, 4, 1)
                + struct.pack(">HHI", 0x8000 | 5, 2, 29305) + struct.pack(">HH", 96, 0xFFFF))  # fmt: skip


def _record(src: str, dst: str, octets: int, app: bytes) -> bytes:
    return (socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">QB", octets, 6) + b"\xbe\xef"
            + bytes([len(app)]) + app)  # fmt: skip


DATA = _set(
    300, _record("10.0.0.1", "10.0.0.2", 1500, b"http") + _record("10.0.0.3", "10.0.0.4", 99, b"") + b"\0"
)


def test_template_then_data_decodes_variable_length_and_enterprise_fields() -> None:
    dec = NetflowDecoder()
    assert dec.decode(_ipfix(TEMPLATE), "192.0.2.9:9995") == []
    flows = dec.decode(_ipfix(DATA), "192.0.2.9:9995")
    assert [(f["source_ipv4_address"], f["octet_delta_count"], f["application_name"]) for f in flows] == [
        ("10.0.0.1", 1500, "http"),
        ("10.0.0.3", 99, ""),
    ]
    assert flows[0]["ie_29305_5"] == "beef"
    assert flows[0]["exporter"] == {"address": "192.0.2.9:9995", "source_id": 7, "version": 10,
                                    "timestamp": "2023-11-14T22:13:20Z", "uptime_millis": 0}  # fmt: skip


def test_data_before_template_is_held_then_decoded() -> None:
    dec = NetflowDecoder()
    assert dec.decode(_ipfix(DATA), "192.0.2.9:9995") == []
    assert dec.pending_count == 1 and dec.counters["pending_held"] == 1
    assert dec.decode(_ipfix(DATA, domain=8), "192.0.2.9:9995") == []  # another domain: its own template
    flows = dec.decode(_ipfix(TEMPLATE), "192.0.2.9:9995")
    assert [f["destination_ipv4_address"] for f in flows] == ["10.0.0.2", "10.0.0.4"]
    assert dec.counters["pending_decoded"] == 1 and dec.pending_count == 1


def test_held_data_expires_and_is_bounded() -> None:
    now = [0.0]
    dec = NetflowDecoder(max_pending=2, pending_ttl=10, clock=lambda: now[0])
    for seq in range(3):
        dec.decode(_ipfix(DATA, seq=seq), "192.0.2.9:9995")
    assert dec.pending_count == 2 and dec.counters["pending_dropped"] == 1
    now[0] = 11.0
    assert dec.decode(_ipfix(TEMPLATE), "192.0.2.9:9995") == []
    assert dec.counters["pending_expired"] == 2


def test_template_withdrawal_makes_data_wait_again() -> None:
    dec = NetflowDecoder()
    dec.decode(_ipfix(TEMPLATE), "192.0.2.9:9995")
    dec.decode(_ipfix(_set(2, struct.pack(">HH", 300, 0))), "192.0.2.9:9995")
    assert dec.counters["templates_withdrawn"] == 1
    assert dec.decode(_ipfix(DATA), "192.0.2.9:9995") == []
    assert dec.pending_count == 1
    # an exporter's templates do not apply to another exporter
    dec.decode(_ipfix(TEMPLATE), "192.0.2.10:9995")
    assert dec.pending_count == 1


def test_malformed_packets_raise_only_the_decoder_error() -> None:
    dec = NetflowDecoder()
    for bad in (
        b"",
        b"\x00\x05",
        b"\x00\x07" + bytes(30),
        _ipfix(TEMPLATE)[:-3],
        _ipfix(b"\x01\x00\xff\xff"),
    ):
        with pytest.raises(NetflowDecodeError):
            dec.decode(bad, "192.0.2.9:9995")
    assert dec.counters["errors"] == 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([b"", b"\x00\x05", b"\x00\x09", b"\x00\x0a"]))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes, prefix: bytes) -> None:
    dec = NetflowDecoder()
    dec.decode(_ipfix(TEMPLATE), "x:1")
    try:
        flows = dec.decode(prefix + data, "x:1")
    except NetflowDecodeError:
        return
    assert isinstance(flows, list)
    json.dumps(flows)  # whatever decodes is JSON-able


# --- the parser ------------------------------------------------------------------------------------------


def test_parser_maps_v9_flow_to_ecs(datasets: Path) -> None:
    base = _beats(datasets)
    dec = NetflowDecoder()
    flows = [
        f for p, peer in udp_payloads(base / "netflow9_ubiquiti_edgerouter.pcap") for f in dec.decode(p, peer)
    ]
    raw = json.dumps(flows[0], separators=(",", ":")).encode()
    event = NetflowParser().parse(RawRecord(raw=raw, source="netflow:10.100.4.1", position=-1))[0]
    assert event["event"]["category"] == ["network"] and event["event"]["action"] == "netflow_flow"
    assert event["source"] == {"ip": "10.100.5.2", "port": 43376, "bytes": 421, "packets": 6}
    assert event["destination"] == {"ip": "159.65.125.168", "port": 80}
    assert event["network"]["transport"] == "tcp" and event["network"]["direction"] == "outbound"
    assert event["network"]["tcp_flags"] == ["FIN", "SYN", "PSH", "ACK"]  # 27 = 0x1b
    # sysUpTime-relative times: export 16:49:04 - (1887990 - 1524010) ms
    assert event["event"]["start"] == "2018-08-09T16:43:00.020Z"
    assert event["event"]["duration"] == 287_000_000
    assert event["netflow"]["exporter"]["version"] == 9


def test_parser_refuses_undecodable_datagram_record() -> None:
    rec = RawRecord(raw=b"\x00\x07junk", source="netflow:10.0.0.1", position=-1,
                    meta={"format": "netflow", "decode_error": "unsupported NetFlow version 7"})  # fmt: skip
    with pytest.raises(ParseError, match="unsupported NetFlow version 7"):
        NetflowParser().parse(rec)


# --- the UDP input with real senders ------------------------------------------------------------------


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_input_decodes_replayed_datagrams_and_survives_garbage(datasets: Path) -> None:
    base = _beats(datasets)
    with running_netflow() as (inp, got), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"\x00\x07not netflow at all", ("127.0.0.1", inp.bound_port))
        for payload, _peer in udp_payloads(base / "ipfix_cisco.pcap"):
            tx.sendto(payload, ("127.0.0.1", inp.bound_port))
        assert _wait_for(lambda: len(got.snapshot()) >= 30)
    records = got.snapshot()
    bad = [r for r in records if "decode_error" in r.meta]
    assert len(bad) == 1 and bad[0].raw == b"\x00\x07not netflow at all"
    flows = [json.loads(r.raw) for r in records if "decode_error" not in r.meta]
    assert len(flows) == 29
    assert all(
        r.source == "netflow:127.0.0.1" and r.position == -1 and r.meta["format"] == "netflow"
        for r in records
    )
    assert got.ctx.counters["netflow.errors"] == 1 and got.ctx.counters["netflow.flows"] == 29


def _softflowd_export(pcap: Path, version: int) -> tuple[list[dict], str]:
    """Flows softflowd exports from ``pcap`` to a running input, and softflowd's own report."""
    # softflowd 1.1.0 never reads the file when its control socket path is longer than
    # about 11 characters, so it runs in a private directory with a relative one
    with tempfile.TemporaryDirectory() as tmp, running_netflow() as (inp, got):
        cmd = ["softflowd", "-r", str(pcap), "-n", f"127.0.0.1:{inp.bound_port}", "-v", str(version),
               "-d", "-p", "sf.pid", "-c", "sf.ctl"]  # fmt: skip
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL, cwd=tmp
        )
        assert proc.returncode == 0, proc.stderr
        assert _wait_for(lambda: got.ctx.counters.get("netflow.flows", 0) > 0)
        time.sleep(0.3)  # any datagram still on its way
    return [json.loads(r.raw) for r in got.snapshot() if "decode_error" not in r.meta], proc.stdout


@pytest.mark.skipif(shutil.which("softflowd") is None, reason="Debian package softflowd not installed")
@pytest.mark.parametrize("version", [5, 9, 10])
def test_softflowd_export_arrives_with_its_own_accounting(datasets: Path, version: int) -> None:
    pcap = datasets / "logs/network/pcap/ndpi/dns-tunnel-iodine.pcap"
    exported, report = _softflowd_export(pcap, version)
    flows = [f for f in exported if f["type"] == "netflow_flow"]
    assert flows and all(f["exporter"]["version"] == version for f in flows)
    # softflowd exports each direction of the one DNS conversation as its own flow
    ends = {(f["source_ipv4_address"], f["source_transport_port"], f["destination_ipv4_address"],
             f["destination_transport_port"], f["protocol_identifier"]) for f in flows}  # fmt: skip
    assert ends == {("10.0.2.30", 44639, "10.0.2.20", 53, 17), ("10.0.2.20", 53, "10.0.2.30", 44639, 17)}
    # its byte and packet counts (IP lengths) equal our own pcap flow accounting of the same file
    ours = [json.loads(r.raw) for r in read_pcap_records(pcap)]
    flow = next(r for r in ours if r["kind"] == "flow")
    by_src = {f["source_ipv4_address"]: f for f in flows}
    octets = "octet_delta_count" if version != 10 or "octet_delta_count" in flows[0] else "octet_total_count"
    packets = octets.replace("octet", "packet")
    assert by_src["10.0.2.30"][octets] == flow["src_bytes"] == 23028
    assert by_src["10.0.2.30"][packets] == flow["src_packets"] == 222
    assert by_src["10.0.2.20"][octets] == flow["dst_bytes"]
    assert by_src["10.0.2.20"][packets] == flow["dst_packets"]
    # and softflowd's own per-protocol report: "udp (17):  <octets>  <packets> ..."
    m = re.search(r"udp \(17\):\s+(\d+)\s+(\d+)", report)
    assert m, report
    assert sum(f[octets] for f in flows) == int(m.group(1)) == 64176
    assert sum(f[packets] for f in flows) == int(m.group(2)) == 434
    event = NetflowParser().parse(RawRecord(raw=json.dumps(flows[0]).encode(), source="x", position=-1))[0]
    assert event["network"]["transport"] == "udp" and event["observer"]["ip"] == "127.0.0.1"
    assert event["event"]["start"] <= event["event"]["end"]
