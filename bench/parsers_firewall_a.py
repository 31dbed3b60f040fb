"""Lines per second of the iptables, pfsense, fortigate and panos parsers on one core.

Reads the shared dataset lines in place ($SOC_DATASETS, default ../shared/datasets),
replicates them to ``--lines`` records and times ``parse`` over them, one parser at a
time, in this process (one core). Prints one row per parser.

    .venv/bin/python bench/parsers_firewall_a.py --lines 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.parsers.base import ParseError
from collectors.parsers.fortigate import FortigateParser
from collectors.parsers.iptables import IptablesParser
from collectors.parsers.panos import PanosParser
from collectors.parsers.pfsense import PfsenseParser
from soc.event import RawRecord

SOURCES = {
    IptablesParser: ("iptables/elastic-beats", "iptables/crowdsec-hub"),
    PfsenseParser: ("pfsense/crowdsec-hub",),
    FortigateParser: ("fortigate/elastic-beats",),
    PanosParser: ("panos/elastic-beats",),
}


def dataset_lines(root: Path, folders: tuple[str, ...]) -> list[bytes]:
    lines: list[bytes] = []
    for folder in folders:
        for log in sorted((root / "logs" / "firewall" / folder).rglob("*.log")):
            lines += [ln for ln in log.read_bytes().splitlines() if ln.strip()]
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000, help="records per parser (default 100000)")
    args = ap.parse_args()
    root = Path(os.environ.get("SOC_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    received = datetime(2022, 10, 1, tzinfo=UTC)
    print(f"{'parser':<10} {'lines':>8} {'errors':>7} {'seconds':>8} {'lines/s':>10}")
    for cls, folders in SOURCES.items():
        base = dataset_lines(root, folders)
        if not base:
            print(f"{cls.__name__}: no dataset lines under {root}", file=sys.stderr)
            continue
        records = [
            RawRecord(raw=base[i % len(base)], source="bench", position=i, received=received)
            for i in range(args.lines)
        ]
        parser = cls(timezone="UTC")
        errors = 0
        start = time.perf_counter()
        for record in records:
            try:
                parser.parse(record)
            except ParseError:
                errors += 1
        elapsed = time.perf_counter() - start
        rate = len(records) / elapsed
        print(f"{parser.name:<10} {len(records):>8} {errors:>7} {elapsed:>8.2f} {rate:>10,.0f}")


if __name__ == "__main__":
    main()
