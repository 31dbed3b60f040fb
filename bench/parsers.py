"""Parser throughput on one core: prints lines/s for each parser and line kind.

Usage: ``python bench/parsers.py [--lines N]`` (default 200,000 synthetic lines per
case). Also times the file input's line splitting and the framers.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.framing import NewlineFramer, OctetCountingFramer
from collectors.inputs.file import LineSplitter
from collectors.parsers import get_parser
from collectors.parsers.syslog import parse_syslog
from soc.event import RawRecord

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def auth_lines(n: int, rng: random.Random) -> list[bytes]:
    """RFC 3164 auth.log lines: sshd accept/fail/invalid, sudo, PAM sessions."""
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


def rate(label: str, n: int, seconds: float) -> None:
    print(f"{label:<44} {n / seconds:>12,.0f} lines/s  ({n:,} lines in {seconds:.2f} s)")


def bench_parser(label: str, name: str, lines: list[bytes]) -> None:
    parser = get_parser(name, timezone="Asia/Ho_Chi_Minh")
    now = datetime.now(UTC)
    records = [RawRecord(raw=b, source="bench", position=i, received=now) for i, b in enumerate(lines)]
    parse = parser.parse
    t0 = time.perf_counter()
    for rec in records:
        parse(rec)
    rate(label, len(records), time.perf_counter() - t0)


def bench_header(label: str, lines: list[bytes]) -> None:
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    for b in lines:
        parse_syslog(b, timezone="Asia/Ho_Chi_Minh", reference=now)
    rate(label, len(lines), time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=200_000, help="synthetic lines per case")
    args = ap.parse_args()
    rng = random.Random(42)
    auth = auth_lines(args.lines, rng)
    r5424 = rfc5424_lines(args.lines, rng)
    print(f"python {sys.version.split()[0]}, one core, {args.lines:,} lines per case")
    bench_header("parse_syslog header only, RFC 3164", auth)
    bench_header("parse_syslog header only, RFC 5424", r5424)
    bench_parser("syslog parser -> ECS, RFC 3164", "syslog", auth)
    bench_parser("syslog parser -> ECS, RFC 5424", "syslog", r5424)
    bench_parser("linux_auth parser -> ECS, RFC 3164 auth", "linux_auth", auth)
    blob = b"\n".join(auth) + b"\n"
    t0 = time.perf_counter()
    sp = LineSplitter(0, 1 << 20)
    n = 0
    for i in range(0, len(blob), 1 << 20):
        n += len(sp.feed(blob[i : i + (1 << 20)]))
    rate("file line splitting (1 MiB chunks)", n, time.perf_counter() - t0)
    for label, framer, data in (
        ("newline framer (64 KiB reads)", NewlineFramer(), blob),
        (
            "octet-counting framer (64 KiB reads)",
            OctetCountingFramer(),
            b"".join(b"%d %s" % (len(x), x) for x in auth),
        ),
    ):
        t0 = time.perf_counter()
        n = 0
        for i in range(0, len(data), 65536):
            n += len(framer.feed(data[i : i + 65536]))
        n += len(framer.flush())
        rate(label, n, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
