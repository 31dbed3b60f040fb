"""Events per second through the Elasticsearch backend, and the bulk sizes used.

    .venv/bin/python bench/es_ingest.py --events 20000 [--batch 2000] [--url http://localhost:9200]

Without ``--url`` it starts osmem-server (in-memory; informational only) and also
prints the CPU time osmem and this process spent per event, which tells whether the
client or the server is the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers_es import PlainJsonNode, es_url, osmem_pid
from tests.helpers_store import auth_events


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a local process (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument(
        "--batch", type=int, default=2000, help="events per store.write (the engine's batch_size)"
    )
    ap.add_argument("--bulk-max-events", type=int, default=5000)
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    from soc.store.elasticsearch import ElasticsearchStore

    url = args.url or es_url()
    server_pid = None if args.url else osmem_pid()
    store = ElasticsearchStore(
        hosts=[url],
        index_prefix=f"bench{int(time.time())}",
        bulk_max_events=args.bulk_max_events,
        request_timeout_s=300,
        node_class=None if args.url else PlainJsonNode,
    )
    events = auth_events(args.events, seed=3)
    sizes: list[int] = []
    server_cpu = _cpu_s(server_pid) if server_pid else 0.0
    client_cpu = time.process_time()
    started = time.perf_counter()
    for i in range(0, len(events), args.batch):
        store.write(events[i : i + args.batch])
        sizes.extend(store.bulk_sizes)
        store.bulk_sizes = []
    elapsed = time.perf_counter() - started
    client_cpu = time.process_time() - client_cpu
    store.flush()
    print(f"server: {url} ({'osmem' if not args.url else 'cluster'})")
    print(f"events: {args.events}  stored: {store.count()}  seconds: {elapsed:.2f}")
    print(f"events/s: {args.events / elapsed:,.0f}")
    print(
        f"bulk requests: {len(sizes)}  events per bulk: min {min(sizes)} "
        f"median {statistics.median(sizes):.0f} max {max(sizes)} "
        f"(batch {args.batch}, bulk_max_events {args.bulk_max_events})"
    )
    per_event = f"CPU per event: client {client_cpu / args.events * 1e6:,.0f} us"
    if server_pid:
        server_cpu = _cpu_s(server_pid) - server_cpu
        per_event += f", osmem {server_cpu / args.events * 1e6:,.0f} us"
    print(per_event)
    store.close()


if __name__ == "__main__":
    main()
