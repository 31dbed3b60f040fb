"""Benchmark the alert queue and alert detail with many alerts in the state store.

Fills a fresh state store with ``--alerts`` alerts (bulk ``executemany`` in one
transaction per 100,000; 20 agencies, statuses, severities, security levels and
criticalities drawn at random, ``--evidence`` evidence rows each), then measures
p50/p95/p99 latency of

* the queue: ``status=new``, ``min_severity=high``, one agency, sorted by risk then
  last seen, first page of 50 (a different agency each request), and
* an alert's detail (a random alert),

at the repository level (``AlertRepository.list`` / ``get``) and through the real
FastAPI app over HTTP (uvicorn in its own process on a free port, as the engine serves
it; an httpx client with the bearer token). Target: p95 <= 100 ms. ``--keep FILE``
fills a state store once and reuses it on later runs.

    .venv/bin/python bench/alerts_api.py --alerts 1000000 [--keep /tmp/alerts-1m.db]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detectors.base import severity_rank
from soc.alerts import AlertFilter, AlertRepository
from soc.alerts.classify import incident_type_from_tags, risk_score
from soc.alerts.schema import install_planner_stats
from soc.event import format_ts
from soc.state import StateStore

TOKEN = "bench-token"
AGENCIES = [f"agency-{i:02d}" for i in range(20)]
STATUSES = ["new"] * 4 + ["acknowledged"] * 2 + ["in_progress", "escalated"] + ["closed"] * 2
SEVERITIES = ["low"] * 4 + ["medium"] * 3 + ["high"] * 2 + ["critical"]
CRITICALITIES = [None, "low", "medium", "high", "critical"]
TAGS = [
    ["attack.credential_access", "attack.t1110"],
    ["attack.impact", "attack.t1486"],
    ["attack.initial_access", "attack.t1566.001"],
    ["attack.exfiltration", "attack.t1048"],
    ["attack.discovery", "attack.t1087"],
]
START = datetime(2026, 11, 1, tzinfo=UTC)
COLUMNS = (
    "id, rule_id, rule_title, rule_type, severity, severity_rank, status, group_key, host, user, source_ip, "
    "agency_id, agency_name, tags, first_seen, last_seen, count, created, updated, risk_score, "
    "security_level, criticality, system, incident_type, mitre_tactics, mitre_techniques, entities, assignee"
)


QUEUE_SHAPES: dict[str, tuple[AlertFilter, str]] = {
    "status=new min_severity=high, sort last_seen": (
        AlertFilter(status="new", min_severity="high"),
        "last_seen",
    ),
    "status=new min_severity=high, sort risk": (AlertFilter(status="new", min_severity="high"), "risk"),
    "status=new,acknowledged,in_progress, sort severity": (
        AlertFilter(status="new,acknowledged,in_progress"),
        "severity",
    ),
    "agency + new + high, sort last_seen": (
        AlertFilter(agency_id="agency-05", status="new", min_severity="high"),
        "last_seen",
    ),
    "assignee=lan, sort last_seen": (AlertFilter(assignee="lan"), "last_seen"),
    "incident_type=ransomware, sort risk": (AlertFilter(incident_type="ransomware"), "risk"),
    "min_risk=90, sort last_seen": (AlertFilter(min_risk=90), "last_seen"),
    "no filter, sort last_seen": (AlertFilter(), "last_seen"),
}


def fill(state: StateStore, n: int, evidence: int, rng: random.Random) -> list[str]:
    """Insert ``n`` alerts; returns a sample of their ids. The secondary indexes are
    dropped during the load and built once at the end (the usual bulk-load order)."""
    sample: list[str] = []
    indexes = state.query(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alerts' AND sql IS NOT NULL"
    )
    with state.transaction() as conn:
        for row in indexes:
            conn.execute(f"DROP INDEX {row['name']}")
    placeholders = ",".join("?" * len(COLUMNS.split(",")))
    batch = 100_000
    tag_facts = [(orjson.dumps(t).decode(), incident_type_from_tags(t)) for t in TAGS]
    risks = {
        (s, lv, c): risk_score(s, lv, c) for s in SEVERITIES for lv in range(1, 6) for c in CRITICALITIES
    }
    stamps = [format_ts(START + timedelta(seconds=60 * m)) for m in range(30 * 1440)]
    for first in range(0, n, batch):
        rows = []
        ev_rows = []
        count = min(n, first + batch) - first
        severities = rng.choices(SEVERITIES, k=count)
        statuses = rng.choices(STATUSES, k=count)
        crits = rng.choices(CRITICALITIES, k=count)
        agencies = rng.choices(AGENCIES, k=count)
        assignees = rng.choices([None, None, "lan", "minh"], k=count)
        for j in range(count):
            i = first + j
            alert_id = rng.getrandbits(128).to_bytes(16, "big").hex()
            severity = severities[j]
            level = 1 + i % 5
            crit = crits[j]
            tags_json, incident_type = tag_facts[i % len(TAGS)]
            seen = stamps[int(rng.random() * len(stamps))]
            ip = f"203.0.{i % 251}.{i % 241}"
            host = f"host-{i % 5000}"
            rows.append((
                alert_id, f"rule-{i % 300}", f"Rule {i % 300}", "sigma", severity, severity_rank(severity),
                statuses[j], f'{{"host.name":"{host}","source.ip":"{ip}"}}', host, "admin",
                ip, agencies[j], agencies[j].upper(), tags_json, seen, seen, 1 + i % 50, seen,
                seen, risks[(severity, level, crit)], level, crit, f"system-{i % 40}",
                incident_type, "[]", "[]", f'{{"hosts":["{host}"],"ips":["{ip}"]}}', assignees[j],
            ))  # fmt: skip
            for k in range(evidence):
                ev_rows.append((alert_id, f"{alert_id}-{k}", k + 1))
            if len(sample) < 10_000 and i % 50 == 0:
                sample.append(alert_id)
        with state.transaction() as conn:
            conn.executemany(f"INSERT INTO alerts ({COLUMNS}) VALUES ({placeholders})", rows)
            conn.executemany("INSERT INTO alert_evidence(alert_id, event_id, seq) VALUES (?,?,?)", ev_rows)
    with state.transaction() as conn:
        for row in indexes:
            conn.execute(row["sql"])
    return sample


def percentiles(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100, method="inclusive")
    return f"p50 {q[49]:7.2f} ms   p95 {q[94]:7.2f} ms   p99 {q[98]:7.2f} ms   (n={len(samples)})"


def measure(fn: Callable[[int], object], runs: int) -> list[float]:
    for i in range(min(10, runs)):  # warm-up
        fn(i)
    out = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(path: Path, port: int) -> int:
    """The API over an existing state store, as the engine serves it (own process)."""
    import uvicorn

    from soc.api import ApiContext, create_app
    from soc.metrics import Metrics
    from soc.store.memory import MemoryStore

    repo = AlertRepository(StateStore(path))
    app = create_app(ApiContext(store=MemoryStore(), alerts=repo, metrics=Metrics(), token=TOKEN))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    return 0


def sample_ids(state: StateStore) -> list[str]:
    rows = state.query("SELECT id FROM alerts WHERE rowid % 97 = 0 LIMIT 10000")
    return [row["id"] for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1_000_000)
    parser.add_argument("--evidence", type=int, default=2, help="evidence rows per alert")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="state store file to fill once and reuse (default: a temp file)",
    )
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve, args.port)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "state.db"
        return run(path, args)


def run(path: Path, args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    state = StateStore(path)
    repo = AlertRepository(state)
    have = state.query("SELECT count(*) AS n FROM alerts")[0]["n"]
    if have >= args.alerts:
        print(f"reusing {path}: {have:,} alerts")
    else:
        t0 = time.perf_counter()
        fill(state, args.alerts - have, args.evidence, rng)
        took = time.perf_counter() - t0
        size = path.stat().st_size / 1e6
        print(f"filled {args.alerts:,} alerts ({args.evidence} evidence rows each) in {took:.1f} s "
              f"({args.alerts / took:,.0f} alerts/s); state.db {size:,.0f} MB")  # fmt: skip
    with state.transaction() as conn:  # measure with the statistics the engine installs
        conn.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'alerts'")
        install_planner_stats(conn)
    sample = sample_ids(state)

    def queue_filter(i: int) -> AlertFilter:
        return AlertFilter(status="new", min_severity="high", agency_id=AGENCIES[i % len(AGENCIES)])

    page, _ = repo.list(queue_filter(0), limit=50, sort="risk")
    print(f"queue page: {len(page)} alerts, risk {page[0].risk_score}..{page[-1].risk_score}")
    plan = state.query(
        "EXPLAIN QUERY PLAN SELECT * FROM alerts WHERE status IN ('new') AND agency_id = ? "
        "AND severity_rank >= 3 ORDER BY risk_score DESC, last_seen DESC, id DESC LIMIT 51",
        ("agency-00",),
    )
    print("plan: " + "; ".join(row["detail"] for row in plan))
    print("\nrepository (AlertRepository, same process):")
    q = measure(lambda i: repo.list(queue_filter(i), limit=50, sort="risk"), args.runs)
    print(f"  queue  {percentiles(q)}")
    d = measure(lambda i: repo.get(sample[i % len(sample)]), args.runs)
    print(f"  detail {percentiles(d)}")
    print("  other queue shapes (first page of 50):")
    for name, (flt, sort) in QUEUE_SHAPES.items():
        xs = measure(lambda i, f=flt, s=sort: repo.list(f, limit=50, sort=s), max(20, args.runs // 10))
        print(f"    {name:<44} {percentiles(xs)}")
    state.close()

    import httpx

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(path), "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the API server did not start")
                time.sleep(0.2)

            def http_queue(i: int) -> None:
                params = {
                    "status": "new",
                    "min_severity": "high",
                    "agency_id": AGENCIES[i % len(AGENCIES)],
                    "sort": "risk",
                    "limit": 50,
                }
                resp = client.get("/api/v1/triage/queue", params=params)
                assert resp.status_code == 200 and len(resp.json()["alerts"]) == 50, resp.text[:200]

            def http_detail(i: int) -> None:
                resp = client.get(f"/api/v1/alerts/{sample[i % len(sample)]}")
                assert resp.status_code == 200, resp.text[:200]

            print("\nHTTP (FastAPI + uvicorn in its own process, httpx client, bearer token):")
            hq = measure(http_queue, args.runs)
            print(f"  GET /api/v1/triage/queue?status=new&min_severity=high&agency_id=X&sort=risk&limit=50  "
                  f"{percentiles(hq)}")  # fmt: skip
            hd = measure(http_detail, args.runs)
            print(f"  GET /api/v1/alerts/{{id}}  {percentiles(hd)}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    worst = max(statistics.quantiles(x, n=100, method="inclusive")[94] for x in (q, d, hq, hd))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nworst p95 {worst:.2f} ms (target <= 100 ms): {'OK' if worst <= 100 else 'MISSED'}; "
          f"peak RSS of the benchmark process {rss:,.0f} MB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
