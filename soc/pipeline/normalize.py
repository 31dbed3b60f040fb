"""What every event carries, whatever parser made it (set after parsing)."""

from __future__ import annotations

from soc.event import ECS_VERSION, Event, RawRecord, format_ts, make_event_id, set_default, set_field


def finish_event(
    event: Event, record: RawRecord, index: int, *, keep_original: bool, ingested: str | None = None
) -> Event:
    """Add ``event.id``, ``event.ingested``, ``event.original``, ``log.*``,
    ``observer.*`` and ``ecs.version`` from the raw record to a parsed event.

    ``index`` is the event's position among the events parsed from one record, so
    that a record that yields several events gives each a distinct stable id.
    """
    set_field(event, "event.id", make_event_id(record.source, record.position, record.raw, index))
    set_field(event, "event.ingested", ingested or format_ts(record.received))
    if keep_original:
        set_default(event, "event.original", record.raw.decode("utf-8", "replace"))
    set_default(event, "ecs.version", ECS_VERSION)
    meta = record.meta
    if meta.get("input") == "file" or (meta.get("path") and record.source.startswith("file:")):
        set_field(event, "log.file.path", meta.get("path") or record.source[5:])
        set_field(event, "log.offset", record.position)
    if peer := meta.get("peer"):
        set_default(event, "observer.ip", peer)
        hostname = event.get("host", {}).get("hostname") if isinstance(event.get("host"), dict) else None
        if hostname:
            set_default(event, "observer.hostname", hostname)
    if transport := meta.get("transport"):
        set_default(
            event, "input.type", f"syslog-{transport}" if meta.get("input") == "syslog" else transport
        )
    elif input_type := meta.get("input"):
        set_default(event, "input.type", input_type)
    host = event.get("host")
    if isinstance(host, dict) and "name" not in host and host.get("hostname"):
        host["name"] = host["hostname"]
    return event
