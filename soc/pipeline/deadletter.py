"""The dead-letter store: records no parser could turn into an event, with the reason,
kept in the state store so nothing accepted is ever lost (replayable after a fix)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
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
        replay TEXT,
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
                "INSERT INTO dead_letters(record_id, received, source, position, stage, parser, "
                "reason, field, raw, meta) VALUES (?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(record_id, stage) DO UPDATE SET parser = excluded.parser, "
                "reason = excluded.reason, field = excluded.field, replay = NULL",
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

    def list(
        self,
        limit: int = 100,
        *,
        stage: str | None = None,
        parser: str | None = None,
        source: str | None = None,
    ) -> list[dict[str, Any]]:
        """Dead letters, newest first, optionally of one stage, parser or source."""
        where, params = self._where(stage, parser, source)
        rows = self._state.query(
            f"SELECT * FROM dead_letters{where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [
            {
                **{k: row[k] for k in row.keys() if k not in ("raw", "replay")},  # noqa: SIM118 - Row iterates values
                "raw": bytes(row["raw"]).decode("utf-8", "replace"),
            }
            for row in rows
        ]

    def count(self) -> int:
        return int(self._state.query("SELECT count(*) AS n FROM dead_letters")[0]["n"])

    @staticmethod
    def _where(stage: str | None, parser: str | None, source: str | None) -> tuple[str, list[Any]]:
        clauses, params = [], []
        for column, value in (("stage", stage), ("parser", parser), ("source", source)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def claim_for_replay(
        self,
        token: str,
        *,
        limit: int,
        stage: str | None = None,
        parser: str | None = None,
        source: str | None = None,
    ) -> list[RawRecord]:
        """Mark up to ``limit`` dead letters with a replay ``token`` and return their
        records (with their original source, position and meta, so event ids stay the same).

        After the records went through the pipeline again, :meth:`finish_replay` deletes
        the rows still carrying the token; a record that failed again had its row
        updated (new reason, token cleared), so it stays.
        """
        where, params = self._where(stage, parser, source)
        with self._state.transaction() as conn:
            rows = conn.execute(
                f"SELECT id, source, position, received, raw, meta FROM dead_letters{where} "
                "ORDER BY id LIMIT ?",
                (*params, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE dead_letters SET replay = ? WHERE id = ?", [(token, r["id"]) for r in rows]
            )
        return [
            RawRecord(
                raw=bytes(r["raw"]),
                source=r["source"],
                position=r["position"],
                received=parse_ts(r["received"]),
                meta=orjson.loads(r["meta"]),
            )
            for r in rows
        ]

    def finish_replay(self, token: str) -> int:
        """Delete the replayed rows that did not fail again; returns how many."""
        with self._state.transaction() as conn:
            return conn.execute("DELETE FROM dead_letters WHERE replay = ?", (token,)).rowcount


@dataclass(slots=True)
class ReplayResult:
    replayed: int
    resolved: int

    @property
    def still_failing(self) -> int:
        return self.replayed - self.resolved


def replay_dead_letters(
    store: DeadLetterStore,
    accept: Callable[[list[RawRecord]], None],
    wait_drained: Callable[[float], bool],
    *,
    limit: int = 10_000,
    stage: str | None = "parse",
    parser: str | None = None,
    source: str | None = None,
    timeout_s: float = 300.0,
) -> ReplayResult:
    """Send dead letters through the pipeline again (after a parser fix): the records
    keep their source and position, so their event ids are the ones they would have
    had. Rows of records that now parse are deleted; the others stay with the new reason."""
    token = uuid.uuid4().hex
    records = store.claim_for_replay(token, limit=limit, stage=stage, parser=parser, source=source)
    if not records:
        return ReplayResult(0, 0)
    accept(records)
    if not wait_drained(timeout_s):
        raise TimeoutError(
            f"the pipeline did not process the {len(records)} replayed records in {timeout_s:.0f}s"
        )
    return ReplayResult(len(records), store.finish_replay(token))
