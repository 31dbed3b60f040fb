"""The foundation's durability bar: kill -9 of `soc run` while it ingests a
200,000-line auth log through file ingest, then restart: every line is stored
exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers_engine import EngineProcess, auth_lines, wait_for, write_config

LINES = 200_000


@pytest.mark.slow
def test_kill_9_during_file_ingest_loses_and_duplicates_nothing(tmp_path: Path, data_dir: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("\n".join(auth_lines(LINES)) + "\n", encoding="utf-8")
    config = write_config(
        tmp_path / "soc.yaml",
        inputs=[{"type": "file", "name": "auth", "paths": [str(log)], "format": "linux_auth"}],
        pipeline={"batch_size": 2000, "queue_batches": 2},
    )
    first = EngineProcess(config, data_dir)
    try:
        stored_before_kill = wait_for(lambda: (n := first.count()) >= 20_000 and n, 120, "ingest under way")
    finally:
        first.kill9()
    assert stored_before_kill < LINES, "the kill must land in the middle of the ingest"

    second = EngineProcess(config, data_dir)
    try:
        wait_for(lambda: second.count() >= LINES, 300, f"{LINES} events after restart", interval=1.0)
        assert second.count() == LINES
        distinct = second.get("/api/v1/events/distinct?field=event.id")
        assert distinct["count"] == LINES
        offsets = second.get("/api/v1/events/distinct?field=log.offset")
        assert offsets["count"] == LINES
    finally:
        assert second.stop() == 0, second.output()
