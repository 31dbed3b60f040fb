"""Stateful rules at ingest: events/s through ``StatefulDetector`` with the shipped rules,
bounded memory under a flood of distinct keys, and the cost of a checkpoint.

Usage::

    .venv/bin/python bench/stateful.py [--events N] [--distinct-ips K]

The timeline mixes SSH failures and successes, sudo commands and firewall flows (allowed
and denied) from ``K`` source addresses (default 200,000 distinct: a flood of keys), one
event per 10 ms of event time. Printed: events/s (CPU time), matches, groups held and
evicted per rule, peak RSS, and the time and size of a full and of an incremental
checkpoint into a fresh state store.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from detectors.stateful import StatefulDetector  # noqa: E402
from soc.event import Event, format_ts, set_field  # noqa: E402
from soc.state import StateStore  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def event(i: int, rng: random.Random, ips: int) -> Event:
    ts = T0 + timedelta(milliseconds=10 * i)
    ip = f"10.{(n := rng.randrange(ips)) >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
    kind = rng.random()
    e: Event = {"@timestamp": format_ts(ts)}
    if kind < 0.4:
        fields = {
            "event.action": "ssh_login",
            "event.outcome": "failure" if kind < 0.3 else "success",
            "event.category": ["authentication"],
            "source.ip": ip,
            "user.name": f"u{rng.randrange(50)}",
        }
    elif kind < 0.45:
        fields = {
            "process.name": "sudo",
            "system.auth.sudo.command": "/bin/id",
            "user.name": f"a{rng.randrange(30)}",
        }
    else:
        denied = kind < 0.6
        fields = {
            "event.category": ["network"],
            "event.type": ["connection", "denied" if denied else "allowed"],
            "observer.hostname": f"fw-{rng.randrange(5)}",
            "source.ip": ip,
            "destination.ip": f"203.0.113.{rng.randrange(255)}",
            "destination.port": rng.randrange(1, 1024),
            "source.bytes": rng.randrange(100, 100_000),
        }
    for k, v in fields.items():
        set_field(e, k, v)
    set_field(e, "event.id", f"bench-{i}")
    return e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--distinct-ips", type=int, default=200_000)
    args = ap.parse_args()
    rng = random.Random(7)
    events = [event(i, rng, args.distinct_ips) for i in range(args.events)]
    with tempfile.TemporaryDirectory() as tmp:
        state = StateStore(Path(tmp) / "state.db")
        det = StatefulDetector([REPO / "rules" / "stateful"], state=state)
        matches = 0
        started = time.process_time()
        for n, e in enumerate(events):
            matches += len(det.observe(e))
            if n % 5000 == 0:  # the engine ticks once a second (5,000 events: 50 s of event time here)
                matches += len(det.tick(T0))
        cpu = time.process_time() - started
        print(f"rules: {len(det.runtimes)}  events: {len(events)}  matches: {matches}")
        print(f"throughput: {len(events) / cpu:,.0f} events/s (CPU)")
        for rid, s in det.stats["per_rule"].items():
            title = det.runtimes[rid].rule.info.title
            print(f"  {title[:48]:48} groups={s['groups']:>6} evicted={s['groups_evicted']:>7} "
                  f"ids_evicted={s['event_ids_evicted']:>7} fired={s['fired']}")  # fmt: skip
        print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")
        t = time.perf_counter()
        full = det.checkpoint()
        size = sum(len(d.header) + sum(map(len, d.groups.values())) for d in full.deltas.values())
        full.commit(state)
        print(f"full checkpoint: {time.perf_counter() - t:.2f} s, {size / 1e6:.1f} MB")
        for e in [event(args.events + i, rng, args.distinct_ips) for i in range(1000)]:
            det.observe(e)
        t = time.perf_counter()
        inc = det.checkpoint()
        size = sum(len(d.header) + sum(map(len, d.groups.values())) for d in inc.deltas.values())
        inc.commit(state)
        print(f"incremental checkpoint after 1,000 events: {(time.perf_counter() - t) * 1000:.0f} ms, "
              f"{size / 1e6:.2f} MB")  # fmt: skip
        state.close()


if __name__ == "__main__":
    main()
