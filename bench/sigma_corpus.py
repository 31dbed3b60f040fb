"""Benchmark: the full SigmaHQ corpus over >= 100,000 Windows events.

Usage: taskset -c 1 .venv/bin/python bench/sigma_corpus.py [--events N]
Prints the corpus load+compile time cold (empty parse cache) and cached, the RSS with the
corpus compiled, how many rules are evaluated in full per event (after the log source,
event code and literal indexes), events/s for matching alone and for parse + match
(FileReader + Processor over the shared Windows samples, replicated to N events), and
peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# this file is named like the pySigma package `sigma`: keep bench/ off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from collectors.inputs.readers import FileReader  # noqa: E402
from detectors.sigma import SigmaDetector  # noqa: E402
from detectors.sigma.engine import load_config  # noqa: E402
from soc.pipeline.processor import BatchResult, ParserSet, Processor  # noqa: E402

DATASETS = Path(os.environ.get("SOC_DATASETS", ROOT.parent / "shared" / "datasets"))
CORPUS_DIRS = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-compliance",
    "rules-placeholder",
]
WINDOWS = DATASETS / "logs" / "endpoint" / "windows"


def _rss_mb() -> float:
    """Current resident set size (Linux ``/proc``; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    paths = [DATASETS / "sigma" / d for d in CORPUS_DIRS]
    if not paths[0].is_dir() or not WINDOWS.is_dir():
        sys.exit(f"SigmaHQ corpus or Windows samples not found under {DATASETS} (set SOC_DATASETS)")
    with tempfile.TemporaryDirectory() as cache:
        cfg = {**load_config(), "cache_dir": cache}
        t, c = time.perf_counter(), time.process_time()
        SigmaDetector(paths, config=cfg)
        cold, cold_cpu = time.perf_counter() - t, time.process_time() - c
        gc.collect()  # the cold detector is garbage: not part of the corpus's RSS
        t, c = time.perf_counter(), time.process_time()
        det = SigmaDetector(paths, config=cfg)
        warm, warm_cpu = time.perf_counter() - t, time.process_time() - c
    s = det.stats
    total = s["rules_loaded"] + sum(1 for e in det.errors if e.stage == "load")
    print(
        f"corpus: {s['rules_compiled']}/{total} compiled ({s['rules_compiled'] / total:.2%}), "
        f"{s['rules_inactive']} without a mapped log source, {s['rules_prefiltered']} prefiltered"
    )
    print(
        f"load+compile cold: {cold:.2f} s; cached: {warm:.2f} s "
        f"(CPU time {cold_cpu:.2f} s; {warm_cpu:.2f} s)"
    )
    print(f"RSS with the corpus compiled: {_rss_mb():.0f} MB")

    files = sorted(
        p for p in WINDOWS.rglob("*") if p.suffix in (".evtx", ".json") and ".golden" not in p.name
    )
    records = [r for f in files for r in FileReader(f).records()]
    reps = -(-args.events // len(records))
    records = (records * reps)[: args.events]
    processor = Processor(ParserSet(timezone="UTC"))
    t, c = time.perf_counter(), time.process_time()
    result = BatchResult()
    for i in range(0, len(records), 1000):
        processor.parse(records[i : i + 1000], result)
    parse_s, parse_cpu = time.perf_counter() - t, time.process_time() - c
    events = result.events
    observe = det.observe
    t, c = time.perf_counter(), time.process_time()
    matches = sum(len(observe(e)) for e in events)
    match_s, match_cpu = time.perf_counter() - t, time.process_time() - c
    n = len(events)
    print(f"{n} Windows events ({len(files)} sample files replicated), {matches} matches")
    if hasattr(det, "candidates"):
        sample = events[:: max(1, n // 5000)]
        evaluated = sum(len(det.candidates(e)) for e in sample) / len(sample)
        print(f"rules evaluated per event: {evaluated:.1f} (of {s['rules_compiled']} compiled)")
    # CPU time too: on a loaded machine wall-clock rates mostly measure the other jobs
    print(f"matching alone: {n / match_s:,.0f} events/s (by CPU time {n / match_cpu:,.0f})")
    print(
        f"parse + match:  {n / (parse_s + match_s):,.0f} events/s (by CPU time "
        f"{n / (parse_cpu + match_cpu):,.0f}; parse alone {n / parse_s:,.0f} events/s)"
    )
    print(
        f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
        f"(with the {len(records)} records and {n} parsed events held in memory)"
    )


if __name__ == "__main__":
    main()
