"""Oracle comparison against Filebeat ``*-expected.json`` files (firewall parsers, set B).

An expected file is a JSON array of flattened documents; each is joined to its raw
line by ``log.offset`` (the byte offset of the line start). :func:`compare_file`
parses each joined line with a parser and compares a list of dotted fields, only
where the expected document carries the field, returning per-field agreement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from collectors.parsers.base import ParseError
from soc.event import Event, RawRecord, flatten, parse_ts

RECEIVED = datetime(2020, 6, 1, tzinfo=UTC)


@dataclass
class Agreement:
    """Per-field agree/total counts and the first mismatches, for one or more files."""

    agree: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    docs: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, fld: str, ok: bool, note: str) -> None:
        self.total[fld] = self.total.get(fld, 0) + 1
        self.agree[fld] = self.agree.get(fld, 0) + int(ok)
        if not ok and len(self.mismatches) < 60:
            self.mismatches.append(note)

    def merge(self, other: Agreement) -> None:
        for k, v in other.total.items():
            self.total[k] = self.total.get(k, 0) + v
            self.agree[k] = self.agree.get(k, 0) + other.agree.get(k, 0)
        self.mismatches.extend(other.mismatches[: max(0, 60 - len(self.mismatches))])
        self.docs += other.docs
        self.errors.extend(other.errors)

    @property
    def overall(self) -> float:
        total = sum(self.total.values())
        return 100.0 * sum(self.agree.values()) / total if total else 0.0

    def table(self, title: str) -> str:
        lines = [
            f"{title}: {sum(self.agree.values())}/{sum(self.total.values())} ({self.overall:.2f}%), "
            f"{self.docs} docs, {len(self.errors)} parse errors"
        ]
        for fld in sorted(self.total):
            a, t = self.agree[fld], self.total[fld]
            lines.append(f"    {fld:<36} {a:>5}/{t:<5} {100.0 * a / t:6.1f}%")
        return "\n".join(lines)


def load_expected(path: Path) -> list[dict[str, Any]]:
    """The expected documents of a Filebeat golden file."""
    docs = json.loads(path.read_text())
    if not isinstance(docs, list):
        raise ValueError(f"{path}: expected a JSON array of documents")
    return docs


def line_at(raw: bytes, offset: int) -> bytes:
    """The line starting at byte ``offset`` (without its newline)."""
    end = raw.find(b"\n", offset)
    return raw[offset : end if end >= 0 else len(raw)].rstrip(b"\r")


def _norm(fld: str, value: Any) -> Any:
    if value is None:
        return None
    if fld == "@timestamp" or (fld.endswith(("Time", ".start", ".end")) and isinstance(value, str)):
        try:
            ts = parse_ts(value)
            return ts.replace(microsecond=ts.microsecond // 1000 * 1000)
        except ValueError:
            return value
    if isinstance(value, list):
        return sorted(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def compare_file(
    log_path: Path,
    expected_path: Path,
    parse: Callable[[bytes, dict[str, Any]], list[Event]],
    fields: Iterable[str],
    *,
    equal: Callable[[str, Any, Any], bool] | None = None,
) -> Agreement:
    """Parse each expected doc's raw line with ``parse(line, doc)`` and compare ``fields``.

    A field counts only where the expected doc carries it; a parse error counts every
    such field as a disagreement.
    """
    raw = log_path.read_bytes()
    result = Agreement()
    fields = tuple(fields)
    for doc in load_expected(expected_path):
        off = doc["log.offset"]
        line = line_at(raw, off)
        result.docs += 1
        try:
            events = parse(line, doc)
            got = dict(flatten(events[0])) if events else {}
        except ParseError as exc:
            result.errors.append(f"{log_path.name}@{off}: {exc}")
            got = {}
        for fld in fields:
            if fld not in doc:
                continue
            want, have = _norm(fld, doc[fld]), _norm(fld, got.get(fld))
            ok = equal(fld, want, have) if equal else want == have
            result.add(fld, ok, f"{log_path.name}@{off} {fld}: expected {want!r}, got {have!r}")
    return result


def record(line: bytes, timezone: str = "UTC") -> RawRecord:
    """A raw record for ``line`` received at :data:`RECEIVED`, with a timezone in meta."""
    return RawRecord(raw=line, source="test", position=0, received=RECEIVED, meta={"timezone": timezone})
