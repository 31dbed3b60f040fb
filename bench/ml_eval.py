"""ML detectors against labelled attacks mixed into a benign baseline; prints, per
detector, precision, recall, ROC-AUC and false alerts per 100,000 benign entity-windows
at the default threshold; with --timing N, training and scoring time and peak memory
over N generated events on one core.

The benign baseline is SYNTHETIC (detectors.ml.synthetic.BenignGenerator, fixed seed)
plus the real benign capture wikipedia.pcap; the attacks are the real labelled files of
the shared datasets ($SOC_DATASETS), each shifted in time into the evaluation period,
except beaconing and exfiltration, for which the datasets hold no labelled sample and
SYNTHETIC attacks are used (said so in the table). Everything goes through a DuckDB
event store and the detectors' own train/score code.

    python bench/ml_eval.py                      # the table (about a minute)
    python bench/ml_eval.py --timing 1000000     # + time/memory for 1M events
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from sklearn.metrics import roc_auc_score

from collectors.inputs.readers import FileReader
from detectors.ml.detectors import DETECTORS
from detectors.ml.evaluation import metrics
from detectors.ml.features.common import ENTITY
from detectors.ml.frames import load_frame
from detectors.ml.lifecycle import FeatureCache, LoadedModels, train
from detectors.ml.registry import ModelRegistry
from detectors.ml.settings import MLSettings
from detectors.ml.synthetic import BenignGenerator, beacon, dga_queries
from soc.event import format_ts, parse_ts
from soc.pipeline.processor import ParserSet, Processor
from soc.store import DuckDBStore, Query

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
BASELINE_HOURS = 48
EVAL_HOURS = 24
EVAL_START = T0 + timedelta(hours=BASELINE_HOURS)

# attack files (real, labelled) -> (detectors they are positives for, attacker entities)
ATTACKS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("scan", "logs/network/pcap/ndpi/tcp_scan.pcapng", ("scan", "anomaly_source"), ("192.168.1.178",)),
    (
        "scan",
        "logs/firewall/iptables/crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log",
        ("scan", "anomaly_source"),
        ("62.34.17.168",),
    ),
    (
        "brute force",
        "logs/endpoint/linux_auth/crowdsec-hub/ssh-bf/ssh-bf.log",
        ("bruteforce_source", "anomaly_source"),
        ("35.188.49.176",),
    ),
    (
        "brute force",
        "logs/endpoint/linux_auth/elastic-beats/secure-rhel7.log",
        ("bruteforce_source", "anomaly_source"),
        ("202.196.224.106", "223.99.60.46", "216.160.83.58"),
    ),
    (
        "brute force",
        "logs/network/pcap/zeek-traces/sshguess.pcap",
        ("bruteforce_source", "anomaly_source"),  # SSH guessing seen as flows only: no scan
        ("192.168.56.1",),
    ),
    (
        "dns tunnel",
        "logs/network/pcap/ndpi/dns-tunnel-iodine.pcap",
        ("dns_tunnel", "anomaly_dns"),
        ("10.0.2.30",),
    ),
    (
        "windows",
        "logs/endpoint/windows/evtx-attack-samples/Credential_Access/sysmon_10_1_memdump_comsvcs_minidump.evtx",
        ("rare_process",),
        (),
    ),
    (
        "windows",
        "logs/endpoint/windows/evtx-attack-samples/Persistence/persistence_accessibility_features_osk_sysmon1.evtx",
        ("rare_process",),
        (),
    ),
    (
        "windows",
        "logs/endpoint/windows/evtx-attack-samples/Privilege_Escalation/Sysmon_13_1_UAC_Bypass_EventVwrBypass.evtx",
        ("rare_process",),
        (),
    ),
]
BENIGN_REAL = ["logs/network/pcap/zeek-traces/wikipedia.pcap"]
FALSE_ALERTS: list[tuple[str, str, str, float]] = []  # (detector, entity, window, score)
COMPARISON: list[tuple[str, float, float]] = []  # (detector, IsolationForest AUC, robust-z AUC)
EVALUATED = (
    "scan",
    "bruteforce_source",
    "bruteforce_user",
    "dns_tunnel",
    "dga",
    "beaconing",
    "exfiltration",
    "rare_process",
    "anomaly_host",
    "anomaly_user",
    "anomaly_source",
    "anomaly_dns",
)


def datasets_dir() -> Path:
    return Path(os.environ.get("SOC_DATASETS", REPO.parent / "shared" / "datasets"))


def parse_file(path: Path) -> list[dict[str, Any]]:
    return Processor(ParserSet(timezone="UTC")).process(list(FileReader(path).records())).events


def shift(events: list[dict[str, Any]], to: datetime) -> list[dict[str, Any]]:
    """Move events so the first is at ``to``, keeping their spacing."""
    stamps = [parse_ts(e["@timestamp"]) for e in events]
    delta = to - min(stamps)
    for event, ts in zip(events, stamps, strict=True):
        event["@timestamp"] = format_ts(ts + delta)
    return events


def build(store: DuckDBStore, hosts: int, rate: float, say: Any) -> dict[str, set[str]]:
    """Write the benign baseline, the benign evaluation period and the attacks; return
    the positive entities per detector."""
    gen = BenignGenerator(seed=20261206, hosts=hosts, users=hosts, rate=rate)
    written = 0
    for batch in gen.hours(T0, BASELINE_HOURS + EVAL_HOURS):
        written += store.write(batch).stored
    say(f"synthetic benign: {written:,} events")
    positives: dict[str, set[str]] = {name: set() for name in EVALUATED}
    root = datasets_dir()
    for i, rel in enumerate(BENIGN_REAL):
        events = shift(parse_file(root / rel), EVAL_START + timedelta(hours=2 + i))
        store.write(events)
        say(f"real benign {Path(rel).name}: {len(events)} events")
    for i, (_kind, rel, detectors, entities) in enumerate(ATTACKS):
        events = parse_file(root / rel)
        shift(events, EVAL_START + timedelta(hours=1 + 2 * i, minutes=3))
        store.write(events)
        found = set(entities)
        if not entities:  # Windows samples: the hosts that ran the attack
            found = {e.get("host", {}).get("name") for e in events if e.get("host", {}).get("name")}
        for name in detectors:
            positives[name] |= found
        if "bruteforce_source" in detectors:  # the accounts the guesser tried
            tried = {
                e["user"]["name"]
                for e in events
                if e.get("user", {}).get("name") and e.get("event", {}).get("outcome") == "failure"
            }
            positives["bruteforce_user"] |= tried
            positives["anomaly_user"] |= tried
        say(f"attack {Path(rel).name}: {len(events)} events, entities {sorted(found)}")
    # SYNTHETIC: no labelled beacon or exfiltration sample in the datasets
    for j, (period, jitter) in enumerate([(60, 0.05), (300, 0.2), (900, 0.1), (120, 0.3)]):
        src, dst = f"10.10.1.{11 + 2 * j}", f"192.0.2.{50 + j}"
        store.write(beacon(EVAL_START, EVAL_HOURS, src, dst, 443 + j, period_s=period, jitter=jitter, seed=j))
        positives["beaconing"].add(f"{src} -> {dst}:{443 + j}")
        positives["anomaly_host"].add(src)
    for k, client in enumerate(("10.10.1.14", "10.20.1.15")):  # SYNTHETIC DGA clients
        store.write(
            dga_queries(EVAL_START + timedelta(hours=4 + 7 * k, minutes=2), client, 30 + 10 * k, seed=k)
        )
        at = (EVAL_START + timedelta(hours=4 + 7 * k)).isoformat()
        positives["dga"].add(f"{client}@{at}")
        positives["anomaly_dns"].add(f"{client}@{at}")
    exfil_src = "10.20.1.11"  # a known workstation (ws001)
    big = gen.flow(
        EVAL_START + timedelta(hours=15, minutes=4), exfil_src, "192.0.2.200", 443, 900_000_000, "ubnd-tinh"
    )
    store.write([big])
    at = (EVAL_START + timedelta(hours=15)).isoformat()
    positives["exfiltration"].add(f"{exfil_src}@{at}")  # only the window of the upload
    positives["anomaly_host"].add(f"{exfil_src}@{at}")
    return positives


def evaluate(
    store: DuckDBStore, registry: ModelRegistry, settings: MLSettings, positives: dict[str, set[str]]
) -> list[dict[str, Any]]:
    models = LoadedModels(registry)
    detectors = [DETECTORS[n]() for n in EVALUATED]
    frame = load_frame(
        store,
        Query(start=EVAL_START, end=EVAL_START + timedelta(hours=EVAL_HOURS)),
        sorted({f for d in detectors for f in d.fields}),
    )
    cache = FeatureCache(frame, settings)
    rows = []
    for detector in detectors:
        loaded = models.get(detector.name)
        if loaded is None:
            continue
        model, _meta = loaded
        table = cache.table(detector).reset_index(drop=True)
        scores = detector.score(model, table)
        labels = np.array(
            [
                _label(str(e), w.isoformat(), positives[detector.name])
                for e, w in zip(table[ENTITY], table["window"], strict=True)
            ],
            dtype=bool,
        )
        if detector.name.startswith("anomaly_") and labels.any() and not labels.all():
            z = np.clip(model.baseline.zscores(table).to_numpy(), 0, None)
            alt = -np.sort(-z, axis=1)[:, :3].mean(axis=1)
            COMPARISON.append((detector.name, roc_auc_score(labels, scores), roc_auc_score(labels, alt)))
        row = {
            "detector": detector.name,
            "threshold": detector.default_threshold,
            "entity_windows": len(table),
            **metrics(scores, labels, detector.default_threshold),
        }
        false = table[(scores >= detector.default_threshold) & ~labels]
        for entity, window, score in zip(false[ENTITY], false["window"], scores[false.index], strict=True):
            FALSE_ALERTS.append((detector.name, str(entity), window.isoformat(), float(score)))
        rows.append(row)
    return rows


def _label(entity: str, window: str, positives: set[str]) -> bool:
    """An attacker entity (any window), a beacon pair, or an entity in one window (``entity@window``)."""
    return entity in positives or f"{entity}@{window}" in positives


SOURCES = {
    "scan": "real: tcp_scan.pcapng, iptables-scan-multi-port",
    "bruteforce_source": "real: ssh-bf.log, secure-rhel7.log, sshguess.pcap",
    "bruteforce_user": "real: users tried in ssh-bf, secure-rhel7",
    "dns_tunnel": "real: dns-tunnel-iodine.pcap",
    "dga": "SYNTHETIC DGA clients (2)",
    "beaconing": "SYNTHETIC beacons (4)",
    "exfiltration": "SYNTHETIC 900 MB upload",
    "rare_process": "real: EVTX attack samples (3 Sysmon)",
    "anomaly_host": "SYNTHETIC beacon/exfil hosts",
    "anomaly_user": "real: users tried in ssh-bf, secure-rhel7",
    "anomaly_source": "real: scans + brute force",
    "anomaly_dns": "real: iodine tunnel; SYNTHETIC DGA clients",
}


def print_table(rows: list[dict[str, Any]]) -> None:
    headers = [
        "detector",
        "pos",
        "benign",
        "alerts",
        "precision",
        "recall",
        "roc_auc",
        "false/100k",
        "attacks",
    ]
    lines = [
        [
            r["detector"],
            str(r["positives"]),
            str(r["benign"]),
            str(r["alerts"]),
            _f(r["precision"]),
            _f(r["recall"]),
            _f(r["roc_auc"]),
            _f(r["false_per_100k"]),
            SOURCES.get(r["detector"], ""),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(x[i]) for x in lines)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for x in lines:
        print("  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)))


def _f(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timing(n_events: int, say: Any) -> None:
    """Time training and scoring over about ``n_events`` SYNTHETIC events: one generated
    week (200 workstations) written again and again, a week later each time, with new
    event ids, until the store holds ``n_events``; then train on all of it and score all
    of it, on one core (DuckDB ``threads = 1``, ``OMP_NUM_THREADS=1``)."""
    with tempfile.TemporaryDirectory(prefix="ml-timing-") as tmp:
        store = DuckDBStore(Path(tmp) / "events.duckdb")
        store._con.execute("SET threads = 1")  # one core for the measurement
        hosts = 200
        gen = BenignGenerator(seed=1, hosts=hosts, users=hosts, rate=1.0)
        began = time.perf_counter()
        week = [e for batch in gen.hours(T0, 7 * 24) for e in batch]
        stamps = [parse_ts(e["@timestamp"]) for e in week]
        say(f"timing: one week = {len(week):,} events generated in {time.perf_counter() - began:.0f} s")
        written, copy = 0, 0
        while written < n_events:
            shift_by = timedelta(days=7 * copy)
            batch = []
            for event, ts in zip(week, stamps, strict=True):
                clone = dict(event)
                clone["event"] = {**event["event"], "id": f"{event['event']['id']}-{copy}"}
                clone["@timestamp"] = format_ts(ts + shift_by)
                batch.append(clone)
                if len(batch) == 50_000:
                    written += store.write(batch[: max(0, n_events - written)]).stored
                    batch = []
            if batch and written < n_events:
                written += store.write(batch[: n_events - written]).stored
            copy += 1
            say(f"timing: {written:,} events in the store")
        store.flush()
        end = parse_ts(store.stats().newest.isoformat()) + timedelta(minutes=10) if written else T0
        hour = int((end - T0).total_seconds() // 3600) + 1
        say(f"timing: {written:,} events over {hour} hours written in {time.perf_counter() - began:.0f} s")
        settings = MLSettings(
            window_minutes=10, baseline_windows=hour * 6, min_baseline_windows=1, timezone="UTC"
        )
        registry = ModelRegistry(Path(tmp) / "models")
        rss0 = peak_rss_mb()
        began = time.perf_counter()
        reports = train(store, registry, settings, end=T0 + timedelta(hours=hour), progress=say)
        train_s = time.perf_counter() - began
        rss_train = peak_rss_mb()
        began = time.perf_counter()
        detectors = [DETECTORS[n]() for n in EVALUATED]
        frame = load_frame(
            store,
            Query(start=T0, end=T0 + timedelta(hours=hour)),
            sorted({f for d in detectors for f in d.fields}),
        )
        cache = FeatureCache(frame, settings)
        models = LoadedModels(registry)
        scored = 0
        for detector in detectors:
            loaded = models.get(detector.name)
            if loaded:
                table = cache.table(detector)
                detector.score(loaded[0], table)
                scored += len(table)
        score_s = time.perf_counter() - began
        print(
            f"\ntiming over {written:,} SYNTHETIC events ({hosts} hosts, {hour} h; DuckDB threads=1, "
            "OMP_NUM_THREADS=1):"
        )
        print(
            f"  train (read + features + fit + save, {len(reports)} detectors): {train_s:.1f} s, "
            f"{written / train_s:,.0f} events/s; peak RSS {rss_train:,.0f} MB (before: {rss0:,.0f} MB)"
        )
        print(
            f"  score (read + features + score, {scored:,} entity-windows): {score_s:.1f} s, "
            f"{written / score_s:,.0f} events/s; peak RSS {peak_rss_mb():,.0f} MB"
        )
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=60, help="synthetic workstations (default 60)")
    parser.add_argument("--rate", type=float, default=0.5, help="synthetic activity scale (default 0.5)")
    parser.add_argument(
        "--timing", type=int, default=0, metavar="N", help="also time N events (e.g. 10000000)"
    )
    parser.add_argument("--no-eval", action="store_true", help="only the timing")
    args = parser.parse_args()

    def say(message: str) -> None:
        print(f"[ml_eval] {message}", file=sys.stderr, flush=True)

    if not args.no_eval:
        if not (datasets_dir() / "logs").is_dir():
            print(f"shared datasets not found at {datasets_dir()} (set SOC_DATASETS)", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix="ml-eval-") as tmp:
            store = DuckDBStore(Path(tmp) / "events.duckdb")
            positives = build(store, args.hosts, args.rate, say)
            settings = MLSettings(
                window_minutes=10,
                baseline_windows=BASELINE_HOURS * 6,
                min_baseline_windows=144,
                timezone="UTC",
            )
            registry = ModelRegistry(Path(tmp) / "models")
            began = time.perf_counter()
            train(store, registry, settings, end=EVAL_START, detectors=EVALUATED, progress=say)
            say(f"trained in {time.perf_counter() - began:.1f} s")
            rows = evaluate(store, registry, settings, positives)
            store.close()
        print(
            f"\nML detectors: {BASELINE_HOURS} h baseline, {EVAL_HOURS} h evaluation, 10-minute windows; "
            f"benign = SYNTHETIC generator (seed 20261206, {args.hosts} hosts, rate {args.rate}) + real "
            "wikipedia.pcap; attacks time-shifted into the evaluation period"
        )
        print_table(rows)
        for name, entity, window, score in FALSE_ALERTS:
            print(f"  false alert: {name} {entity} window {window} score {score:.3f}")
        if COMPARISON:
            print("\nmultivariate anomaly, estimator chosen by measurement (ROC-AUC on the same windows):")
            for name, forest, robust in COMPARISON:
                print(f"  {name:<16} IsolationForest {forest:.4f}   robust z (mean of top 3) {robust:.4f}")
    if args.timing:
        timing(args.timing, say)
    return 0


if __name__ == "__main__":
    sys.exit(main())
