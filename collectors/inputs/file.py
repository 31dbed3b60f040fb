"""The file input: read (and optionally tail) log files line by line.

Each line becomes a :class:`~soc.event.RawRecord` whose ``position`` is the byte
offset of the line start. Files are read in large chunks and split in bulk.

Resume: after ``ctx.accept(batch)`` returns, the checkpoint ``file:<abs path>`` is
saved as ``{"inode", "dev", "offset"}`` with the offset just past the batch, so a
crash re-reads at most one batch. On open, a file resumes at its saved offset when
inode and device match and the file is at least that long; a new inode (rotation)
or a shorter file (truncation) starts at 0. Files never seen start at
``start_at`` (``beginning`` or ``end``); files that appear later while tailing start
at the beginning.

Lines longer than ``max_line_bytes`` are truncated to it (counted in
``file.truncated_lines``). Files are tracked by path; a path whose inode is already
being read under another path (a rename) is not opened twice.

Multi-line records (``multiline``: ``continuation`` or ``audit_serial``, see
:mod:`collectors.inputs.multiline`): lines are joined before they are accepted; a
record keeps the offset of its first line. While a record is pending, the saved
offset is its start, so a restart re-reads it whole; a pending record is given out
once the file has been idle for ``multiline_flush_s``, or at EOF/rotation.

Counters: ``file.lines`` (records accepted), ``file.bytes``, ``file.truncated_lines``, ``file.rotations``,
``file.truncations``, ``file.errors``.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO, Literal

from collectors.inputs.base import InputContext
from collectors.inputs.multiline import MODES, MultilineAssembler, make_assembler
from soc.event import RawRecord

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class FileInputConfig:
    """Settings of one file input. ``paths`` may hold glob patterns."""

    name: str = "file"
    paths: tuple[str, ...] = ()
    follow: bool = True
    start_at: Literal["beginning", "end"] = "beginning"
    format: str | None = None
    timezone: str | None = None
    poll_interval_s: float = 0.25
    batch_max_lines: int = 2000
    max_line_bytes: int = 1 << 20
    multiline: Literal["none", "continuation", "audit_serial"] = "none"
    multiline_pattern: str | None = None
    multiline_max_lines: int = 500
    multiline_flush_s: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.paths, str):
            raise TypeError(f"file input {self.name!r}: paths must be a tuple of paths, not a string")
        if not self.paths:
            raise ValueError(f"file input {self.name!r}: paths is empty")
        if self.start_at not in ("beginning", "end"):
            raise ValueError(
                f"file input {self.name!r}: start_at must be 'beginning' or 'end', got {self.start_at!r}"
            )
        if self.poll_interval_s <= 0 or self.batch_max_lines < 1 or self.max_line_bytes < 1:
            raise ValueError(
                f"file input {self.name!r}: poll_interval_s, batch_max_lines and max_line_bytes "
                "must be positive"
            )
        if self.multiline not in MODES:
            raise ValueError(
                f"file input {self.name!r}: multiline must be one of {', '.join(MODES)}, "
                f"got {self.multiline!r}"
            )
        if self.multiline_flush_s <= 0 or self.multiline_max_lines < 1:
            raise ValueError(
                f"file input {self.name!r}: multiline_flush_s and multiline_max_lines must be positive"
            )
        try:
            self.new_assembler()
        except ValueError as exc:
            raise ValueError(f"file input {self.name!r}: {exc}") from None

    def new_assembler(self) -> MultilineAssembler | None:
        """A fresh line joiner for one file, or ``None`` without ``multiline``."""
        return make_assembler(
            self.multiline,
            self.multiline_pattern,
            max_lines=self.multiline_max_lines,
            max_bytes=self.max_line_bytes,
        )


class LineSplitter:
    """Incremental line splitting with byte offsets; pure, no I/O.

    ``feed(data)`` returns ``(offset, line, end)`` triples for the complete lines:
    ``offset`` of the line start, the line without its newline and one trailing
    ``\\r``, and ``end`` just past its newline (empty lines are skipped but counted).
    Attribute ``offset`` is the start of the pending partial line. ``flush()``
    returns that partial line, if any. The head of an overlong line is returned with
    ``end`` equal to its own start, so a resume there re-reads it rather than
    starting mid-line.
    """

    def __init__(self, start: int, max_line_bytes: int) -> None:
        self.offset = start  # start of the pending partial line
        self.max_line_bytes = max_line_bytes
        self.truncated = 0
        self._buf = b""
        self._discard = False  # inside an overlong line whose head was already returned

    @property
    def pending(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[tuple[int, bytes, int]]:
        out: list[tuple[int, bytes, int]] = []
        nl = data.rfind(b"\n")
        if nl < 0:
            if self._discard:
                self.offset += len(data)
            else:
                self._buf += data
                self._check_long(out)
            return out
        block = self._buf + data[: nl + 1] if self._buf else data[: nl + 1]
        self._buf = data[nl + 1 :]
        pos = self.offset
        lines = block.split(b"\n")
        lines.pop()  # the empty piece after the final newline
        limit = self.max_line_bytes
        append = out.append
        if self._discard:
            pos += len(lines[0]) + 1
            lines = lines[1:]
            self._discard = False
        for line in lines:
            n = len(line)
            if n:
                text = line[:-1] if line[-1] == 13 else line
                if n > limit:
                    self.truncated += 1
                    text = text[:limit]
                if text:
                    append((pos, text, pos + n + 1))
            pos += n + 1
        self.offset = pos
        self._check_long(out)
        return out

    def _check_long(self, out: list[tuple[int, bytes, int]]) -> None:
        if len(self._buf) > self.max_line_bytes:
            self.truncated += 1
            out.append((self.offset, self._buf[: self.max_line_bytes], self.offset))
            self.offset += len(self._buf)
            self._buf = b""
            self._discard = True

    def flush(self) -> list[tuple[int, bytes, int]]:
        """The partial last line (at EOF of a file that will not grow)."""
        buf, self._buf = self._buf, b""
        start = self.offset
        self.offset += len(buf)
        if self._discard:
            self._discard = False
            return []
        text = buf[:-1] if buf.endswith(b"\r") else buf
        return [(start, text, self.offset)] if text else []


@dataclass
class _Tracked:
    """One open file being read."""

    path: str
    fh: BinaryIO
    dev: int
    inode: int
    splitter: LineSplitter
    meta: dict[str, Any] = field(default_factory=dict)
    assembler: MultilineAssembler | None = None
    last_data: float = 0.0  # monotonic time bytes were last read

    @property
    def resume_offset(self) -> int:
        """Where a restart must read again: the pending record, else the partial line."""
        if self.assembler is not None:
            pending = self.assembler.pending_offset
            if pending is not None:
                return pending
        return self.splitter.offset

    @property
    def key(self) -> str:
        return f"file:{self.path}"


def _records(t: _Tracked, lines: list[tuple[int, bytes, int]], now: datetime) -> list[RawRecord]:
    source = f"file:{t.path}"
    meta = t.meta
    return [
        RawRecord(raw=line, source=source, position=off, received=now, meta=dict(meta))
        for off, line, _ in lines
    ]


class FileInput:
    """Reads and tails files; see the module docstring."""

    def __init__(self, config: FileInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.ready = threading.Event()
        self._tracked: dict[str, _Tracked] = {}

    # -- discovery and opening ---------------------------------------------------

    def _expand(self) -> list[str]:
        found: list[str] = []
        for pattern in self.config.paths:
            pattern = os.path.expanduser(pattern)
            matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            for m in matches:
                p = os.path.abspath(m)
                if p not in found and os.path.isfile(p):
                    found.append(p)
        return found

    def _open(self, path: str, ctx: InputContext, *, initial: bool) -> _Tracked | None:
        try:
            fh = open(path, "rb", buffering=0)  # noqa: SIM115 - kept open while tailing
        except OSError as exc:
            ctx.count("file.errors")
            log.warning("file input %s: cannot open %s: %s", self.name, path, exc)
            return None
        st = os.fstat(fh.fileno())
        for other in self._tracked.values():
            if (other.dev, other.inode) == (st.st_dev, st.st_ino):
                fh.close()
                return None
        saved = ctx.checkpoints.get(f"file:{path}")
        if saved is not None:
            same = saved.get("inode") == st.st_ino and saved.get("dev") == st.st_dev
            offset = int(saved.get("offset", 0))
            start = offset if same and st.st_size >= offset else 0
        elif initial and self.config.start_at == "end":
            start = st.st_size
        else:
            start = 0
        fh.seek(start)
        cfg = self.config
        meta = {"input": "file", "path": path, "format": cfg.format, "timezone": cfg.timezone}
        splitter = LineSplitter(start, cfg.max_line_bytes)
        return _Tracked(path, fh, st.st_dev, st.st_ino, splitter, meta, cfg.new_assembler(), time.monotonic())

    # -- reading -----------------------------------------------------------------

    def _read(self, t: _Tracked, ctx: InputContext, *, final: bool) -> bool:
        """Read what ``t`` has now and accept it in batches; True if any bytes were read."""
        batch_max = self.config.batch_max_lines
        got_any = False
        pending: list[tuple[int, bytes, int]] = []
        asm = t.assembler
        while not ctx.stop.is_set():
            data = t.fh.read(CHUNK_BYTES)
            if not data:
                break
            got_any = True
            t.last_data = time.monotonic()
            ctx.count("file.bytes", len(data))
            before = t.splitter.truncated
            lines = t.splitter.feed(data)
            pending.extend(asm.feed(lines) if asm is not None else lines)
            if t.splitter.truncated != before:
                ctx.count("file.truncated_lines", t.splitter.truncated - before)
            while len(pending) >= batch_max:
                self._accept(t, pending[:batch_max], ctx)
                del pending[:batch_max]
        if final and not ctx.stop.is_set():
            lines = t.splitter.flush()
            pending.extend(asm.feed(lines) + asm.flush() if asm is not None else lines)
        elif (
            asm is not None
            and not got_any
            and asm.pending_offset is not None
            and time.monotonic() - t.last_data >= self.config.multiline_flush_s
        ):
            pending.extend(asm.flush())  # idle: do not hold a record forever
        if pending:
            self._accept(t, pending, ctx)
        self._save(t, ctx)
        return got_any

    def _accept(self, t: _Tracked, lines: list[tuple[int, bytes, int]], ctx: InputContext) -> None:
        ctx.accept(_records(t, lines, datetime.now(UTC)))
        ctx.count("file.lines", len(lines))
        self._save(t, ctx, lines[-1][2])  # just past the last line of the batch

    def _save(self, t: _Tracked, ctx: InputContext, offset: int | None = None) -> None:
        if offset is None:
            offset = t.resume_offset
        ctx.checkpoints.put(t.key, {"inode": t.inode, "dev": t.dev, "offset": offset})

    def _check_rotation(self, t: _Tracked, ctx: InputContext) -> str | None:
        """``"rotated"``, ``"removed"``, ``"truncated"`` or ``None`` for an idle file."""
        try:
            st = os.stat(t.path)
        except FileNotFoundError:
            return "removed"
        except OSError:
            return None
        if (st.st_dev, st.st_ino) != (t.dev, t.inode):
            return "rotated"
        if st.st_size < t.splitter.offset + t.splitter.pending:
            return "truncated"
        return None

    # -- the loop ----------------------------------------------------------------

    def run(self, ctx: InputContext) -> None:
        """Read the files; tail them until ``ctx.stop`` when ``follow``, else to EOF once."""
        try:
            for path in self._expand():
                t = self._open(path, ctx, initial=True)
                if t is not None:
                    self._tracked[path] = t
            self.ready.set()
            if not self.config.follow:
                for t in list(self._tracked.values()):
                    if ctx.stop.is_set():
                        break
                    self._read(t, ctx, final=True)
                return
            while not ctx.stop.is_set():
                busy = self._poll(ctx)
                if not busy:
                    ctx.stop.wait(self.config.poll_interval_s)
        finally:
            self.ready.set()
            for t in self._tracked.values():
                t.fh.close()
            self._tracked.clear()

    def _poll(self, ctx: InputContext) -> bool:
        busy = False
        for path, t in list(self._tracked.items()):
            if self._read(t, ctx, final=False):
                busy = True
                continue
            change = self._check_rotation(t, ctx)
            if change is None:
                continue
            if change == "truncated":
                ctx.count("file.truncations")
                log.info("file input %s: %s was truncated; reading from the start", self.name, path)
                if t.assembler is not None and t.assembler.pending_offset is not None:
                    self._accept(t, t.assembler.flush(), ctx)  # lines read before the truncation
                t.fh.seek(0)
                t.splitter = LineSplitter(0, self.config.max_line_bytes)
                t.assembler = self.config.new_assembler()
                self._save(t, ctx)
                busy = True
                continue
            # Rotated or removed: the writer has moved on, so finish the old file.
            self._read(t, ctx, final=True)
            t.fh.close()
            del self._tracked[path]
            if change == "rotated":
                ctx.count("file.rotations")
                log.info("file input %s: %s was rotated", self.name, path)
                new = self._open(path, ctx, initial=False)
                if new is not None:
                    self._tracked[path] = new
                    busy = True
        for path in self._expand():
            if path not in self._tracked:
                new = self._open(path, ctx, initial=False)
                if new is not None:
                    self._tracked[path] = new
                    busy = True
        return busy


def read_records(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    timezone: str | None = None,
    multiline: str = "none",
    multiline_pattern: str | None = None,
) -> Iterator[RawRecord]:
    """Every line (or joined record, see ``multiline``) of one file as raw records,
    read once from the start (``soc parse``)."""
    abs_path = os.path.abspath(path)
    source = f"file:{abs_path}"
    meta = {"input": "file", "path": abs_path, "format": format, "timezone": timezone}
    splitter = LineSplitter(0, 1 << 20)
    asm = make_assembler(multiline, multiline_pattern)
    with open(abs_path, "rb", buffering=0) as fh:
        while True:
            data = fh.read(CHUNK_BYTES)
            lines = splitter.feed(data) if data else splitter.flush()
            if asm is not None:
                lines = asm.feed(lines) if data else asm.feed(lines) + asm.flush()
            now = datetime.now(UTC)
            for off, line, _ in lines:
                yield RawRecord(raw=line, source=source, position=off, received=now, meta=dict(meta))
            if not data:
                return
