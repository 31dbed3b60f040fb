"""A SYNTHETIC benign baseline: generated office traffic with a fixed seed, for the
benchmarks and tests when no real benign capture of enough size is at hand. Anything
measured on it says how the detectors behave on *this generator's* idea of normal,
and every report that uses it must say so.

Per hour and host: web and API connections at a rate that follows office hours (with
lognormal bytes and exponential, i.e. human, gaps), DNS lookups of a Zipf-distributed
set of real-looking domains (including CDN names with random-looking labels), NTP and
update checks at fixed periods (known periodic traffic), SSH/Windows logons with the
odd mistyped password, process starts from a set of common lineages, and internet
background noise at the perimeter (single-port probes that the firewall denies).
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from soc.event import format_ts

DOMAINS = (
    "google.com",
    "microsoft.com",
    "office365.com",
    "windowsupdate.com",
    "gov.vn",
    "vnexpress.net",
    "zalo.me",
    "facebook.com",
    "youtube.com",
    "cloudfront.net",
    "akamaiedge.net",
    "github.com",
    "tuoitre.vn",
    "baochinhphu.vn",
    "apple.com",
    "amazonaws.com",
    "bing.com",
    "live.com",
)
SUBS = ("www", "mail", "api", "login", "static", "cdn", "img", "news", "portal", "update", "m", "outlook")
LINEAGES = (
    ("explorer.exe", "chrome.exe"),
    ("explorer.exe", "outlook.exe"),
    ("services.exe", "svchost.exe"),
    ("explorer.exe", "winword.exe"),
    ("svchost.exe", "taskhostw.exe"),
    ("explorer.exe", "excel.exe"),
    ("userinit.exe", "explorer.exe"),
    ("wininit.exe", "services.exe"),
    ("svchost.exe", "wuauclt.exe"),
    ("chrome.exe", "chrome.exe"),
)
ALNUM = np.array(list(string.ascii_lowercase + string.digits))


def _eid(*parts: Any) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()


class BenignGenerator:
    """Events of ``hosts`` office workstations (10.<agency>.x.y), ``users`` users and the
    perimeter, hour by hour from ``start``; ``rate`` scales every activity."""

    def __init__(
        self,
        *,
        seed: int = 20261206,
        hosts: int = 40,
        users: int = 30,
        rate: float = 1.0,
        agencies: tuple[str, ...] = ("so-tttt", "ubnd-tinh"),
    ) -> None:
        self.rng = np.random.default_rng(seed)
        self.hosts = [
            (
                f"ws{i:03d}",
                f"10.{10 + 10 * (i % len(agencies))}.{1 + i // 200}.{10 + i % 200}",
                agencies[i % len(agencies)],
            )
            for i in range(hosts)
        ]
        self.users = [f"user{i:03d}" for i in range(users)]
        self.rate = rate
        self.servers = [f"203.0.113.{i}" for i in range(1, 60)]
        weights = 1.0 / np.arange(1, len(DOMAINS) + 1)
        self.domain_p = weights / weights.sum()
        self.n = 0

    def _activity(self, ts: datetime) -> float:
        local = (ts.hour + 7) % 24
        weekend = ts.weekday() >= 5
        return (1.0 if 8 <= local < 18 else 0.15) * (0.3 if weekend else 1.0)

    def hours(self, start: datetime, hours: int) -> Iterator[list[dict[str, Any]]]:
        for h in range(hours):
            yield self.hour(start + timedelta(hours=h))

    def hour(self, t0: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        out: list[dict[str, Any]] = []
        act = self._activity(t0)
        for name, ip, agency in self.hosts:
            for _ in range(rng.poisson(40 * act * self.rate)):
                ts = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
                dst = self.servers[int(rng.zipf(1.6)) % len(self.servers)]
                port = 443 if rng.random() < 0.85 else int(rng.choice([80, 8443, 25, 993]))
                out.append(self.flow(ts, ip, dst, port, int(rng.lognormal(8, 1.5)), agency))
            for _ in range(rng.poisson(30 * act * self.rate)):
                ts = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
                out.append(self.dns(ts, ip, self.benign_name(), agency, nx=rng.random() < 0.02))
            period = 1024.0
            phase = float(rng.uniform(0, period))
            k = 0
            while phase + k * period < 3600:  # NTP: periodic, to the same server from every host
                ts = t0 + timedelta(seconds=phase + k * period + float(rng.normal(0, 2)))
                out.append(self.flow(ts, ip, "203.0.113.123", 123, 90, agency))
                k += 1
            for _ in range(rng.poisson(3 * act * self.rate)):
                ts = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
                parent, child = LINEAGES[int(rng.integers(len(LINEAGES)))]
                out.append(self.process(ts, name, parent, child, agency))
        for _ in range(rng.poisson(20 * act * self.rate)):
            ts = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
            user = self.users[int(rng.integers(len(self.users)))]
            _name, ip, agency = self.hosts[int(rng.integers(len(self.hosts)))]
            server = f"srv{int(rng.integers(4))}"
            if rng.random() < 0.05:
                out.append(self.auth(ts, user, ip, server, False, agency))
            out.append(self.auth(ts + timedelta(seconds=5), user, ip, server, True, agency))
        for _ in range(rng.poisson(60 * self.rate)):  # internet background noise at the perimeter
            ts = t0 + timedelta(seconds=float(rng.uniform(0, 3600)))
            src = f"198.51.{int(rng.integers(0, 255))}.{int(rng.integers(1, 255))}"
            _name, dst, agency = self.hosts[int(rng.integers(len(self.hosts)))]
            port = int(rng.choice([22, 23, 80, 443, 445, 3389, 8080]))
            for _ in range(int(rng.integers(1, 3))):
                out.append(self.flow(ts, src, dst, port, 60, agency, denied=True))
        return out

    def benign_name(self) -> str:
        rng = self.rng
        domain = DOMAINS[int(rng.choice(len(DOMAINS), p=self.domain_p))]
        if domain in ("cloudfront.net", "akamaiedge.net", "amazonaws.com") and rng.random() < 0.7:
            label = "".join(rng.choice(ALNUM, size=int(rng.integers(8, 15))))
            return f"{label}.{domain}"
        return f"{SUBS[int(rng.integers(len(SUBS)))]}.{domain}"

    def _next(self, *parts: Any) -> str:
        self.n += 1
        return _eid("synthetic", self.n, *parts)

    def flow(
        self, ts: datetime, src: str, dst: str, port: int, sent: int, agency: str, *, denied: bool = False
    ) -> dict[str, Any]:
        return {
            "@timestamp": format_ts(ts),
            "event": {
                "id": self._next(),
                "kind": "event",
                "category": ["network"],
                "action": "network_flow",
                "type": ["connection", "denied"] if denied else ["connection"],
                "dataset": "synthetic.flow",
            },
            "source": {"ip": src, "port": 49152 + self.n % 16000, "bytes": sent},
            "destination": {"ip": dst, "port": port},
            "network": {"transport": "udp" if port == 123 else "tcp"},
            "organization": {"id": agency},
        }

    def dns(self, ts: datetime, client: str, name: str, agency: str, *, nx: bool = False) -> dict[str, Any]:
        labels = name.split(".")
        return {
            "@timestamp": format_ts(ts),
            "event": {
                "id": self._next(),
                "kind": "event",
                "category": ["network"],
                "action": "dns_query",
                "dataset": "synthetic.dns",
            },
            "source": {"ip": client, "port": 53000},
            "destination": {"ip": "10.0.0.53", "port": 53},
            "dns": {
                "type": "query",
                "question": {
                    "name": name,
                    "type": "AAAA" if self.n % 3 == 0 else "A",
                    "registered_domain": ".".join(labels[-2:]),
                },
                **({"response_code": "NXDOMAIN"} if nx else {}),
            },
            "organization": {"id": agency},
        }

    def auth(self, ts: datetime, user: str, src: str, host: str, ok: bool, agency: str) -> dict[str, Any]:
        return {
            "@timestamp": format_ts(ts),
            "event": {
                "id": self._next(),
                "kind": "event",
                "category": ["authentication"],
                "action": "ssh_login",
                "outcome": "success" if ok else "failure",
                "dataset": "synthetic.auth",
            },
            "user": {"name": user},
            "source": {"ip": src},
            "host": {"name": host},
            "organization": {"id": agency},
        }

    def process(self, ts: datetime, host: str, parent: str, child: str, agency: str) -> dict[str, Any]:
        return {
            "@timestamp": format_ts(ts),
            "event": {
                "id": self._next(),
                "kind": "event",
                "category": ["process"],
                "type": ["start"],
                "code": "1",
                "dataset": "synthetic.process",
            },
            "host": {"name": host},
            "process": {"name": child, "parent": {"name": parent}},
            "organization": {"id": agency},
        }


def beacon(
    start: datetime,
    hours: float,
    src: str,
    dst: str,
    port: int,
    *,
    period_s: float = 300.0,
    jitter: float = 0.1,
    seed: int = 1,
    sent: int = 420,
) -> list[dict[str, Any]]:
    """A SYNTHETIC command-and-control beacon: a check-in every ``period_s`` seconds
    with uniform jitter of +/- ``jitter`` of the period, near-constant size."""
    rng = np.random.default_rng(seed)
    gen = BenignGenerator(seed=seed, hosts=1, users=1)
    out, t = [], float(rng.uniform(0, period_s))
    while t < hours * 3600:
        ts = start + timedelta(seconds=t)
        event = gen.flow(ts, src, dst, port, int(sent + rng.integers(-20, 20)), "*")
        event["event"]["id"] = _eid("beacon", seed, src, dst, t)
        del event["organization"]
        out.append(event)
        t += period_s * (1 + float(rng.uniform(-jitter, jitter)))
    return out


def dga_queries(start: datetime, client: str, count: int = 40, *, seed: int = 1) -> list[dict[str, Any]]:
    """SYNTHETIC queries of a domain-generation algorithm: ``count`` random 10-16
    character .com/.net/.info names over about five minutes."""
    rng = np.random.default_rng(seed)
    gen = BenignGenerator(seed=seed, hosts=1, users=1)
    out = []
    for i in range(count):
        label = "".join(rng.choice(ALNUM[:26], size=int(rng.integers(10, 17))))
        name = f"{label}.{('com', 'net', 'info')[i % 3]}"
        event = gen.dns(start + timedelta(seconds=float(i * 300 / count)), client, name, "*", nx=True)
        event["event"]["id"] = _eid("dga", seed, client, i)
        del event["organization"]
        out.append(event)
    return out
