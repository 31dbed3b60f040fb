"""Detector rule state in the state store, written incrementally.

Tables (one row per rule id, per group, per remembered event id):

* ``stateful_rule_state``: a rule's header (realert clocks, held aggregations, clocks,
  counters), or the whole state of a small rule (a Sigma correlation);
* ``stateful_group_state``: one row per group of a stateful rule (its window, baseline,
  evidence), written only when the group changed;
* ``stateful_seen_ids``: the ids of events a rule observed recently (re-delivery
  protection), inserted as they come and deleted once older than the rule's horizon.

A :class:`PendingCheckpoint` is taken (serialized) by the thread that owns the detectors
and written later by another (the engine's writer, just before it acknowledges the spool
records the checkpoint covers) in one transaction: all or nothing.
"""

from __future__ import annotations

from collections import defaultdict
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
CREATE TABLE IF NOT EXISTS stateful_group_state (
    rule_id TEXT NOT NULL,
    group_key TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (rule_id, group_key)
);
CREATE TABLE IF NOT EXISTS stateful_seen_ids (
    rule_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    ts REAL NOT NULL,
    PRIMARY KEY (rule_id, event_id)
);
CREATE INDEX IF NOT EXISTS stateful_seen_ids_ts ON stateful_seen_ids(rule_id, ts);
"""
register_schema("stateful_rule_state", DDL)


def serialize(snapshot: Any) -> bytes:
    return orjson.dumps(snapshot, default=str, option=orjson.OPT_NON_STR_KEYS)


@dataclass(slots=True)
class RuleDelta:
    """What changed in one rule since its previous checkpoint."""

    rule_type: str
    header: bytes
    replace: bool = False  # drop the rule's stored groups and ids first (full rewrite)
    groups: dict[str, bytes] = field(default_factory=dict)  # group key (JSON) -> state
    removed: list[str] = field(default_factory=list)
    ids: list[tuple[str, float]] = field(default_factory=list)
    ids_before: float | None = None  # delete remembered ids older than this


@dataclass(slots=True)
class PendingCheckpoint:
    """Serialized changes of the rules that changed since the previous checkpoint."""

    rows: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # whole states (correlations)
    deltas: dict[str, RuleDelta] = field(default_factory=dict)  # stateful rules

    def commit(self, state: StateStore) -> None:
        RuleStateTable(state).save(self)

    def __len__(self) -> int:
        return len(self.rows) + len(self.deltas)


class RuleStateTable:
    """Rule state rows, by rule id."""

    def __init__(self, state: StateStore) -> None:
        self._state = state
        state.ensure_schemas()  # the store may have been opened before this module was imported

    def save(self, pending: PendingCheckpoint) -> None:
        if not len(pending):
            return
        now = format_ts(utcnow())
        headers = [(rid, rtype, blob, now) for rid, (rtype, blob) in pending.rows.items()]
        headers += [(rid, d.rule_type, d.header, now) for rid, d in pending.deltas.items()]
        with self._state.transaction() as conn:
            conn.executemany(
                "INSERT INTO stateful_rule_state(rule_id, rule_type, state, updated) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(rule_id) DO UPDATE SET rule_type = excluded.rule_type, state = excluded.state, "
                "updated = excluded.updated",
                headers,
            )
            for rid, d in pending.deltas.items():
                if d.replace:
                    conn.execute("DELETE FROM stateful_group_state WHERE rule_id = ?", (rid,))
                    conn.execute("DELETE FROM stateful_seen_ids WHERE rule_id = ?", (rid,))
                conn.executemany(
                    "DELETE FROM stateful_group_state WHERE rule_id = ? AND group_key = ?",
                    [(rid, k) for k in d.removed],
                )
                conn.executemany(
                    "INSERT INTO stateful_group_state(rule_id, group_key, state) VALUES (?, ?, ?) "
                    "ON CONFLICT(rule_id, group_key) DO UPDATE SET state = excluded.state",
                    [(rid, k, blob) for k, blob in d.groups.items()],
                )
                conn.executemany(
                    "INSERT OR IGNORE INTO stateful_seen_ids(rule_id, event_id, ts) VALUES (?, ?, ?)",
                    [(rid, eid, ts) for eid, ts in d.ids],
                )
                if d.ids_before is not None:
                    conn.execute(
                        "DELETE FROM stateful_seen_ids WHERE rule_id = ? AND ts < ?", (rid, d.ids_before)
                    )

    def load(self) -> dict[str, dict[str, Any]]:
        """Every rule's state as one dict (a stateful rule's groups under ``"groups"`` and
        its remembered ids under ``"seen"``, as :meth:`RuleRuntime.snapshot` gives them)."""
        out: dict[str, dict[str, Any]] = {}
        for row in self._state.query("SELECT rule_id, state FROM stateful_rule_state"):
            out[row["rule_id"]] = orjson.loads(row["state"])
        groups: dict[str, list[Any]] = defaultdict(list)
        for row in self._state.query("SELECT rule_id, state FROM stateful_group_state ORDER BY rowid"):
            groups[row["rule_id"]].append(orjson.loads(row["state"]))
        seen: dict[str, list[Any]] = defaultdict(list)
        for row in self._state.query("SELECT rule_id, event_id, ts FROM stateful_seen_ids ORDER BY ts"):
            seen[row["rule_id"]].append([row["event_id"], row["ts"]])
        for rid, data in out.items():
            if data.get("layout") == "split":
                data["groups"] = groups.get(rid, [])
                data["seen"] = seen.get(rid, [])
        return out

    def delete(self, rule_ids: list[str]) -> None:
        with self._state.transaction() as conn:
            for table in ("stateful_rule_state", "stateful_group_state", "stateful_seen_ids"):
                conn.executemany(f"DELETE FROM {table} WHERE rule_id = ?", [(r,) for r in rule_ids])
