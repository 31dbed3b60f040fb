"""Auth-log file ingest through the full pipeline (spool, parse, enrich, Sigma
detection, DuckDB store, alerts): sustained events/s and peak memory.

    python bench/ingest.py --lines 1000000 [--cores 1] [--keep DIR]

Pins itself to one core by default (the foundation's goal: 20,000 events/s on one core).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.file import FileInput, FileInputConfig
from soc.config import default_config_path, load_config
from soc.demo import bulk_auth_lines
from soc.pipeline.engine import Engine


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=1, help="CPU cores to pin to (0 = no pinning)")
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument(
        "--keep", type=Path, default=None, help="data directory to keep (default: a temp dir)"
    )
    args = parser.parse_args()
    if args.cores:
        os.sched_setaffinity(0, set(range(args.cores)))

    with tempfile.TemporaryDirectory(prefix="soc-bench-") as tmp:
        root = args.keep or Path(tmp)
        log = Path(tmp) / "auth.log"
        started = time.perf_counter()
        with open(log, "w", encoding="utf-8") as fh:
            for chunk in range(0, args.lines, 100_000):
                fh.write(
                    "\n".join(
                        bulk_auth_lines(
                            min(100_000, args.lines - chunk), start_epoch=1_795_000_000 + chunk // 50
                        )
                    )
                )
                fh.write("\n")
        size_mb = log.stat().st_size / 1e6
        print(f"generated {args.lines:,} lines ({size_mb:.0f} MB) in {time.perf_counter() - started:.1f}s")

        os.environ["SOC__PIPELINE__BATCH_SIZE"] = str(args.batch_size)
        loaded = load_config(default_config_path())
        source = FileInput(
            FileInputConfig(name="bench", paths=(str(log),), follow=False, format="linux_auth")
        )
        engine = Engine(
            loaded, root / "data", inputs=[source], serve_api=False, checkpoints=MemoryCheckpoints()
        )
        samples: list[tuple[float, int]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(1.0):
                samples.append((time.perf_counter(), engine.counters.stored))

        t0 = time.perf_counter()
        engine.start()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        engine.wait_inputs()
        t_read = time.perf_counter() - t0
        engine.wait_drained(3600)
        elapsed = time.perf_counter() - t0
        done.set()
        c = engine.counters
        registry = engine.metrics.registry
        process_s = registry.get_sample_value("soc_pipeline_batch_seconds_sum") or 0.0
        write_s = registry.get_sample_value("soc_store_write_seconds_sum") or 0.0
        engine.stop()
        size = sum(f.stat().st_size for f in (root / "data").rglob("*") if f.is_file())

    rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in itertools.pairwise(samples) if b[0] > a[0]]
    steady = sorted(rates)[len(rates) // 2] if rates else c.stored / elapsed
    print(f"pinned to {args.cores or os.cpu_count()} core(s), batch size {args.batch_size}")
    print(f"events stored:        {c.stored:,} (duplicates {c.duplicates}, dead letters {c.dead_letters})")
    print(f"alerts:               {c.alerts_created} created, {c.alerts_updated} updated")
    print(f"inputs read all in:   {t_read:.1f}s")
    print(f"total time:           {elapsed:.1f}s")
    print(f"sustained events/s:   {c.stored / elapsed:,.0f} (overall), {steady:,.0f} (median of 1-s samples)")
    print(f"stage time:           parse+normalize+enrich+detect {process_s:.1f}s "
          f"({process_s / max(c.stored, 1) * 1e6:.0f} us/event), store write {write_s:.1f}s "
          f"({write_s / max(c.stored, 1) * 1e6:.0f} us/event)")
    print(f"peak RSS:             {peak_rss_mb():,.0f} MB")
    print(f"data directory size:  {size / 1e6:,.0f} MB")
    return 0 if c.stored == args.lines else 1


if __name__ == "__main__":
    sys.exit(main())
