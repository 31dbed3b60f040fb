"""NetFlow / pcap throughput on one core: prints flows/s decoded (NetFlow v9 and IPFIX, from
the shared elastic-beats captures, replayed as many times as asked), flows/s through the
``netflow`` parser, and packets/s read from pcap files into flow and DNS records.

Usage: ``python bench/netflow.py [--repeat N]`` (default 2,000 replays of each export capture).
Needs the shared datasets (``SOC_DATASETS``, default ``../shared/datasets``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.inputs.netflow_decode import NetflowDecoder
from collectors.inputs.pcap import FlowTable, read_pcap_records
from collectors.parsers.netflow import NetflowParser
from soc.event import RawRecord

DATASETS = Path(os.environ.get("SOC_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
NETFLOW = DATASETS / "logs/network/netflow/elastic-beats"
PCAPS = DATASETS / "logs/network/pcap"


def udp_payloads(path: Path) -> list[tuple[bytes, str]]:
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether  # noqa: F401
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        return [(bytes(p[UDP].payload), f"{p[IP].src}:{p[UDP].sport}") for p in reader if UDP in p]


def bench_decode(name: str, packets: list[tuple[bytes, str]], repeat: int) -> list[dict]:
    dec = NetflowDecoder()
    flows: list[dict] = []
    for payload, peer in packets:  # templates first, outside the timing
        flows.extend(dec.decode(payload, peer))
    t0 = time.perf_counter()
    n = 0
    for _ in range(repeat):
        for payload, peer in packets:
            n += len(dec.decode(payload, peer))
    dt = time.perf_counter() - t0
    print(f"decode {name:40s} {n:>9,} flows  {n / dt:>11,.0f} flows/s")
    return flows


def bench_parse(flows: list[dict], repeat: int) -> None:
    parser = NetflowParser()
    records = [RawRecord(raw=json.dumps(f, separators=(",", ":")).encode(), source="netflow:x", position=-1)
               for f in flows]  # fmt: skip
    t0 = time.perf_counter()
    n = 0
    for _ in range(repeat):
        for r in records:
            n += len(parser.parse(r))
    dt = time.perf_counter() - t0
    print(f"parse  {'netflow (JSON -> ECS)':40s} {n:>9,} flows  {n / dt:>11,.0f} flows/s")


def bench_pcap(path: Path) -> None:
    table = FlowTable()
    t0 = time.perf_counter()
    n = sum(1 for _ in read_pcap_records(path, table=table))
    dt = time.perf_counter() - t0
    packets = table.counters.get("packets", 0)
    print(f"pcap   {path.name:40s} {packets:>9,} packets {packets / dt:>10,.0f} packets/s  ({n} records)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2000)
    args = ap.parse_args()
    all_flows: list[dict] = []
    for name in ("ipfix_cisco.pcap", "netflow9_ubiquiti_edgerouter.pcap"):
        all_flows += bench_decode(name, udp_payloads(NETFLOW / name), args.repeat)
    bench_parse(all_flows, max(1, args.repeat // 10))
    for pcap in ("ndpi/dns-tunnel-iodine.pcap", "ndpi/tcp_scan.pcapng", "zeek-traces/wikipedia.pcap"):
        if (PCAPS / pcap).exists():
            bench_pcap(PCAPS / pcap)


if __name__ == "__main__":
    main()
