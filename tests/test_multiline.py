"""Tests of multi-line records: continuation joining (macOS syslog), audit serial
joining (auditd events), and both wired into the file input and FileReader."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.file import FileInput, FileInputConfig, LineSplitter, read_records
from collectors.inputs.multiline import AuditSerialJoiner, ContinuationJoiner, audit_key, make_assembler
from collectors.inputs.readers import FileReader
from collectors.parsers.auditd import AuditdParser
from collectors.parsers.base import ParseError
from tests.helpers_collectors import Collector, running


def _lines(data: bytes) -> list[tuple[int, bytes, int]]:
    sp = LineSplitter(0, 1 << 20)
    return sp.feed(data) + sp.flush()


def _cfg(path: Path, **kw) -> FileInputConfig:
    kw.setdefault("poll_interval_s", 0.02)
    return FileInputConfig(paths=(str(path),), **kw)


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def test_darwin_continuation_lines_join_without_loss(datasets: Path) -> None:
    path = datasets / "logs" / "endpoint" / "syslog" / "elastic-beats" / "darwin-syslog.log"
    data = path.read_bytes()
    lines = _lines(data)
    starts = {off for off, line, _ in lines if line[:1] not in (b" ", b"\t")}
    recs = list(FileReader(path, multiline="continuation").records())
    assert len(lines) == 497 and len(recs) == 382
    assert sum(r.raw.count(b"\n") + 1 for r in recs) == len(lines)  # no line lost
    for r in recs:
        assert r.position in starts  # the offset of the record's first line
        assert data[r.position : r.position + len(r.raw)] == r.raw  # the joined lines, verbatim
    assert [r.position for r in recs] == sorted(starts)
    multi = [r for r in recs if b"\n" in r.raw]
    assert multi and all(line[:1] in (b" ", b"\t") for r in multi for line in r.raw.split(b"\n")[1:])


def test_continuation_pattern_and_bounds() -> None:
    j = ContinuationJoiner(r"Caused by:|\.\.\. \d+ more", max_lines=3)
    out = j.feed(_lines(b"Exception x\n\tat a\nCaused by: y\n\tat b\n... 4 more\nnext\n  c\nlast"))
    assert [r[1] for r in out] == [b"Exception x\n\tat a\nCaused by: y", b"\tat b\n... 4 more", b"next\n  c"]
    assert j.pending_offset == out[-1][2] and j.flush()[0][1] == b"last" and j.pending_offset is None
    with pytest.raises(ValueError, match="multiline_pattern"):
        ContinuationJoiner("(")
    with pytest.raises(ValueError, match="unknown multiline mode"):
        make_assembler("lines")


def test_audit_serial_joiner_rules() -> None:
    data = (
        b"type=SYSCALL msg=audit(1.0:5): a=1\n"
        b"type=EXECVE msg=audit(1.0:5): argc=1 a0=ls\n"
        b"type=EOE msg=audit(1.0:5): \n"
        b"type=SYSCALL msg=audit(1.0:6): a=2\n"
        b"not audit at all\n"
        b"node=h1 type=SYSCALL msg=audit(1.0:7): a=3\n"
        b"node=h2 type=CWD msg=audit(1.0:7): cwd=/\n"
        b"Mar 1 10:00:00 h audispd: node=h2 type=PATH msg=audit(1.0:7): item=0\n"
    )
    j = AuditSerialJoiner()
    out = j.feed(_lines(data)) + j.flush()
    assert [r[1].count(b"\n") + 1 for r in out] == [3, 1, 1, 1, 2]
    assert out[0][0] == 0 and out[0][2] == data.index(b"type=SYSCALL msg=audit(1.0:6)")
    assert audit_key(b"Mar 1 10:00:00 h audispd: node=h2 type=PATH msg=audit(1.0:7): x") == (
        b"h2",
        b"PATH",
        b"1.0:7",
    )
    bounded = AuditSerialJoiner(max_lines=2)
    out = bounded.feed(_lines(b"type=PATH msg=audit(1.0:9): i=%d\n" % 0 * 5)) + bounded.flush()
    assert [r[1].count(b"\n") + 1 for r in out] == [2, 2, 1]


def test_audit_serial_joining_over_datasets(datasets: Path) -> None:
    parser = AuditdParser(timezone="UTC")
    joined_events = 0
    for path in sorted((datasets / "logs" / "endpoint" / "auditd").rglob("*.log")):
        lines = _lines(path.read_bytes())
        recs = list(read_records(path, multiline="audit_serial"))
        assert sum(r.raw.count(b"\n") + 1 for r in recs) == len(lines), path.name
        assert {r.position for r in recs} <= {off for off, _, _ in lines}
        keys = [audit_key(r.raw.split(b"\n")[-1]) for r in recs]
        for r, nxt, key in zip(recs, recs[1:], keys[1:], strict=False):
            parts = {audit_key(line) and audit_key(line)[::2] for line in r.raw.split(b"\n")}
            assert len(parts) == 1, (path.name, r.raw[:200])  # one serial per record
            if key is not None and not r.raw.split(b"\n")[-1].startswith(b"type=EOE"):
                assert {key[::2]} != parts or r.raw.count(b"\n") + 1 >= 256, (path.name, nxt.raw[:80])
        for r in recs:
            try:
                (event,) = parser.parse(r)
            except ParseError:
                assert r.raw == b"type=UNKNOWN[1329] msg=?"
                continue
            serial = audit_key(r.raw.split(b"\n")[0])[2].split(b":")[1]
            assert event["auditd"]["log"]["sequence"] == int(serial)
            if b"\n" in r.raw:
                joined_events += 1
                types = [audit_key(line)[1].decode() for line in r.raw.split(b"\n")]
                assert event["auditd"]["log"]["record_types"] == types
    print(f"\naudit serial joining: {joined_events} multi-record events over the auditd datasets")
    assert joined_events >= 5


def test_tail_restart_mid_record_rereads_the_pending_record(tmp_path: Path) -> None:
    path = tmp_path / "mac.log"
    path.write_bytes(b"first\n  c1\nsecond\n  c2\n")
    cps = MemoryCheckpoints()
    cfg = _cfg(path, multiline="continuation", multiline_flush_s=30.0)
    col = Collector()
    with running(FileInput(cfg), col, cps):
        col.wait_for(1)
        time.sleep(0.15)
        assert [(r.position, r.raw) for r in col.records] == [(0, b"first\n  c1")]
        assert cps.get(f"file:{path}")["offset"] == 11  # the start of the pending "second"
    _append(path, b"  c3\nthird\n")
    col2 = Collector()
    with running(FileInput(cfg), col2, cps):
        col2.wait_for(1)
    assert [(r.position, r.raw) for r in col2.records] == [(11, b"second\n  c2\n  c3")]
    assert cps.get(f"file:{path}")["offset"] == path.read_bytes().index(b"third")


def test_tail_idle_flush_gives_out_the_pending_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_bytes(b"")
    cps = MemoryCheckpoints()
    col = Collector()
    data = b"type=SYSCALL msg=audit(1.0:5): a=1\ntype=CWD msg=audit(1.0:5): cwd=/\n"
    with running(FileInput(_cfg(path, multiline="audit_serial", multiline_flush_s=0.2)), col, cps):
        _append(path, data)
        t0 = time.monotonic()
        recs = col.wait_for(1, timeout=5)
        waited = time.monotonic() - t0
        time.sleep(0.1)
        assert cps.get(f"file:{path}")["offset"] == len(data)
    assert [(r.position, r.raw) for r in recs] == [(0, data.rstrip(b"\n"))]
    assert 0.15 <= waited < 3.0


def test_one_shot_flushes_at_eof_and_checkpoints_the_end(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    data = b"a\n b\nc\n d\n e"
    path.write_bytes(data)
    cps = MemoryCheckpoints()
    col = Collector()
    with running(FileInput(_cfg(path, follow=False, multiline="continuation")), col, cps, oneshot=True):
        pass
    assert [(r.position, r.raw) for r in col.records] == [(0, b"a\n b"), (5, b"c\n d\n e")]
    assert cps.get(f"file:{path}")["offset"] == len(data)


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="multiline must be one of"):
        FileInputConfig(paths=("x",), multiline="lines")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bad multiline_pattern"):
        FileInputConfig(paths=("x",), multiline="continuation", multiline_pattern="[")
    with pytest.raises(ValueError, match="multiline_flush_s"):
        FileInputConfig(paths=("x",), multiline="continuation", multiline_flush_s=0)
