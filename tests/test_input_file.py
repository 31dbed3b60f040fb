"""Tests of the file input: offsets, one-shot reads, tailing, truncation, rotation, resume."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.file import FileInput, FileInputConfig, LineSplitter, read_records
from tests.helpers_collectors import Collector, running


def _cfg(path: Path, **kw) -> FileInputConfig:
    kw.setdefault("poll_interval_s", 0.02)
    return FileInputConfig(paths=(str(path),), **kw)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def _line_starts(data: bytes) -> list[int]:
    starts, pos = [], 0
    for line in data.split(b"\n"):
        if line:
            starts.append(pos)
        pos += len(line) + 1
    return starts


def test_one_shot_offsets_are_byte_offsets_of_line_starts(tmp_path):
    data = "ascii line\r\nünïcödé line\n\nthird\npartial at eof".encode()
    path = tmp_path / "a.log"
    path.write_bytes(data)
    col = Collector()
    inp = FileInput(_cfg(path, follow=False, format="linux_auth", timezone="UTC"))
    cps = MemoryCheckpoints()
    with running(inp, col, cps, oneshot=True) as ctx:
        pass
    recs = col.records
    assert [r.raw for r in recs] == [b"ascii line", "ünïcödé line".encode(), b"third", b"partial at eof"]
    assert [r.position for r in recs] == _line_starts(data)
    for r in recs:
        assert data[r.position : r.position + len(r.raw)] == r.raw
        assert r.source == f"file:{path}"
        assert r.meta == {"input": "file", "path": str(path), "format": "linux_auth", "timezone": "UTC"}
    assert cps.get(f"file:{path}")["offset"] == len(data)
    assert ctx.counters["file.lines"] == 4


def test_read_records_helper_matches(tmp_path):
    path = tmp_path / "b.log"
    path.write_bytes(b"one\ntwo\nthree")
    recs = list(read_records(path, format="syslog"))
    assert [(r.position, r.raw) for r in recs] == [(0, b"one"), (4, b"two"), (8, b"three")]
    assert recs[0].meta["format"] == "syslog" and recs[0].source == f"file:{path.resolve()}"


def test_splitter_any_chunking_gives_same_lines():
    data = b"".join(b"line %d %s\n" % (i, b"x" * (i % 37)) for i in range(500)) + b"tail"
    whole = LineSplitter(0, 1 << 20).feed(data)
    for size in (1, 7, 64, 4096):
        sp = LineSplitter(0, 1 << 20)
        got = []
        for i in range(0, len(data), size):
            got.extend(sp.feed(data[i : i + size]))
        assert got == whole
        assert sp.flush() == [(len(data) - 4, b"tail", len(data))]


def test_overlong_lines_are_truncated_and_counted(tmp_path):
    path = tmp_path / "long.log"
    data = b"short\n" + b"y" * 100 + b"\nafter\n"
    path.write_bytes(data)
    col = Collector()
    with running(FileInput(_cfg(path, follow=False, max_line_bytes=10)), col, oneshot=True) as ctx:
        pass
    assert [(r.position, r.raw) for r in col.records] == [(0, b"short"), (6, b"y" * 10), (107, b"after")]
    assert ctx.counters["file.truncated_lines"] == 1


def test_big_file_batches_and_checkpoint(tmp_path):
    path = tmp_path / "big.log"
    n = 50_000
    path.write_bytes(b"".join(b"%08d some auth line\n" % i for i in range(n)))
    col = Collector()
    cps = MemoryCheckpoints()
    with running(FileInput(_cfg(path, follow=False, batch_max_lines=2000)), col, cps, oneshot=True):
        pass
    assert len(col.records) == n
    assert max(len(b) for b in col.batches) == 2000
    assert col.records[-1].position == (n - 1) * 24
    assert cps.get(f"file:{path}")["offset"] == n * 24


def test_tail_appends_and_partial_lines_wait(tmp_path):
    path = tmp_path / "t.log"
    path.write_bytes(b"old\n")
    col = Collector()
    with running(FileInput(_cfg(path, start_at="end")), col):
        _append(path, b"new 1\nnew ")
        col.wait_for(1)
        time.sleep(0.1)
        assert [r.raw for r in col.records] == [b"new 1"]  # "new " waits for its newline
        _append(path, b"2\n")
        recs = col.wait_for(2)
    assert [(r.position, r.raw) for r in recs] == [(4, b"new 1"), (10, b"new 2")]


def test_tail_truncation_restarts_at_zero(tmp_path):
    path = tmp_path / "t.log"
    path.write_bytes(b"aaaaaaaaaa\nbbbbbbbbbb\n")
    col = Collector()
    with running(FileInput(_cfg(path)), col) as ctx:
        col.wait_for(2)
        with open(path, "wb") as f:
            f.write(b"c\n")
        recs = col.wait_for(3)
        assert ctx.counters["file.truncations"] == 1
    assert [(r.position, r.raw) for r in recs] == [(0, b"aaaaaaaaaa"), (11, b"bbbbbbbbbb"), (0, b"c")]


def test_tail_rotation_rename_and_new_file(tmp_path):
    path = tmp_path / "auth.log"
    path.write_bytes(b"one\n")
    col = Collector()
    with running(FileInput(_cfg(path)), col) as ctx:
        col.wait_for(1)
        _append(path, b"two\nlast-no-newline")
        os.rename(path, tmp_path / "auth.log.1")
        path.write_bytes(b"three\n")
        recs = col.wait_for(4)
        assert ctx.counters["file.rotations"] == 1
    assert [r.raw for r in recs] == [b"one", b"two", b"last-no-newline", b"three"]
    assert recs[-1].position == 0


def test_checkpoint_resume_loses_and_repeats_nothing(tmp_path):
    path = tmp_path / "r.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(100)))
    cps = MemoryCheckpoints()
    first = Collector()
    with running(FileInput(_cfg(path, batch_max_lines=7)), first, cps):
        first.wait_for(100)
    _append(path, b"".join(b"line %d\n" % i for i in range(100, 150)))
    second = Collector()
    with running(FileInput(_cfg(path, batch_max_lines=7)), second, cps):
        second.wait_for(50)
        time.sleep(0.1)
    got = [r.raw for r in first.records + second.records]
    assert got == [b"line %d" % i for i in range(150)]


def test_checkpoint_of_other_inode_restarts_at_zero(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"fresh\n")
    cps = MemoryCheckpoints()
    cps.put(f"file:{path}", {"inode": -1, "dev": -1, "offset": 3})
    col = Collector()
    with running(FileInput(_cfg(path, follow=False)), col, cps, oneshot=True):
        pass
    assert [(r.position, r.raw) for r in col.records] == [(0, b"fresh")]


def test_glob_picks_up_new_files(tmp_path):
    (tmp_path / "a.log").write_bytes(b"a\n")
    col = Collector()
    inp = FileInput(FileInputConfig(paths=(str(tmp_path / "*.log"),), poll_interval_s=0.02))
    with running(inp, col):
        col.wait_for(1)
        (tmp_path / "b.log").write_bytes(b"b\n")
        recs = col.wait_for(2)
    assert sorted(r.raw for r in recs) == [b"a", b"b"]


def test_config_validation():
    with pytest.raises(ValueError, match="paths is empty"):
        FileInputConfig(paths=())
    with pytest.raises(TypeError, match="tuple of paths"):
        FileInputConfig(paths="/var/log/auth.log")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="start_at"):
        FileInputConfig(paths=("x",), start_at="middle")  # type: ignore[arg-type]
