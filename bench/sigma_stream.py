"""Benchmark: Sigma detector throughput (events/s of observe) and corpus load+compile time.

Usage: .venv/bin/python bench/sigma_stream.py [--events N]
Runs our rules (rules/linux) and the SigmaHQ corpus (SOC_DATASETS/sigma) over N
synthetic Linux auth events (sshd failures/invalid users/successes, sudo, useradd).
The corpus is run twice: with unmapped_logsource "all" (every rule meets every event,
the worst case) and "none" (only rules whose log source maps to the event).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.sigma import SigmaDetector  # noqa: E402
from detectors.sigma.engine import load_config  # noqa: E402
from soc.event import format_ts  # noqa: E402

DATASETS = Path(os.environ.get("SOC_DATASETS", ROOT.parent / "shared" / "datasets"))
CORPUS_DIRS = [
    "rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder",
]


def synthetic_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """A reproducible mix of auth events from a few hundred source addresses."""
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 27, tzinfo=UTC)
    events = []
    for i in range(n):
        ts = format_ts(t0 + timedelta(milliseconds=50 * i))
        ip = f"198.51.{rng.randrange(4)}.{rng.randrange(200)}"
        r = rng.random()
        if r < 0.90:
            kind = "Failed" if r < 0.6 else ("Invalid" if r < 0.8 else "Accepted")
            user = rng.choice(["root", "admin", "ubuntu", "oracle", "alice"])
            msg = {"Failed": f"Failed password for {user} from {ip} port 4102 ssh2",
                   "Invalid": f"Invalid user {user} from {ip} port 4102",
                   "Accepted": f"Accepted password for {user} from {ip} port 4102 ssh2"}[kind]
            events.append({
                "@timestamp": ts, "message": msg,
                "event": {"action": "ssh_login", "category": ["authentication"], "type": ["info"],
                          "outcome": "success" if kind == "Accepted" else "failure",
                          "dataset": "system.auth", "kind": "event"},
                "system": {"auth": {"ssh": {"event": kind, "method": "password"}}},
                "user": {"name": user}, "source": {"ip": ip, "port": 4102},
                "process": {"name": "sshd", "pid": 1234}, "host": {"hostname": "web01", "name": "web01"},
                "log": {"syslog": {"appname": "sshd"}},
            })
        else:
            cmd = rng.choice(["/bin/ls", "/bin/bash", "/usr/bin/apt update", "/bin/cat /etc/shadow"])
            events.append({
                "@timestamp": ts,
                "message": f"alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND={cmd}",
                "event": {"dataset": "system.auth", "kind": "event"},
                "system": {"auth": {"sudo": {"command": cmd, "user": "root", "pwd": "/home/alice",
                                             "tty": "pts/0"}}},
                "user": {"name": "alice", "effective": {"name": "root"}},
                "process": {"name": "sudo"}, "host": {"hostname": "web01", "name": "web01"},
            })
    return events


def measure(label: str, det: SigmaDetector, events: list[dict[str, Any]]) -> None:
    observe = det.observe
    start = time.perf_counter()
    matches = 0
    for e in events:
        matches += len(observe(e))
    elapsed = time.perf_counter() - start
    print(f"{label:<44} {len(events) / elapsed:>12,.0f} events/s  ({matches} matches, "
          f"{det.stats['rules_compiled']} rules compiled, {len(det.rules)} active)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--all-events", type=int, default=5_000,
                        help="events for the slow unmapped_logsource=all corpus run")
    args = parser.parse_args()
    events = synthetic_events(args.events)
    config = load_config()

    measure("our rules (rules/linux)", SigmaDetector([ROOT / "rules" / "linux"], config=config), events)

    sigma = DATASETS / "sigma"
    if not (sigma / "rules").is_dir():
        print(f"SigmaHQ corpus not found under {sigma}; set SOC_DATASETS")
        return
    paths = [sigma / d for d in CORPUS_DIRS] + [ROOT / "rules" / "linux"]
    for policy in ("none", "all"):
        start = time.perf_counter()
        det = SigmaDetector(paths, config={**config, "unmapped_logsource": policy})
        load = time.perf_counter() - start
        stats = det.stats
        print(f"corpus load+compile (unmapped={policy}): {load:.2f} s; {stats['rules_compiled']} compiled, "
              f"{stats['rules_failed']} failed")
        measure(f"corpus + ours, unmapped_logsource={policy}", det,
                events if policy == "none" else events[: args.all_events])


if __name__ == "__main__":
    main()
