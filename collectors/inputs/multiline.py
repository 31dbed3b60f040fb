"""Joining several lines of a file into one record, before parsing.

An assembler takes the ``(offset, line, end)`` triples of
:class:`collectors.inputs.file.LineSplitter` and returns joined triples: ``offset``
of the record's first line, the lines joined by ``\\n``, and ``end`` just past its
last line. It holds at most one pending record; ``pending_offset`` is where that
record starts (a checkpoint must never pass it) and ``flush()`` gives it up (at EOF,
or when the file has been idle for a while).

* :class:`ContinuationJoiner`: a line that starts with a space or tab, or matches a
  configured regular expression, continues the previous record (macOS syslog, Java
  stack traces).
* :class:`AuditSerialJoiner`: consecutive Linux audit records with the same
  ``msg=audit(EPOCH:SERIAL)`` (and ``node=``) are one event; an ``EOE`` record ends it.

Both bound a record by line count and bytes; when a bound is reached the record is
given out and the next line starts a new one.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

Line = tuple[int, bytes, int]
"""``(offset of the first line, raw bytes without the final newline, end offset)``."""

MultilineMode = Literal["none", "continuation", "audit_serial"]
MODES: tuple[str, ...] = ("none", "continuation", "audit_serial")


class MultilineAssembler(Protocol):
    """Joins lines into records; see the module docstring."""

    @property
    def pending_offset(self) -> int | None:
        """Start offset of the pending (not yet returned) record, or ``None``."""
        ...

    def feed(self, lines: list[Line]) -> list[Line]:
        """Records completed by ``lines``, in order."""
        ...

    def flush(self) -> list[Line]:
        """The pending record, if any (EOF or idle)."""
        ...


class _Pending:
    """The record being assembled, with bounds."""

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        if max_lines < 1 or max_bytes < 1:
            raise ValueError("multiline max_lines and max_bytes must be positive")
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._start = -1
        self._end = -1
        self._parts: list[bytes] = []
        self._size = 0

    @property
    def pending_offset(self) -> int | None:
        return self._start if self._parts else None

    def flush(self) -> list[Line]:
        if not self._parts:
            return []
        out = (self._start, b"\n".join(self._parts), self._end)
        self._parts = []
        self._size = 0
        return [out]

    def _fits(self, line: bytes) -> bool:
        return len(self._parts) < self.max_lines and self._size + 1 + len(line) <= self.max_bytes

    def _append(self, offset: int, line: bytes, end: int) -> None:
        if not self._parts:
            self._start = offset
            self._size = len(line)
        else:
            self._size += 1 + len(line)
        self._parts.append(line)
        self._end = end


class ContinuationJoiner(_Pending):
    """Lines starting with whitespace (or matching ``pattern``) join the previous line.

    ``pattern`` is a regular expression matched at the start of a line (bytes
    semantics, e.g. ``^\\s`` or ``^Caused by:``); lines starting with a space or tab
    always continue.
    """

    def __init__(self, pattern: str | None = None, *, max_lines: int = 500, max_bytes: int = 1 << 20) -> None:
        super().__init__(max_lines, max_bytes)
        try:
            self._pattern = re.compile(pattern.encode()) if pattern else None
        except re.error as exc:
            raise ValueError(f"bad multiline_pattern {pattern!r}: {exc}") from None

    def is_continuation(self, line: bytes) -> bool:
        if line[:1] in (b" ", b"\t"):
            return True
        return self._pattern is not None and self._pattern.match(line) is not None

    def feed(self, lines: list[Line]) -> list[Line]:
        out: list[Line] = []
        for offset, line, end in lines:
            if not (self._parts and self.is_continuation(line) and self._fits(line)):
                out.extend(self.flush())
            self._append(offset, line, end)
        return out


_SERIAL = re.compile(rb"(?:node=(\S+) )?type=(\S+) msg=audit\((\d+(?:\.\d+)?:\d+)\)")


def audit_key(line: bytes) -> tuple[bytes | None, bytes, bytes] | None:
    """``(node, record type, "EPOCH:SERIAL")`` of an audit line (raw or after a syslog
    header), or ``None`` when the line is no audit record."""
    i = line.find(b"type=")
    if i < 0:
        return None
    j = line.rfind(b"node=", 0, i)
    m = _SERIAL.match(line, j if j >= 0 and i - j < 300 else i)
    if m is None:
        return None
    return m.group(1), m.group(2), m.group(3)


class AuditSerialJoiner(_Pending):
    """Consecutive audit records sharing ``node`` and ``EPOCH:SERIAL`` become one record.

    The record ends at an ``EOE`` record, at a line of another serial (or a line that
    is no audit record, which passes through alone), or at the bounds.
    """

    def __init__(self, *, max_lines: int = 256, max_bytes: int = 1 << 20) -> None:
        super().__init__(max_lines, max_bytes)
        self._key: tuple[bytes | None, bytes] | None = None

    def feed(self, lines: list[Line]) -> list[Line]:
        out: list[Line] = []
        for offset, line, end in lines:
            parsed = audit_key(line)
            if parsed is None:
                out.extend(self.flush())
                out.append((offset, line, end))
                continue
            node, rtype, serial = parsed
            key = (node, serial)
            if not (self._parts and key == self._key and self._fits(line)):
                out.extend(self.flush())
            self._key = key
            self._append(offset, line, end)
            if rtype == b"EOE":
                out.extend(self.flush())
        return out


def make_assembler(
    mode: str, pattern: str | None = None, *, max_lines: int = 500, max_bytes: int = 1 << 20
) -> MultilineAssembler | None:
    """The assembler for ``mode`` (``none`` gives ``None``); ``ValueError`` naming a bad mode."""
    if mode == "none":
        return None
    if mode == "continuation":
        return ContinuationJoiner(pattern, max_lines=max_lines, max_bytes=max_bytes)
    if mode == "audit_serial":
        return AuditSerialJoiner(max_lines=max_lines, max_bytes=max_bytes)
    raise ValueError(f"unknown multiline mode {mode!r}: expected one of {', '.join(MODES)}")
