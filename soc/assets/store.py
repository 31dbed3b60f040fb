"""Assets imported from CSV, and the unknown assets seen in events, in the state store.

``assets``: one row per (kind, value); an import replaces rows with the same key and
writes one audit entry. ``unknown_assets``: hosts and addresses that events came from
but that match no asset, with how often and when they were seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from soc.alerts.actor import Actor
from soc.assets.model import Asset
from soc.audit import AuditLog
from soc.event import format_ts, utcnow
from soc.state import StateStore, register_schema

register_schema(
    "assets",
    """
    CREATE TABLE IF NOT EXISTS assets (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        agency_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        imported TEXT NOT NULL,
        PRIMARY KEY (kind, value)
    );
    CREATE INDEX IF NOT EXISTS assets_agency ON assets(agency_id);
    CREATE TABLE IF NOT EXISTS unknown_assets (
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        count INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (field, value)
    );
    CREATE INDEX IF NOT EXISTS unknown_assets_last ON unknown_assets(last_seen);
    """,
)


@dataclass(frozen=True, slots=True)
class UnknownAsset:
    """A host or address seen in events (``field``: the ECS field it was read from)
    that matches no asset."""

    field: str
    value: str
    count: int
    first_seen: str
    last_seen: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "value": self.value,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


class AssetStore:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    def upsert(self, assets: Iterable[Asset], actor: Actor, source: str) -> int:
        """Store assets (replacing those with the same kind and value); one audit entry."""
        assets = list(assets)
        now = format_ts(utcnow())
        with self._state.transaction() as conn:
            replaced = 0
            for asset in assets:
                replaced += conn.execute(
                    "SELECT count(*) FROM assets WHERE kind = ? AND value = ?", (asset.kind, asset.value)
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO assets (kind, value, agency_id, doc, imported) VALUES (?,?,?,?,?) "
                    "ON CONFLICT(kind, value) DO UPDATE SET agency_id = excluded.agency_id, "
                    "doc = excluded.doc, imported = excluded.imported",
                    (asset.kind, asset.value, asset.agency_id, orjson.dumps(asset.to_dict()), now),
                )
            AuditLog(self._state).record_by(
                actor,
                action="assets.import",
                target_type="assets",
                target_id=source,
                before=None,
                after={"imported": len(assets), "replaced": replaced, "file": source},
                conn=conn,
            )
        return len(assets)

    def signature(self) -> tuple[int, str | None]:
        """Changes whenever an import stores assets: (row count, latest import time)."""
        row = self._state.query("SELECT count(*) AS n, max(imported) AS last FROM assets")[0]
        return int(row["n"]), row["last"]

    def assets(self) -> list[Asset]:
        rows = self._state.query("SELECT doc FROM assets ORDER BY agency_id, kind, value")
        return [Asset.from_dict(orjson.loads(row["doc"])) for row in rows]

    def record_unknown(self, seen: Mapping[tuple[str, str], tuple[int, str, str]]) -> None:
        """Add sightings ``{(field, value): (count, first_seen, last_seen)}``."""
        if not seen:
            return
        with self._state.transaction() as conn:
            conn.executemany(
                "INSERT INTO unknown_assets (field, value, count, first_seen, last_seen) VALUES (?,?,?,?,?) "
                "ON CONFLICT(field, value) DO UPDATE SET count = count + excluded.count, "
                "first_seen = min(first_seen, excluded.first_seen), "
                "last_seen = max(last_seen, excluded.last_seen)",
                [(f, v, n, first, last) for (f, v), (n, first, last) in seen.items()],
            )

    def unknown(self, *, limit: int = 100) -> list[UnknownAsset]:
        """Unknown assets, most recently seen first."""
        rows = self._state.query(
            "SELECT * FROM unknown_assets ORDER BY last_seen DESC, field, value LIMIT ?", (limit,)
        )
        return [
            UnknownAsset(r["field"], r["value"], r["count"], r["first_seen"], r["last_seen"]) for r in rows
        ]
