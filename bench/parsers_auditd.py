"""Lines per second of the auditd parser on one core, per line and per joined event.

Reads the auditd dataset lines in place ($SOC_DATASETS, default ../shared/datasets),
replicates them to ``--lines`` records and times ``AuditdParser.parse`` over them in
this process (one core). A second row times the same lines joined by audit serial
(:class:`collectors.inputs.multiline.AuditSerialJoiner`, joining included), counted
in input lines.

    .venv/bin/python bench/parsers_auditd.py --lines 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.inputs.multiline import AuditSerialJoiner
from collectors.parsers.auditd import AuditdParser
from collectors.parsers.base import ParseError
from soc.event import RawRecord


def dataset_lines(root: Path) -> list[bytes]:
    lines: list[bytes] = []
    for log in sorted((root / "logs" / "endpoint" / "auditd").rglob("*.log")):
        lines += [ln for ln in log.read_bytes().splitlines() if ln.strip()]
    return lines


def run(parser: AuditdParser, records: list[RawRecord]) -> tuple[int, float]:
    errors = 0
    start = time.perf_counter()
    for rec in records:
        try:
            parser.parse(rec)
        except ParseError:
            errors += 1
    return errors, time.perf_counter() - start


def row(mode: str, lines: int, records: int, errors: int, secs: float) -> None:
    print(f"{mode:<14} {lines:>8} {records:>8} {errors:>7} {secs:>8.2f} {lines / secs:>10.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100_000, help="input lines (default 100000)")
    args = ap.parse_args()
    root = Path(os.environ.get("SOC_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
    base = dataset_lines(root)
    if not base:
        sys.exit(f"no auditd dataset lines under {root}")
    received = datetime(2022, 10, 1, tzinfo=UTC)
    lines = [base[i % len(base)] for i in range(args.lines)]
    parser = AuditdParser(timezone="UTC")
    print(f"{'mode':<14} {'lines':>8} {'records':>8} {'errors':>7} {'seconds':>8} {'lines/s':>10}")

    records = [RawRecord(raw=ln, source="bench", position=i, received=received) for i, ln in enumerate(lines)]
    errors, secs = run(parser, records)
    row("per line", len(lines), len(records), errors, secs)

    start = time.perf_counter()
    joiner = AuditSerialJoiner()
    triples = []
    pos = 0
    for ln in lines:
        triples.append((pos, ln, pos + len(ln) + 1))
        pos += len(ln) + 1
    joined = joiner.feed(triples) + joiner.flush()
    records = [RawRecord(raw=raw, source="bench", position=off, received=received) for off, raw, _ in joined]
    errors, _ = run(parser, records)
    secs = time.perf_counter() - start
    row("audit_serial", len(lines), len(records), errors, secs)


if __name__ == "__main__":
    main()
