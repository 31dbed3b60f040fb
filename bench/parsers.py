"""Parser throughput on one core: lines/s for every registered parser, beside the targets.

Usage::

    taskset -c 1 .venv/bin/python bench/parsers.py [--lines N] [--parser NAME] [--repeat R]

For each parser of ``collectors.parsers.PARSERS`` (or only ``--parser NAME``), the
corpus is the real lines of the shared datasets (``$SOC_DATASETS/logs``, default
``../shared/datasets`` beside the repo) that the parser turns into events, replicated
to ``N`` lines (default 100,000). ``syslog`` and ``linux_auth`` also run on the
synthetic RFC 3164 auth.log and RFC 5424 lines, and ``parse_syslog`` (the header
alone) is timed on both. Each case runs ``R`` times (default 3); the median is printed.
Rates are lines per second of this process's CPU time (``time.process_time``).

Targets (issue 3): RFC 3164 >= 300,000 lines/s, RFC 5424 >= 150,000, CEF and
JSON-to-ECS (windows, suricata, zeek) >= 100,000.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from collectors.parsers import PARSERS, ParseError, get_parser  # noqa: E402
from collectors.parsers.syslog import parse_syslog  # noqa: E402
from soc.event import RawRecord  # noqa: E402

LOGS = Path(os.environ.get("SOC_DATASETS") or REPO.parent / "shared" / "datasets") / "logs"
TIMEZONE = "Asia/Ho_Chi_Minh"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Target lines/s of issue 3, by case label prefix.
TARGETS = {
    "syslog-3164": 300_000,
    "syslog-5424": 150_000,
    "header-3164": 300_000,
    "header-5424": 150_000,
    "cef": 100_000,
    "windows": 100_000,
    "suricata": 100_000,
    "zeek": 100_000,
}

# Dataset files (globs under logs/) per parser; a tuple's second item picks lines out
# of a file that is not one line per record (the LEEF .ini test cases).
_PASS = " pass = "
CORPORA: dict[str, tuple[str, ...]] = {
    "windows": ("endpoint/windows/otrf-security-datasets/*.json",),
    "suricata": ("network/suricata/elastic-beats/*.log",),
    "zeek": ("network/zeek/elastic-beats-json/*.log",),
    "cef": ("firewall/cef/elastic-beats/*.log",),
    "leef": ("firewall/leef/wazuh-ruleset/*.ini",),
    "checkpoint": ("firewall/checkpoint/elastic-beats/*.log",),
    "cisco_asa": ("firewall/cisco_asa/elastic-beats/*.log",),
    "fortigate": ("firewall/fortigate/elastic-beats/*.log",),
    "panos": ("firewall/panos/elastic-beats/*.log",),
    "pfsense": ("firewall/pfsense/crowdsec-hub/*/*.log",),
    "iptables": ("firewall/iptables/elastic-beats/*.log", "firewall/iptables/crowdsec-hub/*/*.log"),
    "auditd": ("endpoint/auditd/*/*.log",),
    "linux_auth": ("endpoint/linux_auth/elastic-beats/*.log", "endpoint/linux_auth/crowdsec-hub/*/*.log"),
    "syslog": ("endpoint/syslog/elastic-beats/*.log",),
}


# Parsers whose records are not text lines (decoded flows, packets): see their own benches.
_NO_LINES = frozenset({"netflow", "packet"})


def _file_lines(path: Path) -> Iterator[bytes]:
    for line in path.read_bytes().splitlines():
        if path.suffix == ".ini":
            text = line.decode("utf-8", "replace")
            if _PASS not in text:
                continue
            line = text.split(_PASS, 1)[1].encode()
        if line.strip():
            yield line


def _evtx_json(paths: Iterable[Path]) -> Iterator[tuple[Path, bytes]]:
    """The JSON records of EVTX files (the Windows parser's main input shape)."""
    try:
        from collectors.inputs.evtx import read_evtx_records
    except ImportError:  # the EVTX reader is optional here
        return
    for path in paths:
        for rec in read_evtx_records(path):
            yield path, rec.raw


def dataset_records(name: str) -> tuple[list[RawRecord], int]:
    """(records of the real lines that ``name`` parses, lines it refused)."""
    parser = get_parser(name, timezone=TIMEZONE)
    sources: list[tuple[Path, bytes]] = []
    for pattern in CORPORA.get(name, ()):
        for path in sorted(LOGS.glob(pattern)):
            if not path.name.endswith("-expected.json"):
                sources += [(path, line) for line in _file_lines(path)]
    if name == "windows":
        sources += list(_evtx_json(sorted((LOGS / "endpoint/windows/winlogbeat").glob("*.evtx"))))
    now = datetime.now(UTC)
    good: list[RawRecord] = []
    refused = 0
    for i, (path, line) in enumerate(sources):
        rec = RawRecord(raw=line, source=f"file:{path}", position=i, received=now, meta=_meta(path))
        try:
            parser.parse(rec)
        except ParseError:
            refused += 1
            continue
        good.append(rec)
    return good, refused


def _meta(path: Path) -> dict[str, str]:
    return {"input": "file", "path": str(path)}


def auth_lines(n: int, rng: random.Random) -> list[bytes]:
    """Synthetic RFC 3164 auth.log lines: sshd accept/fail/invalid, sudo, PAM sessions."""
    out = []
    for i in range(n):
        t = i // 50  # 50 lines a second, time moving forward as in a real log
        day = f"{_MONTHS[t // 86400 % 12]} {t // 86400 % 28 + 1:2d}"
        ts = f"{day} {t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}"
        ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        pid = rng.randint(100, 60000)
        kind = i % 5
        if kind == 0:
            body = f"sshd[{pid}]: Failed password for root from {ip} port {rng.randint(1024, 65535)} ssh2"
        elif kind == 1:
            port = rng.randint(1024, 65535)
            body = f"sshd[{pid}]: Accepted publickey for alice from {ip} port {port} ssh2: RSA SHA256:abc"
        elif kind == 2:
            body = f"sshd[{pid}]: Invalid user admin{i % 50} from {ip} port {rng.randint(1024, 65535)}"
        elif kind == 3:
            body = "sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls -l"
        else:
            body = f"CRON[{pid}]: pam_unix(cron:session): session opened for user root by (uid=0)"
        out.append(f"{ts} host{i % 20} {body}".encode())
    return out


def rfc5424_lines(n: int, rng: random.Random) -> list[bytes]:
    """Synthetic RFC 5424 lines, every other one with structured data."""
    out = []
    for i in range(n):
        t = i // 50
        clock = f"{t // 3600 % 24:02d}:{t // 60 % 60:02d}:{t % 60:02d}.{i % 1000:03d}"
        ts = f"2024-05-{t // 86400 % 28 + 1:02d}T{clock}Z"
        sd = f'[meta@32473 seq="{i}" src="app\\]x"]' if i % 2 else "-"
        out.append(
            f"<165>1 {ts} web{i % 10}.example.com nginx {rng.randint(1, 9999)} ACCESS {sd} GET /x".encode()
        )
    return out


def _synthetic_records(lines: list[bytes]) -> list[RawRecord]:
    now = datetime.now(UTC)
    return [RawRecord(raw=b, source="bench", position=i, received=now) for i, b in enumerate(lines)]


def replicate(records: list[RawRecord], n: int) -> list[RawRecord]:
    """``records`` repeated (each copy a new record object) to exactly ``n``."""
    if not records:
        return []
    return [
        RawRecord(raw=r.raw, source=r.source, position=i, received=r.received, meta=r.meta)
        for i, r in zip(range(n), _cycle(records), strict=False)
    ]


def _cycle(records: list[RawRecord]) -> Iterator[RawRecord]:
    while True:
        yield from records


@dataclass
class Case:
    """One timed case: a label, the function timed over the records, and the records."""

    label: str
    run: Callable[[list[RawRecord]], None]
    records: list[RawRecord]
    note: str = ""


def _parse_all(name: str) -> Callable[[list[RawRecord]], None]:
    parse = get_parser(name, timezone=TIMEZONE).parse

    def run(records: list[RawRecord]) -> None:
        for rec in records:
            parse(rec)

    return run


def _header_all(records: list[RawRecord]) -> None:
    for rec in records:
        parse_syslog(rec.raw, timezone=TIMEZONE, reference=rec.received)


def median_rate(case: Case, repeat: int) -> float:
    """Median lines/s of ``repeat`` runs of ``case``, in CPU time of this process (the
    machine is shared: CPU time is not inflated by other processes' time slices)."""
    rates = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        case.run(case.records)
        rates.append(len(case.records) / (time.process_time() - t0))
    return statistics.median(rates)


def cases_for(name: str, n: int, rng: random.Random) -> list[Case]:
    """The cases of one parser: its dataset corpus, plus the synthetic syslog lines."""
    records, refused = dataset_records(name)
    out = []
    if records:
        note = f"{len(records)} real lines" + (f", {refused} refused" if refused else "")
        out.append(Case(name, _parse_all(name), replicate(records, n), note))
    if name in ("syslog", "linux_auth"):
        auth = _synthetic_records(auth_lines(n, rng))
        if name == "syslog":
            r5424 = _synthetic_records(rfc5424_lines(n, rng))
            out.append(Case("header-3164", _header_all, auth, "parse_syslog only, synthetic"))
            out.append(Case("header-5424", _header_all, r5424, "parse_syslog only, synthetic"))
            out.append(Case("syslog-3164", _parse_all(name), auth, "synthetic auth.log"))
            out.append(Case("syslog-5424", _parse_all(name), r5424, "synthetic"))
        else:
            out.append(Case("linux_auth-synth", _parse_all(name), auth, "synthetic auth.log"))
    return out


def _target(label: str) -> int | None:
    return TARGETS.get(label)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000, help="lines per case (default 100,000)")
    ap.add_argument("--parser", choices=sorted(PARSERS), help="only this parser")
    ap.add_argument("--repeat", type=int, default=3, help="runs per case; the median is printed")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})  # one core, as taskset -c would
    rng = random.Random(42)
    names = [args.parser] if args.parser else list(PARSERS)
    print(f"python {sys.version.split()[0]}, one core, {args.lines:,} lines a case, median of {args.repeat}")
    print(f"{'case':<18} {'lines/s':>12} {'target':>10}  {'':4}  corpus")
    for name in names:
        cases = cases_for(name, args.lines, rng)
        if not cases:
            why = "binary input, no line corpus" if name in _NO_LINES else f"no dataset lines under {LOGS}"
            print(f"{name:<18} {'-':>12} {'':>10}  {'':4}  {why}")
        for case in cases:
            rate = median_rate(case, args.repeat)
            target = _target(case.label)
            tgt = f"{target:>10,}" if target else f"{'':>10}"
            verdict = ("ok" if rate >= target else "LOW") if target else ""
            print(f"{case.label:<18} {rate:>12,.0f} {tgt}  {verdict:<4}  {case.note}", flush=True)


if __name__ == "__main__":
    main()
