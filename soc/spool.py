"""Spool: the durable on-disk queue between collectors and processing.

Collectors ``append`` raw records; the pipeline ``read``s them and ``ack``s once
their events are safely stored. Unacknowledged records are delivered again after a
restart, which gives the engine its at-least-once guarantee (the store dedups by
``event.id``).

On disk: ``<first-seq>.seg`` segment files of frames, plus an ``ack`` file holding
the highest acknowledged sequence number (replaced atomically). A frame is::

    b"SP" | u32 payload length | u32 CRC32(payload) | payload
    payload = u64 seq | i64 position | i64 received µs since epoch
              | u32 len(source) | u32 len(meta JSON) | source | meta JSON | raw

``append`` writes a batch with one ``write()``, so records survive a kill -9 once
it returns (they are in the OS page cache); segments are fsynced every
``fsync_interval_s`` for power-loss durability (0: on every append). On open, a
torn or corrupt tail of the last segment is truncated; a corrupt frame elsewhere
is logged with the segment and offset and skipped to the next valid frame.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from soc.event import RawRecord

log = logging.getLogger("soc.spool")

MAGIC = b"SP"
_HEAD = struct.Struct("<2sII")
_FIXED = struct.Struct("<QqqII")
_MAX_PAYLOAD = 1 << 30
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
MiB = 1 << 20


class SpoolError(Exception):
    """The spool cannot do what was asked (closed, bad record, bad ack)."""


class SpoolFullError(SpoolError):
    """``append`` waited for the backlog to drain below ``max_backlog_bytes`` and timed out."""


@dataclass(slots=True)
class _Segment:
    first_seq: int
    path: Path
    size: int = 0
    last_seq: int = 0


@dataclass(slots=True)
class _Frame:
    seq: int
    end: int
    record: RawRecord


def _decode(buf: bytes | memoryview, off: int) -> _Frame | None:
    """The valid frame starting at ``off`` in ``buf``, or ``None``."""
    if len(buf) - off < _HEAD.size:
        return None
    magic, length, crc = _HEAD.unpack_from(buf, off)
    start = off + _HEAD.size
    if magic != MAGIC or length < _FIXED.size or length > _MAX_PAYLOAD or start + length > len(buf):
        return None
    payload = bytes(buf[start : start + length])
    if zlib.crc32(payload) != crc:
        return None
    seq, position, received_us, src_len, meta_len = _FIXED.unpack_from(payload, 0)
    p = _FIXED.size
    if p + src_len + meta_len > length:
        return None
    try:
        source = payload[p : p + src_len].decode("utf-8", "surrogateescape")
        meta = orjson.loads(payload[p + src_len : p + src_len + meta_len])
    except (UnicodeDecodeError, orjson.JSONDecodeError):
        return None
    raw = payload[p + src_len + meta_len :]
    record = RawRecord(raw=raw, source=source, position=position,
                       received=_EPOCH + timedelta(microseconds=received_us), meta=meta)
    return _Frame(seq=seq, end=start + length, record=record)


def _resync(buf: bytes, off: int) -> int | None:
    """Offset of the next valid frame after a bad one at ``off``, or ``None``."""
    pos = buf.find(MAGIC, off + 1)
    while pos != -1:
        if _decode(buf, pos) is not None:
            return pos
        pos = buf.find(MAGIC, pos + 1)
    return None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A durable FIFO of :class:`RawRecord` in ``directory``: many appenders, one reader."""

    def __init__(
        self,
        directory: Path,
        *,
        segment_bytes: int = 64 * MiB,
        max_backlog_bytes: int = 1024 * MiB,
        fsync_interval_s: float = 0.2,
        full_timeout_s: float = 30.0,
    ) -> None:
        if segment_bytes < 1 or max_backlog_bytes < 1 or fsync_interval_s < 0 or full_timeout_s < 0:
            raise ValueError("segment_bytes and max_backlog_bytes must be positive, intervals >= 0")
        self.directory = Path(directory)
        self.segment_bytes = segment_bytes
        self.max_backlog_bytes = max_backlog_bytes
        self.fsync_interval_s = fsync_interval_s
        self.full_timeout_s = full_timeout_s
        self.directory.mkdir(parents=True, exist_ok=True)
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._skips: dict[tuple[Path, int], int] = {}
        self._delivered: deque[tuple[int, int]] = deque()  # (seq, frame bytes) read, not acked
        self._unacked_records = 0
        self._unacked_bytes = 0
        self._ack = self._load_ack()
        self._segments: list[_Segment] = []
        self._read_seg: _Segment | None = None
        self._read_off = 0
        self._read_seq = self._ack
        self._open_segments()
        self._fd = os.open(self._segments[-1].path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._dirty = False
        self._last_fsync = time.monotonic()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        if fsync_interval_s > 0:
            self._syncer = threading.Thread(target=self._sync_loop, name="spool-fsync", daemon=True)
            self._syncer.start()

    # -- opening ----------------------------------------------------------------------------

    def _load_ack(self) -> int:
        path = self.directory / "ack"
        if not path.exists():
            return 0
        text = path.read_text().strip()
        try:
            return int(text)
        except ValueError:
            raise SpoolError(f"{path}: ack file holds {text[:40]!r}, not a sequence number") from None

    def _open_segments(self) -> None:
        paths = []
        for p in self.directory.glob("*.seg"):
            try:
                paths.append((int(p.stem), p))
            except ValueError:
                log.warning("spool %s: ignoring unexpected file %s", self.directory, p.name)
        paths.sort()
        last_seq = self._ack
        for i, (first, path) in enumerate(paths):
            seg = self._scan(first, path, is_last=i == len(paths) - 1)
            last_seq = max(last_seq, seg.last_seq)
            if seg.last_seq and seg.last_seq <= self._ack and i < len(paths) - 1:
                path.unlink()
                continue
            self._segments.append(seg)
        self._next_seq = last_seq + 1
        if not self._segments:
            self._segments.append(self._new_segment(self._next_seq))
        if self._read_seg is None:
            self._read_seg = self._segments[-1]
            self._read_off = self._segments[-1].size

    def _scan(self, first: int, path: Path, *, is_last: bool) -> _Segment:
        """Validate a segment; note the read start, skip corrupt frames, truncate a torn tail."""
        data = path.read_bytes()
        seg = _Segment(first_seq=first, path=path)
        off = 0
        while off < len(data):
            frame = _decode(data, off)
            if frame is None:
                nxt = _resync(data, off)
                if nxt is None:
                    dropped = len(data) - off
                    if is_last:
                        log.warning("spool segment %s: torn tail at offset %d, truncated %d bytes",
                                    path.name, off, dropped)
                        with open(path, "r+b") as fh:
                            fh.truncate(off)
                            os.fsync(fh.fileno())
                    else:
                        log.error("spool segment %s: corrupt data at offset %d to the end (%d bytes) skipped",
                                  path.name, off, dropped)
                        self._skips[(path, off)] = len(data)
                    data = data[:off]
                    break
                log.error("spool segment %s: corrupt frame at offset %d, skipped %d bytes to the next frame",
                          path.name, off, nxt - off)
                self._skips[(path, off)] = nxt
                off = nxt
                continue
            seg.last_seq = frame.seq
            if frame.seq > self._ack:
                self._unacked_records += 1
                self._unacked_bytes += frame.end - off
                if self._read_seg is None:
                    self._read_seg, self._read_off = seg, off
            off = frame.end
        seg.size = len(data)
        return seg

    def _new_segment(self, first_seq: int) -> _Segment:
        path = self.directory / f"{first_seq:020d}.seg"
        path.touch()
        _fsync_dir(self.directory)
        return _Segment(first_seq=first_seq, path=path)

    # -- appending --------------------------------------------------------------------------

    def append(self, records: Sequence[RawRecord], *, timeout_s: float | None = None) -> int:
        """Store ``records`` durably in order; return the last sequence number assigned.

        Blocks while the unacknowledged backlog is over ``max_backlog_bytes`` and raises
        :class:`SpoolFullError` after ``timeout_s`` (default ``full_timeout_s``).
        """
        parts = [self._encode(i, r) for i, r in enumerate(records)]
        size = sum(_HEAD.size + _FIXED.size + len(s) + len(m) + len(raw) for s, m, raw, _ in parts)
        wait = self.full_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        with self._cond:
            self._check_open()
            if not records:
                return self._next_seq - 1
            while self._unacked_bytes > 0 and self._unacked_bytes + size > self.max_backlog_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SpoolFullError(
                        f"spool {self.directory}: backlog {self._unacked_bytes} bytes + {size} new exceeds "
                        f"{self.max_backlog_bytes} for {wait:.1f}s; is the pipeline acking?"
                    )
                self._cond.wait(remaining)
                self._check_open()
            chunks = []
            seq = self._next_seq
            for record, (src, meta, raw, received_us) in zip(records, parts, strict=True):
                if record.position < 0:
                    record.position = seq
                fixed = _FIXED.pack(seq, record.position, received_us, len(src), len(meta))
                payload = fixed + src + meta + raw
                chunks.append(_HEAD.pack(MAGIC, len(payload), zlib.crc32(payload)))
                chunks.append(payload)
                seq += 1
            head = self._segments[-1]
            if head.size > 0 and head.size + size > self.segment_bytes:
                self._roll(self._next_seq)
                head = self._segments[-1]
            buf = memoryview(b"".join(chunks))
            while buf:
                n = os.write(self._fd, buf)
                buf = buf[n:]
            head.size += size
            head.last_seq = seq - 1
            self._next_seq = seq
            self._unacked_records += len(records)
            self._unacked_bytes += size
            self._dirty = True
            if self.fsync_interval_s == 0:
                os.fsync(self._fd)
                self._dirty = False
            self._cond.notify_all()
            return seq - 1

    def _encode(self, i: int, record: RawRecord) -> tuple[bytes, bytes, bytes, int]:
        if not isinstance(record.raw, bytes | bytearray):
            raise SpoolError(f"record {i}: raw must be bytes, got {type(record.raw).__name__}")
        if not isinstance(record.source, str):
            raise SpoolError(f"record {i}: source must be a string, got {record.source!r:.60}")
        if not isinstance(record.received, datetime) or record.received.tzinfo is None:
            raise SpoolError(f"record {i} ({record.source}): received must be an aware datetime")
        try:
            meta = orjson.dumps(record.meta)
        except TypeError as exc:
            raise SpoolError(f"record {i} ({record.source}): meta is not JSON-serialisable: {exc}") from None
        received_us = (record.received.astimezone(UTC) - _EPOCH) // _US
        return record.source.encode("utf-8", "surrogateescape"), meta, bytes(record.raw), received_us

    def _roll(self, first_seq: int) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        seg = self._new_segment(first_seq)
        self._segments.append(seg)
        self._fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._dirty = False

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval_s):
            with self._cond:
                if self._closed or not self._dirty:
                    continue
                fd = os.dup(self._fd)
                self._dirty = False
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # -- reading ----------------------------------------------------------------------------

    def read(self, max_records: int, timeout_s: float) -> list[tuple[int, RawRecord]]:
        """Up to ``max_records`` next ``(seq, record)`` pairs in order; waits up to
        ``timeout_s`` when none are available (then returns ``[]``)."""
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                self._check_open()
                if self._next_seq - 1 > self._read_seq:
                    out = self._read_locked(max_records)
                    if out:
                        return out
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _read_locked(self, max_records: int) -> list[tuple[int, RawRecord]]:
        out: list[tuple[int, RawRecord]] = []
        seg = self._read_seg
        assert seg is not None
        while len(out) < max_records:
            if self._read_off >= seg.size:
                idx = self._segments.index(seg)
                if idx + 1 >= len(self._segments):
                    break
                seg = self._read_seg = self._segments[idx + 1]
                self._read_off = 0
                continue
            data = self._chunk(seg, self._read_off, max(1 * MiB, 4096 * max_records))
            base, off = self._read_off, 0
            while off < len(data) and len(out) < max_records:
                skip = self._skips.get((seg.path, base + off))
                if skip is not None:
                    off = skip - base
                    if off > len(data):
                        break
                    continue
                frame = _decode(data, off)
                if frame is None:
                    if base + len(data) < seg.size and off > 0:
                        break  # frame cut by the chunk boundary; read again from here
                    whole = seg.path.read_bytes()[: seg.size]
                    nxt = _resync(whole, base + off)
                    end = seg.size if nxt is None else nxt
                    log.error("spool segment %s: corrupt frame at offset %d, skipped %d bytes",
                              seg.path.name, base + off, end - base - off)
                    self._skips[(seg.path, base + off)] = end
                    off = end - base
                    break
                if frame.seq > self._read_seq:
                    out.append((frame.seq, frame.record))
                    self._delivered.append((frame.seq, frame.end - off))
                    self._read_seq = frame.seq
                off = frame.end
            self._read_off = base + off
        return out

    @staticmethod
    def _chunk(seg: _Segment, off: int, want: int) -> bytes:
        """Bytes of ``seg`` from ``off``: about ``want`` of them, but at least the whole
        first frame when its header is readable."""
        with open(seg.path, "rb") as fh:
            fh.seek(off)
            data = fh.read(min(seg.size - off, want))
            if len(data) >= _HEAD.size:
                magic, length, _ = _HEAD.unpack_from(data, 0)
                need = _HEAD.size + length
                if magic == MAGIC and len(data) < need <= seg.size - off:
                    data += fh.read(need - len(data))
        return data

    def ack(self, seq: int) -> None:
        """Everything up to ``seq`` is stored downstream: persist it, free whole segments."""
        with self._cond:
            self._check_open()
            if seq <= self._ack:
                return
            if seq > self._read_seq:
                raise SpoolError(f"ack({seq}) is beyond the last record read ({self._read_seq})")
            while self._delivered and self._delivered[0][0] <= seq:
                _, size = self._delivered.popleft()
                self._unacked_records -= 1
                self._unacked_bytes -= size
            self._ack = seq
            tmp = self.directory / "ack.tmp"
            with open(tmp, "w") as fh:
                fh.write(f"{seq}\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / "ack")
            _fsync_dir(self.directory)
            while len(self._segments) > 1 and self._segments[0].last_seq <= seq:
                done = self._segments.pop(0)
                done.path.unlink(missing_ok=True)
            self._cond.notify_all()

    def backlog(self) -> tuple[int, int]:
        """``(records, bytes)`` appended but not yet acknowledged."""
        with self._cond:
            return self._unacked_records, self._unacked_bytes

    def _check_open(self) -> None:
        if self._closed:
            raise SpoolError(f"spool {self.directory} is closed")

    def close(self) -> None:
        """Fsync and close; blocked appenders and readers get :class:`SpoolError`."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            os.fsync(self._fd)
            os.close(self._fd)
            self._cond.notify_all()
        if self._syncer is not None:
            self._syncer.join()
