"""Incremental stream framers: split a TCP byte stream into syslog messages.

Three framers share one small API, and none does I/O:

* ``feed(data) -> list[bytes]``: the frames completed by ``data``;
* ``flush() -> list[bytes]``: at connection close, what is left;
* counters ``truncated`` and ``errors``, and ``last_error`` (text naming what was
  wrong and at which stream byte offset).

:class:`NewlineFramer` splits on LF; :class:`OctetCountingFramer` reads RFC 6587
``MSG-LEN SP SYSLOG-MSG`` frames; :class:`AutoFramer` picks one of the two from the
first bytes of the connection (an octet-counted frame starts with a digit, a syslog
message with ``<``).

Every emitted frame has one trailing ``\\r\\n`` or ``\\n`` stripped, and empty
frames are dropped.

Oversized frames (longer than ``max_frame_bytes``) are **truncated and flagged**:
the first ``max_frame_bytes`` bytes are emitted as the frame, the rest of that frame
is discarded, and ``truncated`` is incremented. A partial newline frame is emitted
by ``flush()``; a partial octet-counted frame is dropped by ``flush()`` and counted
in ``errors``.
"""

from __future__ import annotations

from typing import Protocol

DEFAULT_MAX_FRAME_BYTES = 65536
_MAX_LEN_DIGITS = 10


class Framer(Protocol):
    """What every framer offers; see the module docstring."""

    truncated: int
    errors: int
    last_error: str | None

    def feed(self, data: bytes) -> list[bytes]: ...

    def flush(self) -> list[bytes]: ...


def _strip(frame: bytes) -> bytes:
    if frame.endswith(b"\n"):
        frame = frame[:-1]
    if frame.endswith(b"\r"):
        frame = frame[:-1]
    return frame


class NewlineFramer:
    """LF-delimited frames (``\\r\\n`` accepted); see the module docstring."""

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise ValueError(f"max_frame_bytes must be >= 1, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self.truncated = 0
        self.errors = 0
        self.last_error: str | None = None
        self._buf = b""
        self._discarding = False  # inside an oversized frame whose head was emitted
        self._offset = 0  # stream offset of the first byte of _buf

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        if b"\n" not in data:
            if self._discarding:
                self._offset += len(data)
                return []
            self._buf += data
            return self._check_partial()
        parts = (self._buf + data).split(b"\n")
        rest = parts.pop()
        out: list[bytes] = []
        limit = self.max_frame_bytes
        offset = self._offset
        first = True
        for part in parts:
            start = offset
            offset += len(part) + 1
            if first and self._discarding:
                self._discarding = False
                first = False
                continue
            first = False
            if part.endswith(b"\r"):
                part = part[:-1]
            if not part:
                continue
            if len(part) > limit:
                self._flag_truncated(start, len(part))
                part = part[:limit]
            out.append(part)
        self._discarding = False
        self._buf = rest
        self._offset = offset
        out.extend(self._check_partial())
        return out

    def _check_partial(self) -> list[bytes]:
        # A partial frame longer than the limit can never become valid: emit its head now.
        limit = self.max_frame_bytes
        if len(self._buf) <= limit:
            return []
        head = self._buf[:limit]
        self._flag_truncated(self._offset, len(self._buf))
        self._offset += len(self._buf)
        self._buf = b""
        self._discarding = True
        return [head]

    def _flag_truncated(self, offset: int, size: int) -> None:
        self.truncated += 1
        self.last_error = (
            f"frame at stream offset {offset} is longer than {self.max_frame_bytes} bytes "
            f"({size} seen); truncated"
        )

    def flush(self) -> list[bytes]:
        buf, self._buf = self._buf, b""
        self._offset += len(buf)
        discarding, self._discarding = self._discarding, False
        if discarding:
            return []
        frame = _strip(buf)
        return [frame] if frame else []


class OctetCountingFramer:
    """RFC 6587 octet-counted frames: ``MSG-LEN SP MSG`` repeated.

    Whitespace between frames (some senders add ``\\n``) is skipped. A frame whose
    header is not digits followed by a space is a framing error: it is counted, and
    that one frame is read up to the next LF instead (as rsyslog does), so a sender
    that mixes framings loses nothing.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 1:
            raise ValueError(f"max_frame_bytes must be >= 1, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self.truncated = 0
        self.errors = 0
        self.last_error: str | None = None
        self._buf = b""
        self._offset = 0  # stream offset of _buf[0]
        self._skip = 0  # bytes of an oversized octet frame still to discard
        self._fallback = False  # _buf starts with an unframed frame awaiting its LF
        self._fallback_discard = False  # that frame was too long; its head was emitted

    def feed(self, data: bytes) -> list[bytes]:
        if not data:
            return []
        buf = self._buf + data if self._buf else data
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        limit = self.max_frame_bytes
        while pos < n:
            if self._skip:
                take = min(self._skip, n - pos)
                self._skip -= take
                pos += take
                continue
            if self._fallback:
                nxt = self._fallback_frame(buf, pos, out)
                if nxt is None:
                    break
                pos = nxt
                continue
            c = buf[pos]
            if c in b" \r\n\t":
                pos += 1
                continue
            if 0x30 <= c <= 0x39:
                sp = buf.find(b" ", pos, pos + _MAX_LEN_DIGITS + 1)
                if sp < 0:
                    if n - pos <= _MAX_LEN_DIGITS:
                        break  # header incomplete
                    self._start_fallback(pos, "no space within 10 digits of MSG-LEN")
                    continue
                digits = buf[pos:sp]
                if not digits.isdigit():
                    self._start_fallback(pos, f"bad MSG-LEN {digits!r}")
                    continue
                length = int(digits)
                start = sp + 1
                if length > limit:
                    if n - start < limit:
                        break  # wait until the head is complete
                    self.truncated += 1
                    self.last_error = (
                        f"frame at stream offset {self._offset + pos} declares {length} bytes, "
                        f"more than {limit}; truncated"
                    )
                    frame = _strip(buf[start : start + limit])
                    if frame:
                        out.append(frame)
                    self._skip = length - limit
                    pos = start + limit
                    continue
                end = start + length
                if end > n:
                    break
                frame = _strip(buf[start:end])
                if frame:
                    out.append(frame)
                pos = end
                continue
            self._start_fallback(pos, f"frame starts with {bytes([c])!r}, not a digit")
        self._offset += pos
        self._buf = buf[pos:]
        if self._fallback and not self._fallback_discard and len(self._buf) > limit:
            # An unframed frame that is already too long: emit its head, drop the rest.
            self.truncated += 1
            frame = _strip(self._buf[:limit])
            if frame:
                out.append(frame)
            self._offset += len(self._buf)
            self._buf = b""
            self._fallback_discard = True
        elif self._fallback_discard:
            self._offset += len(self._buf)
            self._buf = b""
        return out

    def _start_fallback(self, pos: int, why: str) -> None:
        self.errors += 1
        self.last_error = f"octet framing error at stream offset {self._offset + pos}: {why}"
        self._fallback = True

    def _fallback_frame(self, buf: bytes, pos: int, out: list[bytes]) -> int | None:
        """Read the LF-terminated frame at ``pos``; the next position, or ``None`` if
        its LF has not arrived yet."""
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return None
        if not self._fallback_discard:
            frame = _strip(buf[pos:nl])
            if len(frame) > self.max_frame_bytes:
                self.truncated += 1
                frame = frame[: self.max_frame_bytes]
            if frame:
                out.append(frame)
        self._fallback = False
        self._fallback_discard = False
        return nl + 1

    def flush(self) -> list[bytes]:
        buf, self._buf = self._buf, b""
        skip, self._skip = self._skip, 0
        fallback, self._fallback = self._fallback, False
        discard, self._fallback_discard = self._fallback_discard, False
        if skip or discard:
            return []
        if fallback:
            frame = _strip(buf)[: self.max_frame_bytes]
            return [frame] if frame else []
        if not buf.strip(b" \r\n\t"):
            return []
        self.errors += 1
        self.last_error = (
            f"connection closed inside an octet-counted frame at stream offset {self._offset} "
            f"({len(buf)} bytes pending); frame dropped"
        )
        return []


class AutoFramer:
    """Choose octet counting or newline framing from the first bytes of a connection.

    Octet counting when the stream starts with one or more digits followed by a
    space; newline framing otherwise (a syslog message starts with ``<``).
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._inner: NewlineFramer | OctetCountingFramer | None = None
        self._head = b""

    @property
    def mode(self) -> str | None:
        """``"octet"``, ``"newline"``, or ``None`` before the choice is made."""
        if self._inner is None:
            return None
        return "octet" if isinstance(self._inner, OctetCountingFramer) else "newline"

    @property
    def truncated(self) -> int:
        return self._inner.truncated if self._inner else 0

    @property
    def errors(self) -> int:
        return self._inner.errors if self._inner else 0

    @property
    def last_error(self) -> str | None:
        return self._inner.last_error if self._inner else None

    def feed(self, data: bytes) -> list[bytes]:
        if self._inner is not None:
            return self._inner.feed(data)
        head = self._head + data
        stripped = head.lstrip(b" \r\n\t")
        if not stripped:
            self._head = head
            return []
        i = 0
        while i < len(stripped) and i <= _MAX_LEN_DIGITS and 0x30 <= stripped[i] <= 0x39:
            i += 1
        if i == len(stripped) and i <= _MAX_LEN_DIGITS:
            self._head = head  # only digits so far: undecided
            return []
        if i > 0 and i < len(stripped) and stripped[i] == 0x20:
            self._inner = OctetCountingFramer(self.max_frame_bytes)
        else:
            self._inner = NewlineFramer(self.max_frame_bytes)
        self._head = b""
        return self._inner.feed(head)

    def flush(self) -> list[bytes]:
        if self._inner is None:
            head, self._head = self._head, b""
            self._inner = NewlineFramer(self.max_frame_bytes)
            self._inner.feed(head)
        return self._inner.flush()


def make_framer(kind: str, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Framer:
    """A new framer by config name: ``auto``, ``newline`` or ``octet``."""
    if kind == "auto":
        return AutoFramer(max_frame_bytes)
    if kind == "newline":
        return NewlineFramer(max_frame_bytes)
    if kind == "octet":
        return OctetCountingFramer(max_frame_bytes)
    raise ValueError(f"unknown framing {kind!r}: expected 'auto', 'newline' or 'octet'")
