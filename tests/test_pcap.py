"""pcap / pcapng files to flow and DNS records and ECS events, checked against nDPI's results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from collectors.inputs.pcap import (
    CaptureNotPermitted,
    FlowTable,
    PcapError,
    PcapInputConfig,
    check_capture_permitted,
    is_pcap,
    read_pcap_records,
)
from collectors.parsers.base import ParseError
from collectors.parsers.packet import PacketParser
from soc.event import RawRecord

ETHERNET_HEADER = 14  # nDPI counts frame bytes, we count IP bytes
_NDPI_FLOW = re.compile(
    r"^\s*\d+\s+(TCP|UDP) ([\d.]+):(\d+) <-> ([\d.]+):(\d+) "
    r".*?\[(\d+) pkts/(\d+) bytes <-> (\d+) pkts/(\d+) bytes\]"
)


def _pcap(datasets: Path, name: str) -> Path:
    return datasets / "logs/network/pcap/ndpi" / name


def _ndpi_flows(out: Path) -> list[tuple]:
    flows = []
    for line in out.read_text().splitlines():
        m = _NDPI_FLOW.match(line)
        if m:
            proto, sip, sport, dip, dport, sp, sb, dp, db = m.groups()
            flows.append(
                (proto.lower(), sip, int(sport), dip, int(dport), int(sp), int(sb), int(dp), int(db))
            )
    return flows


def _ours(path: Path) -> tuple[list[dict], FlowTable]:
    table = FlowTable()
    return [json.loads(r.raw) for r in read_pcap_records(path, table=table)], table


@pytest.mark.parametrize("name", ["tcp_scan.pcapng", "dns-tunnel-iodine.pcap"])
def test_flows_match_ndpi_results(datasets: Path, name: str) -> None:
    records, _ = _ours(_pcap(datasets, name))
    ours = {(r["transport"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]): r
            for r in records if r["kind"] == "flow"}  # fmt: skip
    expected = _ndpi_flows(_pcap(datasets, name + ".out"))
    assert expected, "no flow lines parsed from the nDPI result"
    exact = 0
    for proto, sip, sport, dip, dport, sp, sb, dp, db in expected:
        r = ours[(proto, sip, sport, dip, dport)]  # the same flows, initiator first
        assert (r["src_packets"], r["dst_packets"]) == (sp, dp)
        # nDPI counts frames: IP bytes + Ethernet header, plus padding of short frames (to 60 bytes)
        for ip_bytes, packets, frame_bytes in ((r["src_bytes"], sp, sb), (r["dst_bytes"], dp, db)):
            assert (
                ip_bytes + ETHERNET_HEADER * packets
                <= frame_bytes
                <= max(ip_bytes + 14 * packets, 60 * packets) + 4
            )
        exact += (r["src_bytes"] + ETHERNET_HEADER * sp, r["dst_bytes"] + ETHERNET_HEADER * dp) == (sb, db)
    assert len(ours) == len(expected)
    print(f"\n{name}: {len(expected)}/{len(expected)} nDPI flows matched (5-tuple, packets), "
          f"{exact} with byte counts equal to the frame bytes")  # fmt: skip


def test_tcp_scan_is_many_ports_from_one_source(datasets: Path) -> None:
    records, table = _ours(_pcap(datasets, "tcp_scan.pcapng"))
    parser = PacketParser()
    events = [parser.parse(RawRecord(raw=json.dumps(r).encode(), source="t", position=0))[0] for r in records]
    assert {e["source"]["ip"] for e in events} == {"192.168.1.178"}
    assert {e["destination"]["port"] for e in events} == {80, 443, 445, 3389, 3390, 3391, 3392}
    for e in events:
        assert e["event"]["category"] == ["network"] and "connection" in e["event"]["type"]
        assert e["network"]["transport"] == "tcp" and e["event"]["duration"] >= 0
        assert e["network"]["bytes"] == e["source"]["bytes"] + e["destination"]["bytes"]
    xmas = next(e for e in events if e["destination"]["port"] == 3392)
    assert {"FIN", "PSH", "URG"} <= set(xmas["network"]["tcp_flags"])  # the XMAS scan nDPI names
    assert table.counters["non_ip"] == 12  # pcapng ARP/other frames, counted not fatal


def test_dns_tunnel_queries_and_answers(datasets: Path) -> None:
    path = _pcap(datasets, "dns-tunnel-iodine.pcap")
    raw = list(read_pcap_records(path))
    assert all(r.meta == {"input": "pcap", "format": "packet", "path": str(path.resolve())} for r in raw)
    assert len({r.event_id for r in raw}) == len(raw)
    parser = PacketParser()
    events = [parser.parse(r)[0] for r in raw]
    dns = [e for e in events if "dns" in e]
    queries = [e for e in dns if e["dns"]["type"] == "query"]
    answers = [e for e in dns if e["dns"]["type"] == "answer"]
    assert len(queries) == 222 and len(answers) == 212  # nDPI: 222 pkts <-> 212 pkts, all DNS
    assert {e["dns"]["question"]["registered_domain"] for e in dns} == {"pirate.sea"}
    assert len({e["dns"]["question"]["name"] for e in queries}) > 100  # the tunnel: ever new names
    assert all(e["dns"]["response_code"] for e in answers)
    assert any(e["dns"].get("answers") for e in answers)
    assert queries[0]["dns"]["question"] == {"name": "vaaaakardli.pirate.sea", "type": "NULL", "class": "IN",
                                             "registered_domain": "pirate.sea"}  # fmt: skip
    assert queries[0]["@timestamp"].startswith("2010-08-21T02:10:40.051")


def test_is_pcap_by_magic(datasets: Path, tmp_path: Path) -> None:
    assert is_pcap(_pcap(datasets, "tcp_scan.pcapng"))
    assert is_pcap(_pcap(datasets, "dns-tunnel-iodine.pcap"))
    text = tmp_path / "x.log"
    text.write_text("not a capture\n")
    assert not is_pcap(text)
    with pytest.raises(PcapError, match="not a readable pcap"):
        list(read_pcap_records(text))


def test_truncated_capture_keeps_what_was_read(datasets: Path, tmp_path: Path) -> None:
    data = _pcap(datasets, "dns-tunnel-iodine.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    table = FlowTable()
    records = [json.loads(r.raw) for r in read_pcap_records(cut, table=table)]
    assert 100 < sum(r["kind"] == "dns" for r in records) < 434
    assert sum(r["kind"] == "flow" for r in records) == 1


def test_live_capture_refused_when_not_enabled_or_no_interface() -> None:
    with pytest.raises(CaptureNotPermitted, match="disabled"):
        check_capture_permitted(PcapInputConfig(interface="lo", live=False))
    with pytest.raises(CaptureNotPermitted, match="no interface 'nosuch0'"):
        check_capture_permitted(PcapInputConfig(interface="nosuch0", live=True))


def test_packet_parser_refuses_other_input() -> None:
    parser = PacketParser()
    assert not parser.detect(b"<13>Jan  1 00:00:00 host app: hi")
    with pytest.raises(ParseError, match="unknown packet summary kind"):
        parser.parse(RawRecord(raw=b'{"kind":"arp"}', source="t", position=0))
    with pytest.raises(ParseError, match="flow summary incomplete"):
        parser.parse(RawRecord(raw=b'{"kind":"flow"}', source="t", position=0))
