"""Event stores: the registry of backends and :func:`open_store`.

``STORES`` maps a backend name (the ``store.backend`` config key) to its class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from soc.store.base import (
    Bucket,
    FieldFilter,
    FilterOp,
    Page,
    Query,
    Sort,
    Store,
    StoreError,
    StoreStats,
    WriteResult,
)
from soc.store.duckdb import DuckDBStore
from soc.store.elasticsearch import ElasticsearchStore
from soc.store.memory import MemoryStore

STORES: dict[str, type] = {"duckdb": DuckDBStore, "elasticsearch": ElasticsearchStore, "memory": MemoryStore}

__all__ = [
    "STORES",
    "Bucket",
    "DuckDBStore",
    "ElasticsearchStore",
    "FieldFilter",
    "FilterOp",
    "MemoryStore",
    "Page",
    "Query",
    "Sort",
    "Store",
    "StoreError",
    "StoreStats",
    "WriteResult",
    "open_store",
]


def open_store(backend: str, data_dir: Path, *, read_only: bool = False, **options: Any) -> Store:
    """Open the named backend with its data under ``data_dir``
    (DuckDB: ``data_dir / "events.duckdb"``; Elasticsearch keeps nothing there, its
    options name the cluster)."""
    if backend == "duckdb":
        return DuckDBStore(Path(data_dir) / "events.duckdb", read_only=read_only, **options)
    if backend == "elasticsearch":
        return ElasticsearchStore(read_only=read_only, **options)
    if backend == "memory":
        if options:
            raise ValueError(f"memory store takes no options, got {', '.join(sorted(options))}")
        return MemoryStore()
    raise ValueError(f"unknown store backend {backend!r}; known: {', '.join(sorted(STORES))}")
