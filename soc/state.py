"""The state store: one SQLite file (WAL, synchronous=FULL) for everything that is
not an event: alerts, rule state, input checkpoints, the forwarding outbox, users and
the audit log.

Each feature owns its tables and registers its schema with :func:`register_schema`;
:class:`StateStore` applies every registered schema at open (``CREATE ... IF NOT
EXISTS``), so adding a feature never needs a migration of the others.
All access goes through :meth:`StateStore.transaction`, which serialises writers
across the engine's threads on one connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import orjson

_SCHEMAS: dict[str, str] = {}

T = TypeVar("T")


def register_schema(name: str, ddl: str) -> None:
    """Register the DDL of one feature's tables (idempotent statements only)."""
    _SCHEMAS[name] = ddl


register_schema(
    "kv",
    """
    CREATE TABLE IF NOT EXISTS kv (
        namespace TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (namespace, key)
    );
    """,
)


class StateStore:
    """The engine's SQLite state database at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=30000")
        self._applied: set[str] = set()
        self.ensure_schemas()

    def ensure_schemas(self) -> None:
        """Apply the schemas registered since this store was opened: a feature module
        imported later (lazily) finds its tables at its first transaction or query."""
        if len(self._applied) == len(_SCHEMAS):
            return
        with self._lock:
            missing = [name for name in list(_SCHEMAS) if name not in self._applied]
            if not missing:
                return
            with self._transaction() as conn:
                for name in missing:
                    _run_script(conn, _SCHEMAS[name])
            self._applied.update(missing)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One serialised transaction: committed on success, rolled back on error."""
        self.ensure_schemas()
        with self._transaction() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """A read outside any write transaction."""
        self.ensure_schemas()
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # key/value state (rule state, checkpoints, engine facts) -----------------

    def kv_get(self, namespace: str, key: str) -> Any:
        rows = self.query("SELECT value FROM kv WHERE namespace = ? AND key = ?", (namespace, key))
        return orjson.loads(rows[0]["value"]) if rows else None

    def kv_put(self, namespace: str, key: str, value: Any) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO kv(namespace, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT(namespace, key) DO UPDATE SET value = excluded.value, "
                "updated = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
                (namespace, key, orjson.dumps(value)),
            )

    def kv_items(self, namespace: str) -> dict[str, Any]:
        rows = self.query("SELECT key, value FROM kv WHERE namespace = ?", (namespace,))
        return {row["key"]: orjson.loads(row["value"]) for row in rows}


def read_existing(path: Path, read: Callable[[StateStore], list[T]]) -> list[T]:
    """``read(store)`` on the state store at ``path``, or ``[]`` when there is none yet
    (a read never creates one): for CLI listings beside or without a running engine."""
    if not path.exists():
        return []
    state = StateStore(path)
    try:
        return read(state)
    finally:
        state.close()


def _run_script(conn: sqlite3.Connection, ddl: str) -> None:
    """Run DDL statements one by one inside the open transaction (``executescript``
    would commit it). Splits on ``;`` only where a statement is complete, so trigger
    bodies with their own ``;`` stay whole."""
    statement = ""
    for piece in ddl.split(";"):
        statement += piece + ";"
        if sqlite3.complete_statement(statement):
            if statement.strip(" \n\t;"):
                conn.execute(statement)
            statement = ""


class StateCheckpoints:
    """Input checkpoints (``collectors.inputs.base.CheckpointStore``) kept in the state store."""

    namespace = "checkpoint"

    def __init__(self, state: StateStore) -> None:
        self._state = state

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._state.kv_get(self.namespace, key)
        return value if isinstance(value, dict) else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self._state.kv_put(self.namespace, key, value)
