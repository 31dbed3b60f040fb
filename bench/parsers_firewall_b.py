"""Firewall/SIEM parser throughput on one core: prints lines/s for cisco_asa, checkpoint,
cef and leef over their dataset lines, replicated to ``--lines`` lines per parser.

Usage: ``python bench/parsers_firewall_b.py [--lines N] [--datasets DIR]``. Datasets
default to ``$SOC_DATASETS`` or ``/work/shared/datasets``; they are read in place.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.parsers.base import ParseError
from collectors.parsers.cef import CefParser
from collectors.parsers.checkpoint import CheckpointParser
from collectors.parsers.cisco_asa import CiscoAsaParser
from collectors.parsers.leef import LeefParser
from soc.event import RawRecord

RECEIVED = datetime(2020, 6, 1, tzinfo=UTC)


def dataset_lines(root: Path) -> dict[str, list[bytes]]:
    """Non-empty raw lines per parser name, from the shared datasets."""
    fw = root / "logs" / "firewall"
    lines: dict[str, list[bytes]] = {}
    for name in ("cisco_asa", "checkpoint", "cef"):
        lines[name] = [
            x
            for log in sorted((fw / name / "elastic-beats").glob("*.log"))
            for x in log.read_bytes().splitlines()
        ]
        lines[name] = [x for x in lines[name] if x.strip()]
    ini = (fw / "leef" / "wazuh-ruleset" / "panda_paps.ini").read_text(encoding="utf-8")
    leef = [m.group(1).encode() for m in re.finditer(r"pass = (.*)", ini)]
    # plus syslog-wrapped LEEF 2.0 with a hex delimiter
    leef += [
        b"<13>Jan 18 11:07:53 h LEEF:2.0|Lancope|StealthWatch|1.0|41|x5E|src=192.0.2.%d^dst=172.50.123.1^"
        b"sev=5^cat=anomaly^srcPort=81^dstPort=21^usrName=joe.black" % i
        for i in range(8)
    ]
    lines["leef"] = leef
    return lines


def bench(parser: object, lines: list[bytes], total: int) -> tuple[float, int, int]:
    """(lines/s, events, parse errors) for ``total`` lines cycled from ``lines``."""
    records = [
        RawRecord(
            raw=lines[i % len(lines)], source="bench", position=i, received=RECEIVED, meta={"timezone": "UTC"}
        )
        for i in range(total)
    ]
    parse = parser.parse  # type: ignore[attr-defined]
    events = errors = 0
    start = time.perf_counter()
    for rec in records:
        try:
            events += len(parse(rec))
        except ParseError:
            errors += 1
    elapsed = time.perf_counter() - start
    return total / elapsed, events, errors


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument(
        "--datasets", type=Path, default=Path(os.environ.get("SOC_DATASETS", "/work/shared/datasets"))
    )
    args = ap.parse_args()
    lines = dataset_lines(args.datasets)
    parsers = {
        "cisco_asa": CiscoAsaParser(),
        "checkpoint": CheckpointParser(),
        "cef": CefParser(),
        "leef": LeefParser(),
    }
    print(f"{'parser':<12} {'distinct':>8} {'lines':>9} {'lines/s':>10} {'MB/s':>7} {'errors':>7}")
    for name, parser in parsers.items():
        rate, _events, errors = bench(parser, lines[name], args.lines)
        avg = sum(map(len, lines[name])) / len(lines[name])
        mbs = rate * avg / 1e6
        print(f"{name:<12} {len(lines[name]):>8} {args.lines:>9} {rate:>10,.0f} {mbs:>7.1f} {errors:>7}")


if __name__ == "__main__":
    main()
