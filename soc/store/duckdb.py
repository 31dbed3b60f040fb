"""DuckDBStore: the embedded event store, one DuckDB file owned by one process.

Events are kept in one table: typed "hot" columns for common ECS fields (see
:mod:`soc.store.fields`) plus the whole document as JSON text (``doc``), so any
other field can be filtered, counted and returned. Writes append Arrow batches.

Idempotence on ``event.id`` uses an anti-join against the ids already stored in
the batch's ``@timestamp`` range (zone maps skip the rest of the table). This
relies on a re-delivered event having the same ``@timestamp`` as before, which
holds because ids and timestamps are both derived from the same raw record. A
``PRIMARY KEY`` on ``id`` (``dedup="primary_key"``, fixed when the file is
created) is exact regardless of time but appends several times slower at 1M+
rows; ``bench/store.py --dedup`` measures both.

Checkpoints: the WAL threshold is raised and a checkpoint runs at write time
once ``checkpoint_interval_s`` has passed since the last one; :meth:`flush`
forces one. All writes hold one lock; queries run on per-thread cursors.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
import orjson
import pyarrow as pa

from soc.event import Event, ensure_utc
from soc.store.base import Bucket, Page, Query, Sort, StoreError, StoreStats, WriteResult
from soc.store.cursor import DEFAULT_SORT, check_sort, decode_cursor, encode_cursor, is_time_field
from soc.store.fields import HOT_BY_PATH, HOT_FIELDS, check_event
from soc.store.match import ALL, check_query
from soc.store.memory import from_epoch_us
from soc.store.sql import (
    JSON_NUM,
    JSON_RANK,
    JSON_SCALAR_TYPES,
    JSON_TEXT,
    Params,
    json_pointer,
    key_elements,
    where_sql,
)

Dedup = Literal["range", "primary_key"]

_SQL_TYPE = {"str": "VARCHAR", "int": "BIGINT", "ts": "TIMESTAMPTZ", "strlist": "VARCHAR[]"}
_ARROW_TYPE = {
    "str": pa.string(),
    "int": pa.int64(),
    "ts": pa.int64(),  # microseconds since the epoch; the INSERT turns them into TIMESTAMPTZ
    "strlist": pa.list_(pa.string()),
}
_COLUMNS = [f.column for f in HOT_FIELDS] + ["doc"]
_TS_COLUMNS = {f.column for f in HOT_FIELDS if f.kind == "ts"}
_SCHEMA = pa.schema(
    [pa.field(f.column, _ARROW_TYPE[f.kind]) for f in HOT_FIELDS] + [pa.field("doc", pa.string())]
)
_MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


def _create_sql(dedup: Dedup) -> str:
    cols = []
    for f in HOT_FIELDS:
        null = " NOT NULL" if f.column in ("id", "ts") else ""
        pk = " PRIMARY KEY" if f.column == "id" and dedup == "primary_key" else ""
        cols.append(f"{f.column} {_SQL_TYPE[f.kind]}{null}{pk}")
    cols.append("doc VARCHAR NOT NULL")
    return "CREATE TABLE IF NOT EXISTS events (" + ", ".join(cols) + ")"


class DuckDBStore:
    """A :class:`~soc.store.base.Store` in a DuckDB file at ``path``."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        checkpoint_interval_s: float = 30.0,
        memory_limit: str | None = None,
        dedup: Dedup = "range",
    ) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self.checkpoint_interval_s = checkpoint_interval_s
        if dedup not in ("range", "primary_key"):
            raise ValueError(f"dedup must be 'range' or 'primary_key', got {dedup!r}")
        if memory_limit is not None and not _MEMORY_LIMIT.match(memory_limit):
            raise ValueError(f"memory_limit must look like '2GB' or '512MiB', got {memory_limit!r}")
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no event store here to open read-only", retryable=False)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise StoreError(
                f"{self.path}: cannot open event store ({exc}); is another process (the engine) using it?"
            ) from None
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: cannot open event store: {exc}", retryable=False) from None
        self._wlock = threading.Lock()
        self._local = threading.local()
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._cursors_lock = threading.Lock()
        self._closed = False
        self._con.execute("SET TimeZone = 'UTC'")
        if memory_limit is not None:
            self._con.execute(f"SET memory_limit = '{memory_limit}'")
        if not read_only:
            self._con.execute("SET checkpoint_threshold = '512MB'")
            self._con.execute(_create_sql(dedup))
        self.dedup: Dedup = "primary_key" if self._has_primary_key() else "range"
        self._last_checkpoint = time.monotonic()

    def _has_primary_key(self) -> bool:
        rows = self._con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'events' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchall()[0]
        return bool(rows and rows[0])

    # -- plumbing ---------------------------------------------------------------------------

    def _cur(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise StoreError(f"{self.path}: store is closed", retryable=False)
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            cur.execute("SET TimeZone = 'UTC'")
            self._local.cur = cur
            with self._cursors_lock:
                self._cursors.append(cur)
        return cur

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._cur().execute(sql, list(params)).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: query failed: {exc}") from None

    def _where(self, query: Query) -> tuple[str, list[Any]]:
        p = Params()
        return where_sql(check_query(query), p), p.values

    # -- writes -----------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> WriteResult:
        if self.read_only:
            raise StoreError(f"{self.path}: store is open read-only", retryable=False)
        rows: dict[str, tuple[Any, ...]] = {}
        in_batch_dupes = 0
        dumps = orjson.dumps
        for i, event in enumerate(events):
            row = check_event(event, i)
            if row[0] in rows:
                in_batch_dupes += 1
                continue
            try:
                rows[row[0]] = (*row, dumps(event).decode())
            except TypeError as exc:
                raise StoreError(f"event {i} (id {row[0]!r}): not JSON-serialisable: {exc}",
                                 retryable=False) from None
        if not rows:
            return WriteResult(stored=0, duplicates=in_batch_dupes)
        columns = list(zip(*rows.values(), strict=True))
        table = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, _SCHEMA, strict=True)], schema=_SCHEMA
        )
        ts_col = columns[1]
        cols = ", ".join(_COLUMNS)
        select = ", ".join(f"make_timestamptz({c})" if c in _TS_COLUMNS else c for c in _COLUMNS)
        with self._wlock:
            if self._closed:
                raise StoreError(f"{self.path}: store is closed", retryable=False)
            try:
                self._con.register("_soc_batch", table)
                try:
                    if self.dedup == "primary_key":
                        sql = f"INSERT OR IGNORE INTO events ({cols}) SELECT {select} FROM _soc_batch"
                        params: list[Any] = []
                    else:
                        sql = (
                            f"INSERT INTO events ({cols}) SELECT {select} FROM _soc_batch b "
                            "WHERE b.id NOT IN (SELECT id FROM events WHERE ts >= ? AND ts <= ?)"
                        )
                        params = [from_epoch_us(min(ts_col)), from_epoch_us(max(ts_col))]
                    res = self._con.execute(sql, params).fetchall()[0]
                finally:
                    self._con.unregister("_soc_batch")
                stored = int(res[0]) if res else 0
                if time.monotonic() - self._last_checkpoint >= self.checkpoint_interval_s:
                    self._checkpoint()
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: write of {len(rows)} events failed: {exc}") from None
        return WriteResult(stored=stored, duplicates=len(events) - stored)

    def _checkpoint(self) -> None:
        self._con.execute("CHECKPOINT").fetchall()
        self._last_checkpoint = time.monotonic()

    def flush(self) -> None:
        if self.read_only:
            return
        with self._wlock:
            if self._closed:
                raise StoreError(f"{self.path}: store is closed", retryable=False)
            try:
                self._checkpoint()
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: checkpoint failed: {exc}") from None

    def delete_before(self, cutoff: datetime) -> int:
        if self.read_only:
            raise StoreError(f"{self.path}: store is open read-only", retryable=False)
        cutoff = ensure_utc(cutoff)
        with self._wlock:
            try:
                res = self._con.execute("DELETE FROM events WHERE ts < ?", [cutoff]).fetchall()[0]
            except duckdb.Error as exc:
                raise StoreError(f"{self.path}: retention delete failed: {exc}") from None
        return int(res[0]) if res else 0

    # -- reads ------------------------------------------------------------------------------

    def get(self, event_ids: Sequence[str]) -> list[Event]:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return []
        rows = self._query("SELECT id, doc FROM events WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        found = {i: orjson.loads(d) for i, d in rows}
        return [found[i] for i in ids if i in found]

    def query_where(
        self,
        where: str,
        params: Sequence[Any],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Events for which the SQL condition ``where`` holds (its ``?`` bound to
        ``params``) and ``start <= @timestamp < end``, newest first (ties by id), at most
        ``limit``. For Sigma query mode (``detectors.sigma.query``), whose converter
        builds ``where`` from a rule with every value a bound parameter."""
        p = Params()
        bounds = []
        if start is not None:
            bounds.append(f"ts >= {p(ensure_utc(start))}")
        if end is not None:
            bounds.append(f"ts < {p(ensure_utc(end))}")
        head = " AND ".join(bounds) + " AND " if bounds else ""
        sql = f"SELECT doc FROM events WHERE {head}({where}) ORDER BY ts DESC, id DESC"
        values = [*p.values, *params]
        if limit is not None:
            sql += " LIMIT ?"
            values.append(limit)
        return [orjson.loads(r[0]) for r in self._query(sql, values)]

    def search(
        self, query: Query, *, size: int = 100, sort: Sort = DEFAULT_SORT, after: str | None = None
    ) -> Page:
        check_sort(sort)
        if size < 1:
            raise ValueError(f"search size must be >= 1, got {size}")
        where, params = self._where(query)
        total = self._query(f"SELECT count(*) FROM events WHERE {where}", params)[0][0]
        col = HOT_BY_PATH[sort.field].column
        is_ts = is_time_field(sort.field)
        op, direction = ("<", "DESC") if sort.descending else (">", "ASC")
        cond = ""
        cparams: list[Any] = []
        if after is not None:
            cv, cid = decode_cursor(after, sort)
            if cv is None:
                cond = f" AND {col} IS NULL AND id {op} ?"
                cparams = [cid]
            else:
                v = from_epoch_us(cv) if is_ts and isinstance(cv, int) else cv
                cond = f" AND ({col} {op} ? OR ({col} = ? AND id {op} ?) OR {col} IS NULL)"
                cparams = [v, v, cid]
        value_expr = f"epoch_us({col})" if is_ts else col
        rows = self._query(
            f"SELECT doc, {value_expr}, id FROM events WHERE {where}{cond} "
            f"ORDER BY {col} {direction} NULLS LAST, id {direction} LIMIT ?",
            [*params, *cparams, size + 1],
        )
        page = rows[:size]
        cursor = encode_cursor(sort, page[-1][1], page[-1][2]) if len(rows) > size else None
        return Page(events=[orjson.loads(r[0]) for r in page], cursor=cursor, total=total)

    def count(self, query: Query = ALL) -> int:
        where, params = self._where(query)
        return int(self._query(f"SELECT count(*) FROM events WHERE {where}", params)[0][0])

    def count_by(self, query: Query, field: str, *, size: int = 10) -> list[Bucket]:
        if size < 1:
            raise ValueError(f"count_by size must be >= 1, got {size}")
        where, params = self._where(query)
        expr, is_json = key_elements(_check_field(field))
        if is_json:
            sql = (
                f"SELECT k, count(*) AS c FROM (SELECT {expr} AS k FROM events WHERE {where}) "
                f"WHERE json_type(k) IN {JSON_SCALAR_TYPES} GROUP BY k "
                f"ORDER BY c DESC, {JSON_RANK}, {JSON_NUM}, {JSON_TEXT} LIMIT ?"
            )
            return [Bucket(key=orjson.loads(k), count=c) for k, c in self._query(sql, [*params, size])]
        sql = (
            f"SELECT k, count(*) AS c FROM (SELECT {expr} AS k FROM events WHERE {where}) "
            "WHERE k IS NOT NULL GROUP BY k ORDER BY c DESC, k ASC LIMIT ?"
        )
        return [Bucket(key=k, count=c) for k, c in self._query(sql, [*params, size])]

    def histogram(self, query: Query, interval_seconds: int) -> list[Bucket]:
        if interval_seconds < 1:
            raise ValueError(f"histogram interval must be >= 1 second, got {interval_seconds}")
        width = int(interval_seconds) * 1_000_000
        where, params = self._where(query)
        sql = (
            f"SELECT b, count(*) FROM (SELECT epoch_us(ts) - ((epoch_us(ts) % {width}) + {width}) % {width} "
            f"AS b FROM events WHERE {where}) GROUP BY b ORDER BY b"
        )
        return [Bucket(key=from_epoch_us(b), count=c) for b, c in self._query(sql, params)]

    def distinct_count(self, query: Query, field: str) -> int:
        where, params = self._where(query)
        expr, is_json = key_elements(_check_field(field))
        keep = f"json_type(k) IN {JSON_SCALAR_TYPES}" if is_json else "k IS NOT NULL"
        sql = f"SELECT count(DISTINCT k) FROM (SELECT {expr} AS k FROM events WHERE {where}) WHERE {keep}"
        return int(self._query(sql, params)[0][0])

    def select_fields(self, query: Query, fields: Sequence[str]) -> pa.Table:
        """Columns of the events matching ``query`` (no order), for feature extraction
        over many events (``detectors.ml``): one column per dotted field, named by its
        path. Hot fields come from their columns (``ts`` kinds as microseconds since the
        epoch, ``strlist`` as lists); any other field is the text of its JSON value
        (numbers as their digits, absent as NULL)."""
        where, params = self._where(query)
        exprs = []
        for i, name in enumerate(fields):
            hot = HOT_BY_PATH.get(_check_field(name))
            if hot is None:
                expr = f"json_extract_string(doc, {json_pointer(name)})"
            elif hot.kind == "ts":
                expr = f"epoch_us({hot.column})"
            else:
                expr = hot.column
            exprs.append(f"{expr} AS c{i}")
        sql = f"SELECT {', '.join(exprs)} FROM events WHERE {where}"
        try:
            table = self._cur().sql(sql, params=list(params)).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"{self.path}: query failed: {exc}") from None
        return table.rename_columns(list(fields))

    def stats(self) -> StoreStats:
        sql = "SELECT count(*), epoch_us(min(ts)), epoch_us(max(ts)) FROM events"
        n, oldest, newest = self._query(sql)[0]
        wal = self.path.with_name(self.path.name + ".wal")
        db_bytes = self.path.stat().st_size if self.path.exists() else 0
        wal_bytes = wal.stat().st_size if wal.exists() else 0
        return StoreStats(
            events=int(n),
            oldest=from_epoch_us(oldest) if oldest is not None else None,
            newest=from_epoch_us(newest) if newest is not None else None,
            bytes_on_disk=db_bytes + wal_bytes,
            extra={"path": str(self.path), "wal_bytes": wal_bytes, "dedup": self.dedup},
        )

    def close(self) -> None:
        """Checkpoint (when writable) and release the file; later calls raise StoreError."""
        with self._wlock:
            if self._closed:
                return
            self._closed = True
            with self._cursors_lock:
                for cur in self._cursors:
                    cur.close()
                self._cursors.clear()
            try:
                if not self.read_only:
                    self._con.execute("CHECKPOINT").fetchall()
            finally:
                self._con.close()


def _check_field(field: str) -> str:
    if not isinstance(field, str) or not field or any(not p for p in field.split(".")):
        raise ValueError(f"field must be a dotted ECS path, got {field!r}")
    return field
