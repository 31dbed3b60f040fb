"""Read Windows ``.evtx`` files into :class:`~soc.event.RawRecord` s (one per event record).

Uses the ``evtx`` package (``PyEvtxParser``, Rust). Each record becomes
``RawRecord(raw=<the record's JSON bytes>, source="evtx:<abs path>",
position=<EVTX record number>, meta={"input": "evtx", "path": .., "format": "windows"})``;
the record number is stable, so a re-read yields the same event ids.

A damaged file never raises mid-file: :class:`EvtxReader` yields the good records and
collects what it could not read in ``errors`` (:class:`EvtxError`: chunk or record,
reason). A file cut short inside a chunk is read by padding that chunk with zeros, so
the records before the cut are still recovered, and the cut is reported.
"""

from __future__ import annotations

import io
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from soc.event import RawRecord

EVTX_MAGIC = b"ElfFile\x00"
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_BYTES = 4096
CHUNK_BYTES = 65536
_CHUNK_NO = re.compile(r"chunk number (\d+)")
_RECORD_NO = re.compile(r"record (?:id |number )?(\d+)", re.IGNORECASE)


class EvtxFileError(Exception):
    """The file is not an EVTX file at all (no ``ElfFile`` header) or cannot be opened."""


@dataclass(frozen=True, slots=True)
class EvtxError:
    """One part of a file that could not be read: ``chunk`` and/or ``record`` number, reason."""

    reason: str
    chunk: int | None = None
    record: int | None = None

    def __str__(self) -> str:
        where = []
        if self.chunk is not None:
            where.append(f"chunk {self.chunk}")
        if self.record is not None:
            where.append(f"record {self.record}")
        return f"{', '.join(where) or 'file'}: {self.reason}"


def is_evtx(path: str | os.PathLike[str]) -> bool:
    """True when the file starts with the EVTX magic ``ElfFile\\0``."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(EVTX_MAGIC)) == EVTX_MAGIC
    except OSError:
        return False


@dataclass
class EvtxReader:
    """Reads one EVTX file; iterate :meth:`records`, then inspect :attr:`errors`."""

    path: str | os.PathLike[str]
    source: str | None = None
    received: datetime | None = None
    errors: list[EvtxError] = field(default_factory=list)
    count: int = 0

    def __post_init__(self) -> None:
        self.abs_path = str(Path(self.path).resolve())
        if self.source is None:
            self.source = f"evtx:{self.abs_path}"

    def _open(self) -> io.BytesIO | str:
        """The path, or a zero-padded in-memory copy when the file ends inside a chunk."""
        try:
            size = os.path.getsize(self.abs_path)
            with open(self.abs_path, "rb") as fh:
                header = fh.read(HEADER_BYTES)
        except OSError as exc:
            raise EvtxFileError(f"{self.abs_path}: cannot read: {exc.strerror or exc}") from None
        if header[:8] != EVTX_MAGIC:
            raise EvtxFileError(f"{self.abs_path}: not an EVTX file (no ElfFile header magic)")
        if len(header) < 128:
            self.errors.append(EvtxError(f"file header cut short at {len(header)} bytes"))
            return io.BytesIO(b"")
        declared = struct.unpack_from("<H", header, 42)[0]
        body = size - HEADER_BYTES
        full, tail = divmod(max(body, 0), CHUNK_BYTES)
        if declared > full + (1 if tail else 0):
            self.errors.append(
                EvtxError(
                    f"header declares {declared} chunks but the file holds {full} whole chunks"
                    + (f" and {tail} bytes of another" if tail else "")
                )
            )
        if not tail:
            return self.abs_path
        self.errors.append(
            EvtxError(
                f"file ends {CHUNK_BYTES - tail} bytes short of the chunk's end; records after the cut "
                "are lost",
                chunk=full,
            )
        )
        with open(self.abs_path, "rb") as fh:
            data = fh.read()
        return io.BytesIO(data + b"\x00" * (CHUNK_BYTES - tail))

    def records(self) -> Iterator[RawRecord]:
        """Yield the readable records in file order; errors go to :attr:`errors`."""
        from evtx import PyEvtxParser  # Rust extension, imported where it is used

        target = self._open()
        if isinstance(target, io.BytesIO) and not target.getbuffer().nbytes:
            return
        try:
            parser = PyEvtxParser(target, number_of_threads=1)
        except (OSError, RuntimeError, ValueError) as exc:
            self.errors.append(EvtxError(f"cannot open: {exc}"))
            return
        received = self.received or datetime.now(UTC)
        meta = {"input": "evtx", "path": self.abs_path, "format": "windows"}
        it = parser.records_json()
        while True:
            try:
                rec = next(it)
            except StopIteration:
                return
            except Exception as exc:  # evtx raises RuntimeError and others per bad chunk or record
                self.errors.append(_error_of(exc))
                if len(self.errors) > 10_000:
                    self.errors.append(EvtxError("too many errors; stopped reading"))
                    return
                continue
            self.count += 1
            yield RawRecord(
                raw=rec["data"].encode("utf-8"),
                source=str(self.source),
                position=int(rec["event_record_id"]),
                received=received,
                meta=dict(meta),
            )


def _error_of(exc: BaseException) -> EvtxError:
    text = str(exc) or type(exc).__name__
    chunk = _CHUNK_NO.search(text)
    record = _RECORD_NO.search(text)
    return EvtxError(
        text.splitlines()[0][:500],
        chunk=int(chunk.group(1)) if chunk else None,
        record=int(record.group(1)) if record else None,
    )


def read_evtx_records(path: str | os.PathLike[str], *, source: str | None = None) -> Iterator[RawRecord]:
    """The readable records of an EVTX file (errors are dropped; use :class:`EvtxReader` to see them)."""
    yield from EvtxReader(path, source=source).records()
