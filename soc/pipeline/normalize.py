"""What every event carries, whatever parser made it (set after parsing)."""

from __future__ import annotations

from typing import Any

from soc.event import ECS_VERSION, Event, RawRecord, format_ts, make_event_id


def _child(event: Event, key: str) -> dict[str, Any]:
    node = event.get(key)
    if not isinstance(node, dict):
        node = {}
        event[key] = node
    return node


def finish_event(
    event: Event, record: RawRecord, index: int, *, keep_original: bool, ingested: str | None = None
) -> Event:
    """Add ``event.id``, ``event.ingested``, ``event.original``, ``log.*``,
    ``observer.*``, ``input.type`` and ``ecs.version`` from the raw record to a
    parsed event, and ``host.name`` from ``host.hostname``.

    ``index`` is the event's position among the events parsed from one record, so
    that a record that yields several events gives each a distinct stable id.
    This runs for every event, so it writes the nested dicts directly.
    """
    ev = _child(event, "event")
    ev["id"] = make_event_id(record.source, record.position, record.raw, index)
    ev["ingested"] = ingested or format_ts(record.received)
    if keep_original and "original" not in ev:
        ev["original"] = record.raw.decode("utf-8", "replace")
    ecs = _child(event, "ecs")
    ecs.setdefault("version", ECS_VERSION)
    meta = record.meta
    source_kind = meta.get("input")
    path = meta.get("path")
    if path or record.source.startswith("file:"):
        log = _child(event, "log")
        _child(log, "file")["path"] = path or record.source[5:]
        if record.source.startswith("file:"):  # line files: the byte offset of the line start
            log["offset"] = record.position
    host = event.get("host")
    if isinstance(host, dict) and "name" not in host and host.get("hostname"):
        host["name"] = host["hostname"]
    peer = meta.get("peer")
    if peer:
        observer = _child(event, "observer")
        observer.setdefault("ip", peer)
        if isinstance(host, dict) and host.get("hostname"):
            observer.setdefault("hostname", host["hostname"])
    transport = meta.get("transport")
    if transport or source_kind:
        kind = f"syslog-{transport}" if source_kind == "syslog" and transport else (transport or source_kind)
        _child(event, "input").setdefault("type", kind)
    return event
