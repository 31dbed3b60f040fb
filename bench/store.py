"""Benchmark the DuckDB event store: Arrow-batch appends and the common queries.

Prints append throughput (events/s, batch size), p50/p95 latency of each query
type over repeated runs, the file size and peak RSS. ``--dedup primary_key``
measures the PRIMARY KEY + INSERT OR IGNORE alternative; ``--rewrite`` also times
re-writing the last batches (all duplicates).

    .venv/bin/python bench/store.py --events 1000000
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from soc.event import format_ts, make_event_id
from soc.store import DuckDBStore, FieldFilter, Query, Sort

USERS = [f"user{i}" for i in range(500)] + ["root", "admin"]
IPS = [f"10.{a}.{b}.{c}" for a in range(4) for b in range(16) for c in range(64)]
ACTIONS = [
    ("ssh_login", "success", ["authentication", "session"]),
    ("ssh_login", "failure", ["authentication"]),
    ("sudo", "success", ["process"]),
    ("logout", "success", ["session"]),
]
START = datetime(2024, 3, 1, tzinfo=UTC)


def make_batch(first: int, n: int, rng: random.Random) -> list[dict]:
    out = []
    for i in range(first, first + n):
        action, outcome, category = ACTIONS[rng.randrange(4)]
        user, ip = rng.choice(USERS), rng.choice(IPS)
        ts = START + timedelta(milliseconds=i * 20)  # 50 events/s of log time, in order
        port = rng.randrange(1024, 65536)
        msg = f"{action} {outcome} for {user} from {ip} port {port} ssh2"
        out.append({
            "@timestamp": format_ts(ts),
            "message": msg,
            "event": {"id": make_event_id("file:/var/log/auth.log", i * 100, msg.encode()),
                      "ingested": format_ts(ts + timedelta(seconds=1)), "dataset": "linux.auth",
                      "action": action, "outcome": outcome, "kind": "event", "category": category},
            "host": {"name": f"host-{i % 40}", "hostname": f"host-{i % 40}"},
            "user": {"name": user},
            "source": {"ip": ip, "port": port},
            "process": {"name": "sshd", "pid": 1000 + i % 300},
            "log": {"file": {"path": "/var/log/auth.log"}, "offset": i * 100},
            "organization": {"id": f"org-{i % 3}"},
            "related": {"ip": [ip], "user": [user]},
        })
    return out


def timed(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--dedup", choices=["range", "primary_key"], default="range")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = Path(d) / "events.duckdb"
        store = DuckDBStore(path, dedup=args.dedup)
        rng = random.Random(1)
        build = write = 0.0
        tail = []
        for first in range(0, args.events, args.batch):
            t0 = time.perf_counter()
            batch = make_batch(first, min(args.batch, args.events - first), rng)
            t1 = time.perf_counter()
            store.write(batch)
            t2 = time.perf_counter()
            build += t1 - t0
            write += t2 - t1
            if first // args.batch % 10 == 9:
                print(f"  {first + len(batch):>9} events, last batch {len(batch) / (t2 - t1):,.0f} ev/s",
                      flush=True)
            tail = batch
        t0 = time.perf_counter()
        store.flush()
        ckpt = time.perf_counter() - t0
        print(f"append ({args.dedup} dedup): {args.events:,} events in batches of {args.batch:,}: "
              f"{args.events / write:,.0f} events/s (store.write only; event generation took {build:.1f}s); "
              f"final checkpoint {ckpt:.2f}s")
        t0 = time.perf_counter()
        res = store.write(tail)
        dt = time.perf_counter() - t0
        print(f"re-write of the last batch: {res.duplicates:,} duplicates in {dt * 1000:.0f} ms "
              f"({len(tail) / dt:,.0f} events/s)")

        end = START + timedelta(milliseconds=args.events * 20)
        hour = Query(start=end - timedelta(hours=1), end=end)
        term = Query(filters=[FieldFilter("user.name", "eq", "root")])
        cases: list[tuple[str, Callable[[], object]]] = [
            ("term filter count (user.name=root)", lambda: store.count(term)),
            ("term filter on a JSON field (process.pid=1007)",
             lambda: store.count(Query(filters=[FieldFilter("process.pid", "eq", 1007)]))),
            ("time range count (last hour)", lambda: store.count(hour)),
            ("count_by source.ip top 10", lambda: store.count_by(Query(), "source.ip", size=10)),
            ("count_by event.category, last hour", lambda: store.count_by(hour, "event.category")),
            ("histogram 5 min buckets", lambda: store.histogram(Query(), 300)),
            ("distinct_count user.name", lambda: store.distinct_count(Query(), "user.name")),
            ("search first page 100, @timestamp desc", lambda: store.search(Query(), size=100)),
            ("search first page 100, failures, source.port asc",
             lambda: store.search(Query(filters=[FieldFilter("event.outcome", "eq", "failure")]),
                                  size=100, sort=Sort("source.port", False))),
            ("get 100 ids", lambda: store.get([e["event"]["id"] for e in tail[:100]])),
        ]
        for name, fn in cases:
            p50, p95 = timed(fn, args.runs)
            print(f"{name:<52} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms")
        stats = store.stats()
        store.close()
        size = path.stat().st_size
        print(f"events stored: {stats.events:,}; file size {size / 2**20:,.1f} MiB "
              f"({size / max(stats.events, 1):.0f} bytes/event)")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak RSS: {rss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
