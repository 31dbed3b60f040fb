"""The record of scheduled runs in the state store: one row per window run, one row per rule.

``rule_runs`` keeps every run (``ok``, ``error`` or ``skipped``) with its window, start,
duration, hits, alerts and error. ``rule_schedule`` keeps, per rule, the end of the last
committed window, the rule's :meth:`~detectors.base.ScheduledRule.snapshot` state and the
running totals ``soc rules status`` shows. A successful window, its totals and the rule's
state are written in one transaction, so a restart resumes exactly after the last committed
window: no gap, no window evaluated twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from detectors.base import RuleInfo
from soc.event import format_ts, parse_ts
from soc.state import StateStore, register_schema

register_schema(
    "rule_runs",
    """
    CREATE TABLE IF NOT EXISTS rule_runs (
        rule_id TEXT NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        started TEXT NOT NULL,
        duration_ms REAL NOT NULL DEFAULT 0,
        hits INTEGER NOT NULL DEFAULT 0,
        alerts INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        error TEXT
    );
    CREATE INDEX IF NOT EXISTS rule_runs_rule ON rule_runs(rule_id, window_start);
    CREATE INDEX IF NOT EXISTS rule_runs_started ON rule_runs(started);
    CREATE TABLE IF NOT EXISTS rule_schedule (
        rule_id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        type TEXT NOT NULL DEFAULT '',
        run_every_s REAL NOT NULL DEFAULT 0,
        buffer_time_s REAL NOT NULL DEFAULT 0,
        query_delay_s REAL NOT NULL DEFAULT 0,
        window_start TEXT,
        window_end TEXT,
        state BLOB,
        last_run TEXT,
        last_duration_ms REAL,
        last_hits INTEGER NOT NULL DEFAULT 0,
        last_alerts INTEGER NOT NULL DEFAULT 0,
        runs INTEGER NOT NULL DEFAULT 0,
        hits INTEGER NOT NULL DEFAULT 0,
        alerts INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        skipped INTEGER NOT NULL DEFAULT 0,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_error_at TEXT
    );
    """,
)

RunStatus = str  # "ok" | "error" | "skipped"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One row of ``rule_runs``."""

    rule_id: str
    window_start: datetime
    window_end: datetime
    started: datetime
    duration_ms: float
    hits: int
    alerts: int
    status: RunStatus
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a rule resumes: the end of its last committed window and its state then."""

    window_end: datetime | None
    state: dict[str, Any] | None
    consecutive_failures: int


class RunLog:
    """Reads and writes ``rule_runs`` and ``rule_schedule``."""

    def __init__(self, state: StateStore) -> None:
        self._state = state

    def register(self, rule: RuleInfo, run_every: timedelta, buffer_time: timedelta,
                 query_delay: timedelta) -> Resume:
        """Create or refresh the rule's row (title, type, timing) and return where it resumes."""
        with self._state.transaction() as conn:
            conn.execute(
                "INSERT INTO rule_schedule (rule_id, title, type, run_every_s, buffer_time_s, query_delay_s) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(rule_id) DO UPDATE SET title = excluded.title, "
                "type = excluded.type, run_every_s = excluded.run_every_s, "
                "buffer_time_s = excluded.buffer_time_s, query_delay_s = excluded.query_delay_s",
                (rule.id, rule.title, rule.type, run_every.total_seconds(), buffer_time.total_seconds(),
                 query_delay.total_seconds()),
            )
            row = conn.execute(
                "SELECT window_end, state, consecutive_failures FROM rule_schedule WHERE rule_id = ?",
                (rule.id,),
            ).fetchone()
        return Resume(
            parse_ts(row["window_end"]) if row["window_end"] else None,
            orjson.loads(row["state"]) if row["state"] else None,
            int(row["consecutive_failures"]),
        )

    def commit(self, run: RunRecord, state: dict[str, Any]) -> None:
        """A successful window: its run row, the rule's new position and state, in one transaction."""
        blob = orjson.dumps(state, default=str)
        with self._state.transaction() as conn:
            self._insert(conn, run)
            conn.execute(
                "UPDATE rule_schedule SET window_start = ?, window_end = ?, state = ?, last_run = ?, "
                "last_duration_ms = ?, last_hits = ?, last_alerts = ?, runs = runs + 1, "
                "hits = hits + ?, alerts = alerts + ?, consecutive_failures = 0 WHERE rule_id = ?",
                (format_ts(run.window_start), format_ts(run.window_end), blob, format_ts(run.started),
                 run.duration_ms, run.hits, run.alerts, run.hits, run.alerts, run.rule_id),
            )

    def fail(self, run: RunRecord) -> int:
        """A failed window (to be retried): its run row and the error; returns the rule's
        consecutive failures."""
        with self._state.transaction() as conn:
            self._insert(conn, run)
            conn.execute(
                "UPDATE rule_schedule SET last_run = ?, last_duration_ms = ?, runs = runs + 1, "
                "errors = errors + 1, consecutive_failures = consecutive_failures + 1, last_error = ?, "
                "last_error_at = ? WHERE rule_id = ?",
                (format_ts(run.started), run.duration_ms, run.error, format_ts(run.started), run.rule_id),
            )
            row = conn.execute(
                "SELECT consecutive_failures FROM rule_schedule WHERE rule_id = ?", (run.rule_id,)
            ).fetchone()
        return int(row["consecutive_failures"]) if row else 0

    def skip(self, run: RunRecord) -> None:
        """Windows beyond the catch-up horizon: recorded as skipped with the reason, and the
        rule moves past them."""
        with self._state.transaction() as conn:
            self._insert(conn, run)
            conn.execute(
                "UPDATE rule_schedule SET window_end = ?, skipped = skipped + 1 WHERE rule_id = ?",
                (format_ts(run.window_end), run.rule_id),
            )

    def _insert(self, conn: Any, run: RunRecord) -> None:
        conn.execute(
            "INSERT INTO rule_runs (rule_id, window_start, window_end, started, duration_ms, hits, alerts, "
            "status, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run.rule_id, format_ts(run.window_start), format_ts(run.window_end), format_ts(run.started),
             run.duration_ms, run.hits, run.alerts, run.status, run.error),
        )

    def runs(self, rule_id: str, *, status: str | None = None) -> list[RunRecord]:
        """The recorded runs of a rule, oldest window first."""
        sql = "SELECT * FROM rule_runs WHERE rule_id = ?"
        params: tuple[Any, ...] = (rule_id,)
        if status is not None:
            sql += " AND status = ?"
            params = (rule_id, status)
        rows = self._state.query(sql + " ORDER BY window_start, started", params)
        return [
            RunRecord(r["rule_id"], parse_ts(r["window_start"]), parse_ts(r["window_end"]),
                      parse_ts(r["started"]), r["duration_ms"], r["hits"], r["alerts"], r["status"],
                      r["error"])
            for r in rows
        ]

    def schedule_rows(self) -> list[dict[str, Any]]:
        """Every rule's ``rule_schedule`` row (state left out), by rule id."""
        rows = self._state.query("SELECT * FROM rule_schedule ORDER BY rule_id")
        out = []
        for row in rows:
            fields = dict(row)
            fields.pop("state", None)
            out.append(fields)
        return out

    def prune(self, before: datetime) -> int:
        """Delete run rows started before ``before`` (the per-rule totals stay)."""
        with self._state.transaction() as conn:
            cur = conn.execute("DELETE FROM rule_runs WHERE started < ?", (format_ts(before),))
        return cur.rowcount
