"""Benchmark the rule scheduler: many scheduled rules over a large embedded store.

Builds (or reuses, with ``--data-dir``) a DuckDB event store of ``--events`` synthetic auth
events (1,000 a second of log time, Arrow batch appends, progress on stderr; built in a child
process so the peak RSS printed is the scheduler's), then runs ``--rules`` scheduled rules on
the real APScheduler for ``--seconds``: Sigma query rules (SQL), count-threshold rules
(``count_by`` per window) and log-source flatline rules, in the ratio 6:3:1, with 60-second
windows. Each rule starts ``--backlog-minutes`` behind, so the run begins with a catch-up.
The scheduler's clock is mapped onto the data (its "now" walks through the newest minutes of
the store), so every window holds events. Prints rule runs (windows) per minute, p50/p95 run
time, the lag at the end, how long the catch-up took, errors, and peak RSS. Then feeds
``--flood-ips`` distinct source addresses to the streaming port-scan cardinality rule and
prints the memory its bounded state takes and the groups it evicted.

    .venv/bin/python bench/scheduler.py --events 1000000 --rules 500
    .venv/bin/python bench/scheduler.py --events 10000000 --rules 500 --data-dir /tmp/sched-10m
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sigma.collection import SigmaCollection

from detectors.base import Match, RuleInfo
from detectors.health import DeviceCounts, LogSource, LogSourceSilentRule
from detectors.sigma.query.hunt import Hunter
from detectors.sigma.query.scheduled import SigmaQueryRule
from soc.event import format_ts, utcnow
from soc.scheduling import RuleScheduler
from soc.state import StateStore
from soc.store import DuckDBStore, FieldFilter, Query

REPO = Path(__file__).resolve().parents[1]
RATE = 1000  # events per second of log time
HOSTS = 40
USERS = [f"user{i}" for i in range(300)] + ["root", "admin", "oracle", "postgres"]
ACTIONS = [("ssh_login", "success"), ("ssh_login", "failure"), ("sudo", "success"), ("logout", "success")]
END = datetime(2026, 11, 30, tzinfo=UTC)
WINDOW = timedelta(seconds=60)
SIGMA_CONFIG = {
    "fields": {},
    "logsources": [{"logsource": {"product": "bench"}, "conditions": {"event.dataset": "bench.auth"}}],
    "unmapped_logsource": "none",
}


def make_events(first: int, n: int, total: int) -> list[dict[str, Any]]:
    """Events ``first .. first+n`` of ``total``, deterministic (no per-event randomness, so the
    generator is cheap next to the store's write)."""
    start = END - timedelta(seconds=total // RATE + 1)
    second_text: dict[int, str] = {}
    out = []
    for i in range(first, first + n):
        sec, ms = divmod(i * 1000 // RATE, 1000)
        stamp = second_text.get(sec)
        if stamp is None:
            stamp = second_text[sec] = format_ts(start + timedelta(seconds=sec))[:-5]
        action, outcome = ACTIONS[(i * 7919) % 4]
        user = USERS[(i * 104729) % len(USERS)]
        ip = f"10.{i % 4}.{(i // 4) % 64}.{(i * 31) % 254 + 1}"
        host = f"host-{i % HOSTS:02d}"
        msg = f"{action} {outcome} for {user} from {ip} port {1024 + i % 60000}"
        out.append({
            "@timestamp": f"{stamp}.{ms:03d}Z",
            "message": msg,
            "event": {"id": f"bench-{i:012d}", "dataset": "bench.auth", "action": action,
                      "outcome": outcome, "kind": "event"},
            "host": {"name": host},
            "observer": {"hostname": host},
            "user": {"name": user},
            "source": {"ip": ip},
            "process": {"name": "sshd" if action != "sudo" else "sudo"},
            "input": {"type": "syslog-udp"},
        })
    return out


def build_store(path: Path, total: int, batch: int = 50_000) -> None:
    store = DuckDBStore(path, checkpoint_interval_s=120)
    t0 = time.perf_counter()
    for first in range(0, total, batch):
        store.write(make_events(first, min(batch, total - first), total))
        done = first + min(batch, total - first)
        rate = done / (time.perf_counter() - t0)
        print(f"\r  building: {done:,}/{total:,} events ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)
    store.flush()
    store.close()
    print(f"\n  built in {time.perf_counter() - t0:.0f}s", file=sys.stderr)


class CountThresholdRule:
    """Bench rule: sources with at least ``threshold`` failed logins in a window."""

    def __init__(self, n: int, threshold: int) -> None:
        self.rule = RuleInfo(id=f"bench.count.{n:03d}", title=f"failed logins >= {threshold}",
                             type="frequency", severity="medium")
        self.run_every = self.buffer_time = WINDOW
        self.query_delay = timedelta(0)
        self.threshold = threshold
        self.user = USERS[n % len(USERS)]

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        query = Query(filters=[FieldFilter("event.outcome", "eq", "failure"),
                               FieldFilter("user.name", "ne", self.user)], start=start, end=end)
        buckets = store.count_by(query, "source.ip", size=10)
        return [Match(rule=self.rule, events=[], timestamp=end, group={"source.ip": b.key},
                      details={"count": b.count}) for b in buckets if b.count >= self.threshold]

    def snapshot(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any]) -> None:
        return None


def sigma_rules(n: int) -> list[SigmaQueryRule]:
    hunter = Hunter(SIGMA_CONFIG)
    rules = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            detection = f"sel:\n    user.name: {USERS[i % len(USERS)]}\n    event.outcome: failure"
        elif kind == 1:
            detection = f"sel:\n    source.ip|startswith: '10.{i % 4}.{i % 64}.'\n    event.action: sudo"
        elif kind == 2:
            detection = f"sel:\n    message|contains: 'for user{i % 300} from'\n    event.outcome: success"
        else:
            detection = (f"sel:\n    process.name: sudo\n    user.name:\n      - root\n      - admin\n"
                         f"  filter:\n    host.name: host-{i % HOSTS:02d}")
        condition = "sel and not filter" if kind == 3 else "sel"
        text = (f"title: bench rule {i}\nid: 00000000-0000-4000-8000-{i:012d}\n"
                f"logsource: {{product: bench}}\ndetection:\n  {detection}\n  condition: {condition}\n"
                "level: low\n")
        rule = SigmaCollection.from_yaml(text).rules[0]
        rules.append(
            SigmaQueryRule(rule, hunter, run_every=WINDOW, buffer_time=WINDOW, query_delay=timedelta(0))
        )
    return rules


def flatline_rules(n: int) -> list[LogSourceSilentRule]:
    base = (FieldFilter("input.type", "eq", "syslog-udp"),)
    counts = DeviceCounts()  # the devices of one source share one count_by per window
    rules = []
    for i in range(n):
        device = f"host-{i:02d}" if i < HOSTS else f"silent-{i:03d}"
        source = LogSource("syslog-udp", base, "observer.hostname", device)
        rules.append(LogSourceSilentRule(source, timeframe=timedelta(minutes=10), run_every=WINDOW,
                                         query_delay=timedelta(0), counts=counts))
    return rules


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--rules", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=180.0, help="how long the scheduler runs")
    ap.add_argument("--backlog-minutes", type=int, default=10, help="windows each rule starts behind")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--memory-limit", default="2GB", help="DuckDB memory_limit")
    ap.add_argument("--data-dir", type=Path, default=None, help="keep (and reuse) the store here")
    ap.add_argument("--flood-ips", type=int, default=1_000_000,
                    help="distinct source IPs fed to the streaming port-scan cardinality rule (0: skip)")
    args = ap.parse_args()
    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="soc-bench-sched-")
        args.data_dir = Path(tmp.name)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = args.data_dir / f"events-{args.events}.duckdb"
    if not path.exists():
        child = multiprocessing.get_context("spawn").Process(target=build_store, args=(path, args.events))
        child.start()
        child.join()
        if child.exitcode != 0:
            sys.exit(f"building the store failed (exit {child.exitcode})")
    else:
        print(f"  reusing {path}", file=sys.stderr)

    store = DuckDBStore(path, memory_limit=args.memory_limit)
    newest = store.stats().newest
    assert newest is not None, "empty store"
    state_path = args.data_dir / "bench-state.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(state_path) + suffix).unlink(missing_ok=True)
    state = StateStore(state_path)
    n_sigma, n_count = args.rules * 6 // 10, args.rules * 3 // 10
    rules: list[Any] = [*sigma_rules(n_sigma), *(CountThresholdRule(i, 12) for i in range(n_count)),
                        *flatline_rules(args.rules - n_sigma - n_count)]

    # the scheduler's clock walks through the last --seconds of the data
    virtual_start = newest.replace(second=0, microsecond=0) - timedelta(seconds=args.seconds)
    real_start = utcnow()

    def now() -> datetime:
        return virtual_start + (utcnow() - real_start)

    backlog_end = format_ts(virtual_start.replace(second=0) - timedelta(minutes=args.backlog_minutes))
    with state.transaction() as conn:
        conn.executemany("INSERT INTO rule_schedule (rule_id, window_end) VALUES (?, ?)",
                         [(r.rule.id, backlog_end) for r in rules])
    alerts = [0]

    def sink(matches: Any) -> int:
        alerts[0] += len(matches)
        return len(matches)

    scheduler = RuleScheduler(store, state, sink, max_workers=args.workers, now=now,
                              catchup_horizon=timedelta(hours=6))
    scheduler.add(rules)
    n_flat = len(rules) - n_sigma - n_count
    print(f"  {len(rules)} rules ({n_sigma} sigma, {n_count} count, {n_flat} flatline), "
          f"{args.workers} workers, {args.seconds:.0f}s, backlog {args.backlog_minutes} min", file=sys.stderr)
    caught_up_at: list[float] = []
    max_lag = [0.0]
    done = threading.Event()

    def watch() -> None:
        t0 = time.monotonic()
        while not done.wait(1.0):
            lags = scheduler.lags().values()
            worst = max(lags, default=0.0)
            max_lag[0] = max(max_lag[0], worst)
            if not caught_up_at and lags and worst <= 2 * WINDOW.total_seconds():
                caught_up_at.append(time.monotonic() - t0)

    # real now -> scheduled rules start at once (they resume with a backlog)
    t0 = time.monotonic()
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    scheduler.start()
    time.sleep(args.seconds)
    scheduler.stop()
    elapsed = time.monotonic() - t0
    done.set()
    watcher.join()
    rows = state.query("SELECT status, duration_ms FROM rule_runs")
    ok = [r["duration_ms"] for r in rows if r["status"] == "ok"]
    errors = sum(1 for r in rows if r["status"] == "error")
    end_lags = scheduler.lags().values()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"store: {store.stats().events:,} events, {path.stat().st_size / 1e9:.2f} GB")
    print(f"rules: {len(rules)}; run for {elapsed:.0f}s with {args.workers} workers")
    print(f"rule runs (windows evaluated): {len(ok):,} = {len(ok) / elapsed * 60:,.0f} per minute; "
          f"errors {errors}; alerts {alerts[0]:,}; fires dropped while busy {scheduler.missed_fires}")
    p50 = statistics.median(ok) if ok else 0
    worst = max(ok, default=0)
    print(f"run time per window: p50 {p50:.1f} ms, p95 {pct(ok, 0.95):.1f} ms, max {worst:.1f} ms")
    end_max, end_p50 = max(end_lags, default=0), statistics.median(end_lags) if end_lags else 0
    print(f"lag (now - window end): max during run {max_lag[0]:.0f}s, at end max {end_max:.0f}s "
          f"p50 {end_p50:.0f}s; backlog of "
          f"{args.backlog_minutes} min caught up after "
          + (f"{caught_up_at[0]:.0f}s" if caught_up_at else "-- (not within the run)"))
    print(f"peak RSS: {rss_mb:,.0f} MB")
    store.close()
    state.close()
    if tmp is not None:
        tmp.cleanup()
    if args.flood_ips:
        flood_cardinality(args.flood_ips)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def flood_cardinality(distinct: int) -> None:
    """Feed ``distinct`` firewall denies, each from a new source address, to the shipped
    port-scan rule (cardinality of destination.port per source.ip) and print the memory
    its bounded state takes and how many groups it evicted."""
    from detectors.stateful import StatefulDetector

    with tempfile.TemporaryDirectory() as tmp:
        state = StateStore(Path(tmp) / "state.db")
        detector = StatefulDetector([REPO / "rules" / "stateful" / "port_scan.yml"], state=state)
        before = rss_mb()
        t0 = datetime(2026, 11, 2, tzinfo=UTC)
        started = time.perf_counter()
        for i in range(distinct):
            detector.observe({
                "@timestamp": format_ts(t0 + timedelta(milliseconds=i)),
                "event": {"id": f"flood-{i}", "category": ["network"], "type": ["denied"]},
                "source": {"ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"},
                "destination": {"ip": "192.0.2.10", "port": 1024 + i % 50_000},
            })
        elapsed = time.perf_counter() - started
        stats = next(iter(detector.stats["per_rule"].values()))
        print(f"cardinality flood: {distinct:,} distinct source IPs in {elapsed:.1f}s "
              f"({distinct / elapsed:,.0f} events/s); groups held {stats['groups']:,}, "
              f"evicted {stats['groups_evicted']:,}; RSS {before:,.0f} -> {rss_mb():,.0f} MB "
              f"(+{rss_mb() - before:,.0f} MB)")
        state.close()


if __name__ == "__main__":
    main()
