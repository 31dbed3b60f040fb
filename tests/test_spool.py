"""Tests for soc.spool: order, ack and redelivery, segments, backpressure, recovery, a real crash."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from soc.event import RawRecord
from soc.spool import Spool, SpoolError, SpoolFullError

ROOT = Path(__file__).resolve().parents[1]


def records(n: int, start: int = 0, size: int = 20) -> list[RawRecord]:
    return [
        RawRecord(
            raw=f"<34>msg {i} ".encode() + b"x" * size,
            source="syslog:tcp:10.0.0.5",
            position=-1,
            received=datetime(2024, 3, 1, 8, 0, i % 60, 123456, tzinfo=UTC),
            meta={"input": "syslog", "peer": "10.0.0.5", "peer_port": 5514, "n": i},
        )
        for i in range(start, start + n)
    ]


def test_order_sequence_and_round_trip(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    batch = records(5)
    assert spool.append(batch) == 5
    assert [r.position for r in batch] == [1, 2, 3, 4, 5]
    fixed = RawRecord(raw=b"file line", source="file:/var/log/auth.log", position=4096)
    assert spool.append([fixed]) == 6
    assert fixed.position == 4096
    got = spool.read(100, 0.1)
    assert [s for s, _ in got] == [1, 2, 3, 4, 5, 6]
    assert got[0][1] == batch[0]
    assert got[5][1].position == 4096 and got[5][1].raw == b"file line"
    assert got[2][1].received == datetime(2024, 3, 1, 8, 0, 2, 123456, tzinfo=UTC)
    assert got[2][1].meta == {"input": "syslog", "peer": "10.0.0.5", "peer_port": 5514, "n": 2}
    assert spool.backlog() == (6, spool.backlog()[1])
    assert spool.read(10, 0.01) == []
    spool.close()


def test_read_blocks_until_append(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    timer = threading.Timer(0.1, lambda: spool.append(records(2)))
    timer.start()
    t0 = time.monotonic()
    got = spool.read(10, 5.0)
    assert [s for s, _ in got] == [1, 2]
    assert time.monotonic() - t0 < 4
    timer.join()
    spool.close()


def test_unacked_records_are_redelivered_after_reopen(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(records(10))
    first = spool.read(4, 0.1)
    spool.ack(first[-1][0])
    spool.read(3, 0.1)  # read but never acked
    with pytest.raises(SpoolError, match="beyond the last record read"):
        spool.ack(9)
    spool.close()
    spool = Spool(tmp_path)
    assert spool.backlog()[0] == 6
    again = spool.read(100, 0.1)
    assert [s for s, _ in again] == [5, 6, 7, 8, 9, 10]
    assert [r.meta["n"] for _, r in again] == [4, 5, 6, 7, 8, 9]
    assert spool.append(records(1)) == 11  # numbering continues
    spool.close()


def test_segments_roll_over_and_are_deleted_when_acked(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1000)
    for i in range(10):
        spool.append(records(5, start=i * 5))
    segs = sorted(tmp_path.glob("*.seg"))
    assert len(segs) >= 5
    got = spool.read(1000, 0.1)
    assert [s for s, _ in got] == list(range(1, 51))
    spool.ack(25)
    remaining = sorted(tmp_path.glob("*.seg"))
    assert len(remaining) < len(segs)
    assert all(int(p.stem) > 1 for p in remaining)
    spool.ack(50)
    assert len(list(tmp_path.glob("*.seg"))) == 1
    assert spool.backlog() == (0, 0)
    spool.close()
    spool = Spool(tmp_path, segment_bytes=1000)
    assert spool.read(10, 0.01) == []
    assert spool.append(records(1)) == 51
    spool.close()


def test_backpressure_blocks_then_proceeds_after_ack(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_backlog_bytes=2000, full_timeout_s=10)
    spool.append(records(20))  # about 1700 bytes
    assert spool.backlog()[1] > 1000
    done: list[int] = []
    writer = threading.Thread(target=lambda: done.append(spool.append(records(10, start=20))))
    writer.start()
    time.sleep(0.2)
    assert done == [], "append should block while the backlog is full"
    got = spool.read(20, 0.1)
    spool.ack(got[-1][0])
    writer.join(5)
    assert done == [30]
    assert [s for s, _ in spool.read(100, 0.1)] == list(range(21, 31))
    with pytest.raises(SpoolFullError, match="backlog"):
        spool.append(records(30), timeout_s=0.05)
    spool.close()


def test_torn_tail_is_truncated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path)
    spool.append(records(3))
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    good = seg.stat().st_size
    with open(seg, "ab") as fh:  # half a frame, as a crash mid-write leaves
        fh.write(b"SP\x40\x00\x00\x00garbage")
    with caplog.at_level(logging.WARNING, logger="soc.spool"):
        spool = Spool(tmp_path)
    assert "torn tail" in caplog.text and "truncated 13 bytes" in caplog.text
    assert seg.stat().st_size == good
    assert [s for s, _ in spool.read(10, 0.1)] == [1, 2, 3]
    assert spool.append(records(1)) == 4
    spool.close()


def test_corrupt_middle_frame_is_reported_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path)
    spool.append(records(5))
    spool.close()
    seg = next(tmp_path.glob("*.seg"))
    data = bytearray(seg.read_bytes())
    frame = len(data) // 5
    data[frame + 30] ^= 0xFF  # flip a byte inside the second frame's payload
    seg.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="soc.spool"):
        spool = Spool(tmp_path)
    assert f"{seg.name}: corrupt frame at offset {frame}" in caplog.text
    got = spool.read(10, 0.1)
    assert [s for s, _ in got] == [1, 3, 4, 5]
    spool.close()


CHILD = r"""
import sys
from pathlib import Path
from soc.event import RawRecord
from soc.spool import Spool
spool = Spool(Path(sys.argv[1]), segment_bytes=64 * 1024, fsync_interval_s=5.0)
i = 0
while True:
    batch = [RawRecord(raw=b"record %d " % (i + k) + b"y" * (i % 50), source="syslog:udp:10.1.1.1",
                       position=-1, meta={"k": i + k}) for k in range(20)]
    i += 20
    print(spool.append(batch), flush=True)
"""


def test_real_crash_loses_nothing_reported(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], stdout=subprocess.PIPE, env=env)
    assert child.stdout is not None
    reported = []
    for line in child.stdout:
        reported.append(int(line))
        if len(reported) >= 300:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    reported.extend(int(line) for line in child.stdout.read().split())
    assert reported[-1] >= 6000
    spool = Spool(tmp_path, segment_bytes=64 * 1024)
    seqs, recs = [], []
    while batch := spool.read(5000, 0.05):
        seqs.extend(s for s, _ in batch)
        recs.extend(r for _, r in batch)
    assert seqs[: reported[-1]] == list(range(1, reported[-1] + 1))
    assert len(seqs) == len(set(seqs))
    for seq, rec in zip(seqs, recs, strict=True):
        n = seq - 1
        assert rec.raw == b"record %d " % n + b"y" * (n // 20 * 20 % 50)
        assert rec.meta == {"k": n} and rec.position == seq
    spool.close()
