"""Detector rule state in the state store: table ``stateful_rule_state`` (one row per rule
id; stateful rules and Sigma correlations alike).

:meth:`RuleStateTable.save` writes the serialized snapshots of several rules in one
transaction, so a checkpoint is all or nothing. :class:`PendingCheckpoint` is a
checkpoint taken (serialized) by the thread that owns the detectors and written later by
another (the engine's writer, just before it acknowledges the spool records the
checkpoint covers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from soc.event import format_ts, utcnow
from soc.state import StateStore, register_schema

DDL = """
CREATE TABLE IF NOT EXISTS stateful_rule_state (
    rule_id TEXT PRIMARY KEY,
    rule_type TEXT NOT NULL,
    state BLOB NOT NULL,
    updated TEXT NOT NULL
);
"""
register_schema("stateful_rule_state", DDL)


class RuleStateTable:
    """Snapshots of stateful rules, by rule id."""

    def __init__(self, state: StateStore) -> None:
        self._state = state
        with state.transaction() as conn:
            conn.execute(DDL)

    def save(self, rows: dict[str, tuple[str, bytes]]) -> None:
        if not rows:
            return
        now = format_ts(utcnow())
        with self._state.transaction() as conn:
            conn.executemany(
                "INSERT INTO stateful_rule_state(rule_id, rule_type, state, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(rule_id) DO UPDATE SET rule_type = excluded.rule_type, state = excluded.state, "
                "updated = excluded.updated",
                [(rid, rtype, blob, now) for rid, (rtype, blob) in rows.items()],
            )

    def load(self) -> dict[str, dict[str, Any]]:
        rows = self._state.query("SELECT rule_id, state FROM stateful_rule_state")
        return {row["rule_id"]: orjson.loads(row["state"]) for row in rows}

    def delete(self, rule_ids: list[str]) -> None:
        with self._state.transaction() as conn:
            conn.executemany("DELETE FROM stateful_rule_state WHERE rule_id = ?", [(r,) for r in rule_ids])


@dataclass(slots=True)
class PendingCheckpoint:
    """Serialized snapshots of the rules that changed since the previous checkpoint."""

    rows: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    def commit(self, state: StateStore) -> None:
        RuleStateTable(state).save(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


def serialize(snapshot: dict[str, Any]) -> bytes:
    return orjson.dumps(snapshot, default=str, option=orjson.OPT_NON_STR_KEYS)
