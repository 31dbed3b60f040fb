"""Hand-made ECS events for the ML tests."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from soc.event import format_ts


def _id(*parts: Any) -> str:
    return hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:32]


def flow(ts: datetime, src: str, dst: str, port: int, *, sent: int = 500, denied: bool = False, n: int = 0
         ) -> dict[str, Any]:  # fmt: skip
    return {
        "@timestamp": format_ts(ts),
        "event": {"id": _id("flow", ts, src, dst, port, n), "kind": "event", "category": ["network"],
                  "type": ["connection", "denied"] if denied else ["connection"], "action": "network_flow"},
        "source": {"ip": src, "port": 40000 + n % 20000, "bytes": sent},
        "destination": {"ip": dst, "port": port, "bytes": 1000},
        "network": {"transport": "tcp", "bytes": sent + 1000},
    }  # fmt: skip


def auth(ts: datetime, user: str, src: str, *, ok: bool, host: str = "srv1", n: int = 0) -> dict[str, Any]:
    return {
        "@timestamp": format_ts(ts),
        "event": {"id": _id("auth", ts, user, src, ok, n), "kind": "event", "category": ["authentication"],
                  "action": "ssh_login", "outcome": "success" if ok else "failure"},
        "user": {"name": user},
        "source": {"ip": src},
        "host": {"name": host},
    }  # fmt: skip


def dns_query(ts: datetime, client: str, name: str, *, qtype: str = "A", n: int = 0) -> dict[str, Any]:
    labels = name.split(".")
    return {
        "@timestamp": format_ts(ts),
        "event": {"id": _id("dns", ts, client, name, n), "kind": "event", "category": ["network"],
                  "action": "dns_query"},
        "source": {"ip": client, "port": 53000},
        "destination": {"ip": "10.0.0.53", "port": 53},
        "dns": {"type": "query", "question": {"name": name, "type": qtype,
                                              "registered_domain": ".".join(labels[-2:])}},
    }  # fmt: skip


def process_start(ts: datetime, host: str, parent: str, child: str, *, n: int = 0) -> dict[str, Any]:
    return {
        "@timestamp": format_ts(ts),
        "event": {"id": _id("proc", ts, host, parent, child, n), "kind": "event", "category": ["process"],
                  "type": ["start"], "code": "1"},
        "host": {"name": host},
        "process": {"name": child, "parent": {"name": parent}},
    }  # fmt: skip
