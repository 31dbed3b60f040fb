"""The event model: raw records as collectors accept them, and ECS events.

This module is the one contract every stage shares. It imports nothing else of ours.

* A :class:`RawRecord` is what a collector accepts: the raw bytes, where they came
  from (``source``) and their position in that source (``position``: the byte offset
  of the line start for files, the spool sequence number for network inputs).
* An *event* is an ECS document held as a nested ``dict`` (``{"source": {"ip": ...}}``),
  exactly as it is stored and serialised. Helpers here read and write dotted paths.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Event = dict[str, Any]
"""An ECS document as a nested dict."""

ECS_VERSION = "8.11.0"


@dataclass(slots=True)
class RawRecord:
    """One record as accepted from a collector, before parsing.

    ``source`` names the stream, e.g. ``file:/var/log/auth.log`` or
    ``syslog:tcp:10.0.0.5``; ``position`` is stable for a re-delivery of the same
    record (file offset, or spool sequence for network inputs).
    ``meta`` carries input facts the parser may use: ``input`` (``file``, ``syslog``),
    ``transport`` (``udp``/``tcp``), ``peer`` (sending address), ``peer_port``,
    ``path``, ``format`` (a parser name forced by config or the user), ``timezone``.
    """

    raw: bytes
    source: str
    position: int
    received: datetime = field(default_factory=lambda: datetime.now(UTC))
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def event_id(self) -> str:
        return make_event_id(self.source, self.position, self.raw)


def make_event_id(source: str, position: int, raw: bytes, index: int = 0) -> str:
    """Deterministic id of the ``index``-th event parsed from a raw record.

    The same source, position and bytes always give the same id, so a re-delivered
    record is stored once.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(source.encode("utf-8", "surrogateescape"))
    h.update(b"\0")
    h.update(str(position).encode())
    h.update(b"\0")
    h.update(raw)
    if index:
        h.update(b"\0")
        h.update(str(index).encode())
    return h.hexdigest()


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_utc(ts: datetime) -> datetime:
    """Return ``ts`` as an aware UTC datetime; naive input is refused."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: every time inside the engine is timezone-aware")
    return ts.astimezone(UTC)


def format_ts(ts: datetime) -> str:
    """ECS timestamp text: ISO 8601 in UTC with a ``Z`` and millisecond or finer precision."""
    ts = ensure_utc(ts)
    if ts.microsecond % 1000:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse an ECS/ISO 8601 timestamp (``Z`` or offset) to aware UTC."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


_MISSING = object()


def get_field(event: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Read a dotted ECS path from a nested event (``get_field(e, "source.ip")``).

    A literal dotted key (``{"source.ip": ...}``) is honoured too, for flattened input.
    """
    value = event.get(path, _MISSING)
    if value is not _MISSING:
        return value
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return default
    return node


def set_field(event: Event, path: str, value: Any) -> None:
    """Write a dotted ECS path into a nested event, creating objects on the way."""
    parts = path.split(".")
    node = event
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def set_default(event: Event, path: str, value: Any) -> None:
    """Like :func:`set_field`, but keeps a value that is already there."""
    if get_field(event, path) is None:
        set_field(event, path, value)


def flatten(event: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted_path, leaf_value)`` pairs; lists are leaves."""
    for key, value in event.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, path + ".")
        else:
            yield path, value


def unflatten(doc: Mapping[str, Any]) -> Event:
    """Turn a dotted-key document (``{"source.ip": ..}``) into a nested event."""
    event: Event = {}
    for key, value in doc.items():
        set_field(event, key, value)
    return event
