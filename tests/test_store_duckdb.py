"""DuckDBStore specifics: checkpoints, threads, file ownership, dedup modes, the registry."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from soc.store import DuckDBStore, FieldFilter, Query, StoreError, open_store
from tests.helpers_store import auth_events

ROOT = Path(__file__).resolve().parents[1]
EVENTS = auth_events(300)


def wal(path: Path) -> int:
    w = path.with_name(path.name + ".wal")
    return w.stat().st_size if w.exists() else 0


def test_flush_checkpoints_and_timer_checkpoints_at_write(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    s = DuckDBStore(path, checkpoint_interval_s=3600)
    s.write(EVENTS[:100])
    assert wal(path) > 0, "a high checkpoint threshold keeps small writes in the WAL"
    s.flush()
    assert wal(path) == 0
    s.close()
    s = DuckDBStore(path, checkpoint_interval_s=0.0)
    s.write(EVENTS[100:200])
    assert wal(path) == 0, "an elapsed interval checkpoints at write time"
    s.close()


def test_queries_from_other_threads_while_writing(tmp_path: Path) -> None:
    s = DuckDBStore(tmp_path / "events.duckdb")
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            last = 0
            while not stop.is_set():
                n = s.count(Query(filters=[FieldFilter("event.category", "exists")]))
                assert n >= last
                last = n
                s.search(Query(), size=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(0, 300, 30):
        s.write(EVENTS[i : i + 30])
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert s.count() == 300
    s.close()


def test_read_only_open_is_refused_while_a_writer_process_owns_the_file(tmp_path: Path) -> None:
    DuckDBStore(tmp_path / "events.duckdb").close()
    code = (
        "import sys, time; from pathlib import Path; from soc.store import DuckDBStore; "
        "s = DuckDBStore(Path(sys.argv[1]) / 'events.duckdb'); print('open', flush=True); time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"open"
        with pytest.raises(StoreError, match="is another process"):
            open_store("duckdb", tmp_path, read_only=True)
    finally:
        child.kill()
        child.wait()
    ro = open_store("duckdb", tmp_path, read_only=True)
    assert ro.count() == 0
    ro.close()


def test_primary_key_dedup_mode_gives_the_same_answers(tmp_path: Path) -> None:
    s = DuckDBStore(tmp_path / "pk.duckdb", dedup="primary_key")
    assert s.write(EVENTS).stored == 300
    moved = [dict(e, **{"@timestamp": "2030-01-01T00:00:00.000Z"}) for e in EVENTS[:10]]
    again = s.write(EVENTS[10:20] + moved)
    assert (again.stored, again.duplicates) == (0, 20)  # exact on id even when the time differs
    s.close()
    s = DuckDBStore(tmp_path / "pk.duckdb")
    assert s.dedup == "primary_key" and s.count() == 300
    s.close()


def test_closed_store_and_bad_options_raise(tmp_path: Path) -> None:
    s = DuckDBStore(tmp_path / "events.duckdb")
    s.close()
    with pytest.raises(StoreError, match="closed"):
        s.count()
    with pytest.raises(ValueError, match="memory_limit"):
        DuckDBStore(tmp_path / "x.duckdb", memory_limit="lots")
    with pytest.raises(StoreError, match="no event store here"):
        DuckDBStore(tmp_path / "absent.duckdb", read_only=True)
    with pytest.raises(ValueError, match="unknown store backend 'mongo'; known: duckdb"):
        open_store("mongo", tmp_path)


def test_write_rate_is_not_measured_here_but_writes_are_batched(tmp_path: Path) -> None:
    s = DuckDBStore(tmp_path / "events.duckdb")
    t0 = time.monotonic()
    res = s.write(auth_events(2000, seed=3))
    assert res.stored == 2000 and time.monotonic() - t0 < 30
    assert s.count(Query(filters=[FieldFilter("event.dataset", "eq", "linux.auth")])) == 2000
    s.close()
