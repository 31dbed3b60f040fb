"""Shared test helpers for stores: realistic generated authentication events.

``auth_events(n, seed)`` gives ECS events as a Linux auth parser would produce
them, with list fields (``event.category``), integers (ports, offsets), nested
custom fields, events missing optional fields and runs of equal timestamps.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from soc.event import Event, format_ts, make_event_id

BASE_TIME = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
USERS = ["root", "alice", "bob", "carol", "Admin", "admin", "svc-backup", "deploy"]
HOSTS = ["web-01", "web-02", "db-01", "bastion", "Web-01"]
SOURCE_IPS = ["10.0.0.5", "10.0.0.6", "192.168.1.20", "203.0.113.7", "198.51.100.23", "2001:db8::1"]
ACTIONS = [
    ("ssh_login", "success", ["authentication", "session"]),
    ("ssh_login", "failure", ["authentication"]),
    ("sudo", "success", ["process"]),
    ("logout", "success", ["session"]),
    ("user_add", "success", ["iam"]),
]


def auth_event(i: int, rng: random.Random, ts: datetime) -> Event:
    """One generated auth event number ``i`` at ``ts``."""
    action, outcome, category = ACTIONS[rng.randrange(len(ACTIONS))]
    user = rng.choice(USERS)
    host = rng.choice(HOSTS)
    ip = rng.choice(SOURCE_IPS)
    port = rng.randrange(1024, 65536)
    raw = f"{format_ts(ts)} {host} sshd[{1000 + i % 50}]: {action} {outcome} for {user} from {ip} port {port}"
    path = "/var/log/auth.log" if i % 3 else "/var/log/secure"
    event: dict[str, Any] = {
        "@timestamp": format_ts(ts),
        "message": raw,
        "event": {
            "id": make_event_id(f"file:{path}", i * 120, raw.encode()),
            "ingested": format_ts(ts + timedelta(seconds=2)),
            "dataset": "linux.auth",
            "action": action,
            "outcome": outcome,
            "kind": "event",
            "category": category if i % 7 else category[0],
            "severity": rng.choice([1, 3, 5, 8]),
        },
        "host": {"name": host, "hostname": host.lower()},
        "user": {"name": user},
        "process": {"name": "sshd", "pid": 1000 + i % 50},
        "log": {"file": {"path": path}, "offset": i * 120},
        "organization": {"id": rng.choice(["org-a", "org-b"])},
        "observer": {"ip": ["10.9.0.1"] if i % 2 else ["10.9.0.1", "10.9.0.2"]},
        "labels": {
            "env": rng.choice(["prod", "dev"]),
            "tags": rng.sample(["a", "b", "c", "d"], rng.randrange(0, 3)),
        },
        "related": {"ip": [ip], "user": [user]},
        "ecs": {"version": "8.11.0"},
    }
    if i % 5:
        event["source"] = {"ip": ip, "port": port}
    if i % 4 == 0:
        event["destination"] = {"ip": "10.0.0.1", "port": 22}
    if i % 11 == 0:
        event["custom"] = {"score": rng.choice([0.5, 1.5, 2, 7]), "flag": rng.choice([True, False])}
    if i % 13 == 0:
        event["custom_text"] = rng.choice(["22", "x", "2024-03-01T08:00:00.000Z"])
    return event


def auth_events(n: int, seed: int = 7, start: datetime = BASE_TIME, step_s: float = 1.5) -> list[Event]:
    """``n`` events; timestamps advance by ``step_s`` but come in runs of equal values."""
    rng = random.Random(seed)
    out = []
    ts = start
    for i in range(n):
        if rng.random() < 0.6:
            ts = ts + timedelta(seconds=step_s * rng.random() * 2)
        out.append(auth_event(i, rng, ts.replace(microsecond=ts.microsecond // 1000 * 1000)))
    return out


def open_test_store(backend: str, directory: Any, *, read_only: bool = False) -> Any:
    """A fresh store of the registered ``backend`` with its data under ``directory``
    (Elasticsearch: an index prefix of its own on the test cluster, see ``helpers_es``)."""
    from soc.store import open_store

    if backend == "elasticsearch":
        from tests.helpers_es import es_options

        return open_store(backend, directory, read_only=read_only, **es_options(str(directory)))
    return open_store(backend, directory, read_only=read_only)
