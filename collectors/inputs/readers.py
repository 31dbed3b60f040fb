"""Read a whole log file once as raw records, whatever its container: EVTX, a Zeek
TSV log (whose header every line needs), or a line-oriented text file.

Used by ``soc parse`` and ``soc ingest``; tailing inputs use ``collectors.inputs.file``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from collectors.inputs.evtx import EvtxReader, is_evtx
from collectors.inputs.file import read_records
from collectors.inputs.multiline import make_assembler
from collectors.inputs.pcap import is_pcap, read_pcap_records
from collectors.parsers.zeek.tsv import read_zeek_tsv
from soc.event import RawRecord

ZEEK_TSV_MAGIC = b"#separator"


class FileReader:
    """The records of one file. ``kind`` is ``evtx``, ``pcap``, ``zeek_tsv`` or ``lines``;
    ``errors`` lists what could not be read (corrupt EVTX chunks), after iteration.
    ``multiline`` (``none``, ``continuation``, ``audit_serial``) joins the lines of a
    ``lines`` file into records (see :mod:`collectors.inputs.multiline`)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        timezone: str | None = None,
        multiline: str = "none",
        multiline_pattern: str | None = None,
    ):
        self.path = Path(path).resolve()
        self.format = format
        self.timezone = timezone
        self.multiline = multiline
        self.multiline_pattern = multiline_pattern
        make_assembler(multiline, multiline_pattern)  # ValueError on a bad mode or pattern
        self.errors: list[str] = []
        if is_evtx(self.path):
            self.kind = "evtx"
        elif is_pcap(self.path):
            self.kind = "pcap"
        else:
            with open(self.path, "rb") as fh:
                head = fh.read(len(ZEEK_TSV_MAGIC))
            self.kind = "zeek_tsv" if head == ZEEK_TSV_MAGIC else "lines"

    def records(self) -> Iterator[RawRecord]:
        if self.kind == "evtx":
            reader = EvtxReader(self.path)
            try:
                yield from reader.records()
            finally:
                self.errors = [str(e) for e in reader.errors]
        elif self.kind == "zeek_tsv":
            yield from read_zeek_tsv(self.path)
        elif self.kind == "pcap":
            yield from read_pcap_records(self.path)
        else:
            yield from read_records(
                self.path,
                format=self.format,
                timezone=self.timezone,
                multiline=self.multiline,
                multiline_pattern=self.multiline_pattern,
            )
