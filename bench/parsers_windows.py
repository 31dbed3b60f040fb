"""Benchmark the Windows parser: events/s per input shape, and EVTX read + parse, on one core.

Usage: ``.venv/bin/python bench/parsers_windows.py [--seconds 2]`` (datasets from
``SOC_DATASETS`` or ../shared/datasets). Prints one line per case.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.inputs.evtx import read_evtx_records
from collectors.parsers.windows import WindowsParser
from soc.event import RawRecord

REPO = Path(__file__).resolve().parents[1]
WIN = (
    Path(os.environ.get("SOC_DATASETS", REPO.parent / "shared" / "datasets"))
    / "logs"
    / "endpoint"
    / "windows"
)


def _records(raws: list[bytes]) -> list[RawRecord]:
    return [RawRecord(raw=r, source="bench", position=i) for i, r in enumerate(raws)]


def shapes() -> dict[str, list[RawRecord]]:
    otrf = WIN / "otrf-security-datasets"
    evtx_json = [r.raw for p in (WIN / "evtx-rs-samples").glob("*.evtx") for r in read_evtx_records(p)]
    winlogbeat = [
        json.dumps(d).encode()
        for g in (WIN / "winlogbeat").glob("*.evtx.golden.json")
        for d in json.loads(g.read_text())
    ]
    return {
        "evtx-rs json": _records(evtx_json),
        "winlogbeat": _records(winlogbeat),
        "nxlog (otrf)": _records(
            (otrf / "cmd_userinitmprlogonscript_batch_2020-10-1922471810.json").read_bytes().splitlines()
        ),
        "sentinel (otrf)": _records(
            (otrf / "securityauditing_log4shell_cve2021_44228_java_serialized_object_2022-05-13045400.json")
            .read_bytes()
            .splitlines()
        ),
    }


def bench_parse(records: list[RawRecord], seconds: float) -> float:
    parser = WindowsParser()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for rec in records:
            parser.parse(rec)
        n += len(records)
    return n / (time.perf_counter() - start)


def bench_evtx(seconds: float) -> tuple[float, float]:
    """(read only, read + parse) events/s over the evtx-rs samples."""
    paths = sorted((WIN / "evtx-rs-samples").glob("*.evtx"))
    parser = WindowsParser()
    rates = []
    for parse in (False, True):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for p in paths:
                for rec in read_evtx_records(p):
                    if parse:
                        parser.parse(rec)
                    n += 1
        rates.append(n / (time.perf_counter() - start))
    return rates[0], rates[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    for name, recs in shapes().items():
        print(f"parse {name:16s} {len(recs):5d} records  {bench_parse(recs, args.seconds):10,.0f} events/s")
    read, both = bench_evtx(args.seconds)
    print(f"evtx read only      {read:10,.0f} events/s")
    print(f"evtx read + parse   {both:10,.0f} events/s")


if __name__ == "__main__":
    main()
