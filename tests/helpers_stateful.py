"""Synthetic timelines for the stateful rule tests: ECS events at chosen times, rule files."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.base import Match
from soc.event import Event, format_ts, set_field

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
_ids = itertools.count(1)


def ev(at: datetime | float, fields: dict[str, Any], *, event_id: str | None = None) -> Event:
    """An event at ``at`` (a datetime, or minutes after :data:`T0`) with dotted ``fields``."""
    ts = at if isinstance(at, datetime) else T0 + timedelta(minutes=at)
    event: Event = {"@timestamp": format_ts(ts)}
    for path, value in fields.items():
        set_field(event, path, value)
    set_field(event, "event.id", event_id or f"ev-{next(_ids):08d}")
    return event


def ssh_fail(at: datetime | float, ip: str, user: str = "root") -> Event:
    return ev(
        at,
        {
            "event.action": "ssh_login",
            "event.outcome": "failure",
            "event.category": ["authentication"],
            "source.ip": ip,
            "user.name": user,
            "process.name": "sshd",
            "host.name": "bastion",
        },
    )


def ssh_ok(at: datetime | float, ip: str, user: str = "root") -> Event:
    return ev(
        at,
        {
            "event.action": "ssh_login",
            "event.outcome": "success",
            "event.category": ["authentication", "session"],
            "source.ip": ip,
            "user.name": user,
            "process.name": "sshd",
            "host.name": "bastion",
        },
    )


def fw(
    at: datetime | float,
    observer: str,
    src: str = "10.0.0.9",
    port: int = 443,
    denied: bool = False,
    **extra: Any,
) -> Event:
    fields = {
        "event.category": ["network"],
        "event.type": ["connection", "denied" if denied else "allowed"],
        "observer.hostname": observer,
        "source.ip": src,
        "destination.ip": "192.0.2.10",
        "destination.port": port,
        **extra,
    }
    return ev(at, fields)


def write_rule(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def feed(detector: Any, events: Iterable[Event], *, tick_each: bool = True) -> list[Match]:
    """Observe each event in order (and tick at its time, as the engine does every second)."""
    from detectors.sigma.engine import event_time

    out: list[Match] = []
    for event in events:
        out.extend(detector.observe(event))
        if tick_each:
            out.extend(detector.tick(event_time(event)))
    return out


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)
