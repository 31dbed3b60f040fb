"""Network parser throughput on one core: prints lines/s for ``zeek`` (JSON, TSV) and
``suricata`` (EVE) per line kind.

Usage: ``python bench/parsers_network.py [--lines N]`` (default 100,000 lines per case).
The lines are realistic samples (Zeek conn/dns/http/ssl, EVE alert/flow/dns/http/tls)
with the varying fields (time, ports, addresses) changed per line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.parsers.suricata import SuricataParser
from collectors.parsers.zeek import ZeekParser
from soc.event import RawRecord

ZEEK_JSON = {
    "conn": {
        "ts": 0,
        "uid": "CAcJw21BbVedgFnYH3",
        "id.orig_h": "192.168.86.167",
        "id.orig_p": 0,
        "id.resp_h": "192.168.86.1",
        "id.resp_p": 53,
        "proto": "udp",
        "service": "dns",
        "duration": 0.076967,
        "orig_bytes": 75,
        "resp_bytes": 178,
        "conn_state": "SF",
        "local_orig": True,
        "local_resp": True,
        "missed_bytes": 0,
        "history": "Dd",
        "orig_pkts": 1,
        "orig_ip_bytes": 103,
        "resp_pkts": 1,
        "resp_ip_bytes": 206,
        "tunnel_parents": [],
    },
    "dns": {
        "ts": 0,
        "uid": "CAcJw21BbVedgFnYH3",
        "id.orig_h": "192.168.86.167",
        "id.orig_p": 0,
        "id.resp_h": "192.168.86.1",
        "id.resp_p": 53,
        "proto": "udp",
        "trans_id": 15209,
        "rtt": 0.07,
        "query": "dd625ffb4fc54735b281862aa1cd6cd4.us-west1.gcp.cloud.es.io",
        "qclass": 1,
        "qclass_name": "C_INTERNET",
        "qtype": 1,
        "qtype_name": "A",
        "rcode": 0,
        "rcode_name": "NOERROR",
        "AA": False,
        "TC": False,
        "RD": True,
        "RA": True,
        "Z": 0,
        "answers": ["proxy-production-us-west1.gcp.cloud.es.io", "35.199.178.4"],
        "TTLs": [119.0, 59.0],
        "rejected": False,
    },
    "http": {
        "ts": 0,
        "uid": "CCNp8v1SNzY7v9d1Ih",
        "id.orig_h": "10.178.98.102",
        "id.orig_p": 0,
        "id.resp_h": "17.253.5.203",
        "id.resp_p": 80,
        "trans_depth": 1,
        "method": "GET",
        "host": "ocsp.apple.com",
        "uri": "/ocsp04-aaica02/ME4wTKADAgEAMEUwQzBBMAkGBSsOAwIaBQAEFNqvF",
        "version": "1.1",
        "user_agent": "com.apple.trustd/2.0",
        "request_body_len": 0,
        "response_body_len": 3735,
        "status_code": 200,
        "status_msg": "OK",
        "tags": [],
        "resp_fuids": ["F5zuip1tSwASjNAHy7"],
    },
    "ssl": {
        "ts": 0,
        "uid": "CAOvs1BMFCX2Eh0Y3",
        "id.orig_h": "10.178.98.102",
        "id.orig_p": 0,
        "id.resp_h": "35.199.178.4",
        "id.resp_p": 9243,
        "version": "TLSv12",
        "cipher": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "curve": "secp256r1",
        "server_name": "x.us-west1.gcp.cloud.es.io",
        "resumed": False,
        "established": True,
        "subject": "CN=*.gcp.cloud.es.io,O=Elasticsearch\\, Inc.,L=Mountain View,ST=California,C=US",
        "issuer": "CN=DigiCert SHA2 Secure Server CA,O=DigiCert Inc,C=US",
        "validation_status": "ok",
    },
}
TSV_FIELDS = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
]
TSV_TYPES = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "string",
    "interval",
    "count",
    "count",
    "string",
    "bool",
    "bool",
    "count",
    "string",
    "count",
    "count",
    "count",
    "count",
    "set[string]",
]
TSV_LINE = "{ts}\tCX6po61SVaO8po0uh8\t192.168.1.41\t{port}\t10.0.5.13\t80\ttcp\thttp\t1.201128\t0\t403\tSF\tT\tT\t0\t^hadf\t0\t0\t5\t615\t-"  # noqa: E501
EVE = {
    "alert": {
        "timestamp": "",
        "flow_id": 904992230150281,
        "in_iface": "en0",
        "event_type": "alert",
        "src_ip": "192.168.86.85",
        "src_port": 0,
        "dest_ip": "192.168.156.70",
        "dest_port": 443,
        "proto": "TCP",
        "tx_id": 0,
        "alert": {
            "action": "allowed",
            "gid": 1,
            "signature_id": 2024833,
            "rev": 3,
            "signature": "ET POLICY Observed IP Lookup Domain (l2 .io in TLS SNI)",
            "category": "Potential Corporate Privacy Violation",
            "severity": 1,
        },
        "tls": {"session_resumed": True, "sni": "l2.io", "version": "TLS 1.2"},
        "app_proto": "tls",
        "flow": {
            "pkts_toserver": 4,
            "pkts_toclient": 3,
            "bytes_toserver": 793,
            "bytes_toclient": 343,
            "start": "2018-07-05T15:07:19.659593-0400",
        },
    },
    "flow": {
        "timestamp": "",
        "flow_id": 1828507008887644,
        "event_type": "flow",
        "src_ip": "10.0.0.1",
        "src_port": 0,
        "dest_ip": "10.0.0.2",
        "dest_port": 547,
        "proto": "UDP",
        "flow": {
            "pkts_toserver": 1,
            "pkts_toclient": 0,
            "bytes_toserver": 110,
            "bytes_toclient": 0,
            "start": "2018-07-05T15:51:23.453196-0400",
            "end": "2018-07-05T15:51:23.453196-0400",
            "age": 0,
            "state": "new",
            "reason": "timeout",
            "alerted": False,
        },
    },
    "dns": {
        "timestamp": "",
        "flow_id": 885455453886936,
        "in_iface": "enp0s3",
        "event_type": "dns",
        "src_ip": "10.0.2.3",
        "src_port": 53,
        "dest_ip": "10.0.2.15",
        "dest_port": 0,
        "proto": "UDP",
        "dns": {
            "version": 2,
            "type": "answer",
            "id": 51803,
            "flags": "8180",
            "qr": True,
            "rd": True,
            "ra": True,
            "rcode": "NOERROR",
            "rrname": "google.com",
            "rrtype": "A",
            "answers": [{"rrname": "google.com", "rrtype": "A", "ttl": 299, "rdata": "172.217.11.46"}],
        },
    },
    "http": {
        "timestamp": "",
        "flow_id": 2115002772430095,
        "in_iface": "en0",
        "event_type": "http",
        "src_ip": "192.168.86.85",
        "src_port": 0,
        "dest_ip": "192.168.86.28",
        "dest_port": 63963,
        "proto": "TCP",
        "tx_id": 0,
        "http": {
            "hostname": "192.168.86.28",
            "url": "/dd.xml?a=1",
            "http_user_agent": "Mozilla/5.0",
            "http_content_type": "text/xml",
            "http_method": "GET",
            "protocol": "HTTP/1.1",
            "status": 200,
            "length": 1155,
        },
    },
}


def zeek_json_lines(kind: str, n: int) -> list[bytes]:
    obj = dict(ZEEK_JSON[kind])
    out = []
    for i in range(n):
        obj["ts"] = 1547188415.857497 + i * 0.01
        obj["id.orig_p"] = 1024 + i % 60000
        out.append(json.dumps(obj, separators=(",", ":")).encode())
    return out


def eve_lines(kind: str, n: int) -> list[bytes]:
    obj = dict(EVE[kind])
    out = []
    for i in range(n):
        obj["timestamp"] = f"2018-07-05T15:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000000:06d}-0400"
        obj["src_port" if kind != "dns" else "dest_port"] = 1024 + i % 60000
        out.append(json.dumps(obj, separators=(",", ":")).encode())
    return out


def run(label: str, parse: Callable[[RawRecord], list], records: list[RawRecord]) -> None:
    start = time.perf_counter()
    events = 0
    for r in records:
        events += len(parse(r))
    took = time.perf_counter() - start
    print(f"{label:<24} {len(records) / took:>10,.0f} lines/s  ({events} events in {took:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    n = ap.parse_args().lines
    zeek, suricata = ZeekParser(), SuricataParser()
    print(f"{n} lines per case, one core, Python {sys.version.split()[0]}")
    for kind in ZEEK_JSON:
        recs = [
            RawRecord(raw=line, source="bench", position=i, meta={"zeek_log": kind})
            for i, line in enumerate(zeek_json_lines(kind, n))
        ]
        run(f"zeek json {kind}", zeek.parse, recs)
    meta = {"zeek_log": "conn", "zeek_fields": TSV_FIELDS, "zeek_types": TSV_TYPES}
    recs = [
        RawRecord(
            raw=TSV_LINE.format(ts=1692161643.549491 + i, port=1024 + i % 60000).encode(),
            source="bench",
            position=i,
            meta=meta,
        )
        for i in range(n)
    ]
    run("zeek tsv conn", zeek.parse, recs)
    for kind in EVE:
        recs = [RawRecord(raw=line, source="bench", position=i) for i, line in enumerate(eve_lines(kind, n))]
        run(f"suricata eve {kind}", suricata.parse, recs)
    mixed = zeek_json_lines("conn", n // 2) + eve_lines("alert", n // 2)
    start = time.perf_counter()
    for line in mixed:
        zeek.detect(line) or suricata.detect(line)
    took = time.perf_counter() - start
    print(f"{'detect (zeek+suricata)':<24} {len(mixed) / took:>10,.0f} lines/s")


if __name__ == "__main__":
    main()
