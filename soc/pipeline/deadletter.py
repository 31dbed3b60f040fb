"""The dead-letter store: records no parser could turn into an event, with the reason,
kept in the state store so nothing accepted is ever lost (replayable after a fix)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from soc.event import Event, RawRecord, format_ts, get_field, parse_ts
from soc.state import StateStore, register_schema

register_schema(
    "dead_letters",
    """
    CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        record_id TEXT NOT NULL,
        received TEXT NOT NULL,
        source TEXT NOT NULL,
        position INTEGER NOT NULL,
        stage TEXT NOT NULL,
        parser TEXT NOT NULL,
        reason TEXT NOT NULL,
        field TEXT,
        raw BLOB NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}',
        UNIQUE (record_id, stage)
    );
    """,
)


@dataclass(slots=True)
class DeadLetter:
    record: RawRecord
    stage: str  # "parse", "normalize", "detect"
    parser: str
    reason: str
    field: str | None = None


def event_record(event: Event) -> RawRecord:
    """The record to keep for an event refused after parsing: its original text when
    kept, else the event itself as JSON, with the event's source and offset."""
    original = get_field(event, "event.original")
    raw = original.encode() if isinstance(original, str) else orjson.dumps(event, default=str)
    path = get_field(event, "log.file.path")
    source = f"file:{path}" if path else f"event:{get_field(event, 'input.type') or 'unknown'}"
    offset = get_field(event, "log.offset")
    ingested = get_field(event, "event.ingested")
    record = RawRecord(
        raw=raw,
        source=source,
        position=offset if isinstance(offset, int) else -1,
        meta={"event.id": get_field(event, "event.id")},
    )
    if isinstance(ingested, str):
        try:
            record.received = parse_ts(ingested)
        except ValueError:
            pass
    return record


class DeadLetterStore:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    def add(self, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        with self._state.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO dead_letters(record_id, received, source, position, stage, parser, "
                "reason, field, raw, meta) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [
                    (
                        d.record.event_id,
                        format_ts(d.record.received),
                        d.record.source,
                        d.record.position,
                        d.stage,
                        d.parser,
                        d.reason,
                        d.field,
                        d.record.raw,
                        orjson.dumps(d.record.meta, default=str).decode(),
                    )
                    for d in letters
                ],
            )

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        rows = self._state.query("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?", (limit,))
        return [
            {
                **{k: row[k] for k in row.keys() if k != "raw"},  # noqa: SIM118 - sqlite3.Row iterates values
                "raw": bytes(row["raw"]).decode("utf-8", "replace"),
            }
            for row in rows
        ]

    def count(self) -> int:
        return int(self._state.query("SELECT count(*) AS n FROM dead_letters")[0]["n"])
