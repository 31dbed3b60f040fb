"""A generated, realistic Linux auth-log scenario for ``soc demo`` and ``soc run --demo``.

An hour of ordinary activity on four servers of two agencies (public-key logins of
administrators, sudo, cron sessions, the odd mistyped password), and an attack: an
SSH brute force from an outside address against ``portal01`` (invalid users, then
many failed root passwords), a successful root login from the same address
afterwards, and a new account created by the intruder. Lines are RFC 3164 syslog in
the given zone, as a Debian or RHEL server writes them to ``/var/log/auth.log``.
"""

from __future__ import annotations

import random
import time as _time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ATTACKER_IP = "203.0.113.45"
TARGET_HOST = "portal01"
HOSTS = ("web01", "mail01", "portal01", "db01")
ADMINS = (("nguyenvana", "10.10.1.21"), ("tranthib", "10.10.1.34"), ("lequangc", "10.20.4.12"))
SUDO_COMMANDS = (
    "/usr/bin/systemctl restart nginx",
    "/usr/bin/apt-get update",
    "/usr/bin/journalctl -u postfix",
    "/usr/bin/tail -n 100 /var/log/nginx/error.log",
)
INVALID_USERS = ("admin", "test", "oracle", "ubuntu", "support", "guest")


@dataclass(frozen=True, slots=True)
class DemoScenario:
    lines: list[str]
    attacker_ip: str
    target_host: str
    brute_force_failures: int


def _syslog_line(ts: datetime, host: str, program: str, pid: int, message: str) -> str:
    stamp = f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S}"
    return f"{stamp} {host} {program}[{pid}]: {message}"


def generate(now: datetime, *, timezone: str = "Asia/Ho_Chi_Minh", seed: int = 85) -> DemoScenario:
    """The scenario's lines, in time order, ending a few minutes before ``now``."""
    rng = random.Random(seed)
    zone = ZoneInfo(timezone)
    end = now.astimezone(zone).replace(microsecond=0) - timedelta(minutes=2)
    start = end - timedelta(hours=1)
    entries: list[tuple[datetime, str]] = []

    def add(ts: datetime, host: str, program: str, message: str) -> None:
        entries.append((ts, _syslog_line(ts, host, program, rng.randint(1000, 65000), message)))

    # ordinary activity
    for _ in range(240):
        ts = start + timedelta(seconds=rng.randint(0, 3600))
        host = rng.choice(HOSTS)
        user, ip = rng.choice(ADMINS)
        kind = rng.random()
        port = rng.randint(40000, 65000)
        if kind < 0.35:
            add(
                ts,
                host,
                "sshd",
                f"Accepted publickey for {user} from {ip} port {port} ssh2: "
                f"ED25519 SHA256:{rng.getrandbits(128):032x}",
            )
            add(
                ts,
                host,
                "sshd",
                f"pam_unix(sshd:session): session opened for user {user}(uid=1000) by (uid=0)",
            )
        elif kind < 0.55:
            cmd = rng.choice(SUDO_COMMANDS)
            add(ts, host, "sudo", f"{user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; COMMAND={cmd}")
        elif kind < 0.85:
            add(ts, host, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
            add(
                ts + timedelta(seconds=1),
                host,
                "CRON",
                "pam_unix(cron:session): session closed for user root",
            )
        elif kind < 0.97:
            add(ts, host, "sshd", f"Received disconnect from {ip} port {port}:11: disconnected by user")
            add(ts, host, "sshd", f"pam_unix(sshd:session): session closed for user {user}")
        else:
            add(ts, host, "sshd", f"Failed password for {user} from {ip} port {port} ssh2")

    # the attack: brute force, success, persistence
    attack = end - timedelta(minutes=20)
    failures = 0
    for i, name in enumerate(INVALID_USERS):
        ts = attack + timedelta(seconds=3 * i)
        port = rng.randint(30000, 60000)
        add(ts, TARGET_HOST, "sshd", f"Invalid user {name} from {ATTACKER_IP} port {port}")
        add(
            ts + timedelta(seconds=1),
            TARGET_HOST,
            "sshd",
            f"Failed password for invalid user {name} from {ATTACKER_IP} port {port} ssh2",
        )
        failures += 1
    for i in range(30):
        ts = attack + timedelta(seconds=20 + 5 * i)
        add(
            ts,
            TARGET_HOST,
            "sshd",
            f"Failed password for root from {ATTACKER_IP} port {rng.randint(30000, 60000)} ssh2",
        )
        failures += 1
    success = attack + timedelta(minutes=3, seconds=10)
    add(
        success,
        TARGET_HOST,
        "sshd",
        f"Accepted password for root from {ATTACKER_IP} port {rng.randint(30000, 60000)} ssh2",
    )
    add(
        success, TARGET_HOST, "sshd", "pam_unix(sshd:session): session opened for user root(uid=0) by (uid=0)"
    )
    add(
        success + timedelta(minutes=1),
        TARGET_HOST,
        "useradd",
        "new user: name=sysupdate, UID=1001, GID=1001, home=/home/sysupdate, shell=/bin/bash, "
        "from=/dev/pts/1",
    )
    add(success + timedelta(minutes=1, seconds=20), TARGET_HOST, "usermod", "add 'sysupdate' to group 'sudo'")

    entries.sort(key=lambda entry: entry[0])
    return DemoScenario([line for _, line in entries], ATTACKER_IP, TARGET_HOST, failures)


def write_demo_log(path: Path, now: datetime, *, timezone: str = "Asia/Ho_Chi_Minh") -> DemoScenario:
    scenario = generate(now, timezone=timezone)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(scenario.lines) + "\n", encoding="utf-8")
    return scenario


def bulk_auth_lines(n: int, *, start_epoch: int = 1_795_000_000) -> list[str]:
    """``n`` distinct, parseable auth-log lines for load tests and benchmarks: accepted
    and failed SSH logins and sudo commands on 17 hosts, 50 lines a second."""
    lines = []
    for i in range(n):
        ts = _time.gmtime(start_epoch + i // 50)
        stamp = f"{_time.strftime('%b', ts)} {ts.tm_mday:2d} {_time.strftime('%H:%M:%S', ts)}"
        pid, port = 1000 + i % 9000, 20000 + i % 40000
        if i % 3 == 0:
            ip = f"10.10.{i % 250}.{i % 199 + 1}"
            msg = f"sshd[{pid}]: Accepted publickey for user{i % 41} from {ip} port {port} ssh2"
        elif i % 3 == 1:
            ip = f"10.20.{i % 250}.{i % 181 + 1}"
            msg = f"sshd[{pid}]: Failed password for user{i % 23} from {ip} port {port} ssh2"
        else:
            user = f"user{i % 13}"
            msg = (
                f"sudo: {user} : TTY=pts/{i % 5} ; PWD=/home/{user} ; USER=root ; COMMAND=/usr/bin/id -u {i}"
            )
        lines.append(f"{stamp} srv{i % 17:02d} {msg}")
    return lines
