"""Comparing parser output with an upstream oracle (Filebeat ``*-expected.json``).

An expected file is a JSON array of documents with flattened dotted keys. Each
document is joined to its raw line by ``log.offset`` (the byte offset of the line
start); documents are at most the first 100 events of a file. :func:`oracle_agreement`
parses each joined line, flattens the event and compares a list of fields:

* a field is counted only where the expected document carries it;
* lists compare as sorted lists: the expected files list values sorted, whatever
  order Filebeat's ``append`` produced them in;
* ``@timestamp`` and other fields in ``instants`` compare as instants at millisecond
  precision (Elasticsearch keeps milliseconds), whatever offset each side writes;
* a field whose value is a ``ParseError`` counts as a disagreement.

Usage::

    report = oracle_agreement(folder / "traffic.log", parse_line, FIELDS)
    print(report.table())
    assert report.ratio >= 0.95
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from soc.event import Event, flatten, parse_ts

ParseLine = Callable[[bytes, dict[str, Any]], Event]
"""``(raw line without newline, expected doc) -> event``; the doc lets the caller pick
options such as the timezone (``event.timezone``)."""

DEFAULT_INSTANTS = frozenset({"@timestamp", "event.start", "event.end", "event.created"})


def load_expected(path: Path) -> list[dict[str, Any]]:
    """The documents of a Filebeat ``*-expected.json`` (a JSON array of flat dicts)."""
    docs = json.loads(path.read_text())
    if not isinstance(docs, list):
        raise ValueError(f"{path}: expected a JSON array of documents")
    return docs


def line_at(raw: bytes, offset: int) -> bytes:
    """The line of ``raw`` starting at byte ``offset``, without its line ending."""
    end = raw.find(b"\n", offset)
    line = raw[offset : end if end >= 0 else len(raw)]
    return line[:-1] if line.endswith(b"\r") else line


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = parse_ts(value)
    except ValueError:
        return None
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)


def values_agree(fld: str, want: Any, got: Any, instants: Iterable[str] = DEFAULT_INSTANTS) -> bool:
    """Whether ``got`` equals ``want`` under the comparison rules of this module."""
    if fld in instants:
        return got is not None and _instant(want) == _instant(got)
    if isinstance(want, list) and isinstance(got, list):
        return sorted(map(str, want)) == sorted(map(str, got))
    return bool(want == got)


@dataclass
class OracleReport:
    """Per-field agreement counts over one or more oracle files."""

    agree: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    docs: int = 0

    def add(self, other: OracleReport) -> OracleReport:
        for f, n in other.total.items():
            self.total[f] = self.total.get(f, 0) + n
            self.agree[f] = self.agree.get(f, 0) + other.agree.get(f, 0)
        self.mismatches.extend(other.mismatches)
        self.docs += other.docs
        return self

    @property
    def compared(self) -> int:
        return sum(self.total.values())

    @property
    def agreed(self) -> int:
        return sum(self.agree.values())

    @property
    def ratio(self) -> float:
        """Agreeing field values over compared field values (1.0 when nothing compared)."""
        return self.agreed / self.compared if self.compared else 1.0

    def per_field(self) -> dict[str, float]:
        return {f: self.agree.get(f, 0) / n for f, n in sorted(self.total.items()) if n}

    def table(self, title: str = "") -> str:
        """A printable per-field table with the overall figure last."""
        rows = [title] if title else []
        for f, n in sorted(self.total.items()):
            rows.append(
                f"  {f:<40} {self.agree.get(f, 0):>5}/{n:<5} {100.0 * self.agree.get(f, 0) / n:6.1f}%"
            )
        label = f"ALL ({self.docs} docs)"
        rows.append(f"  {label:<40} {self.agreed:>5}/{self.compared:<5} {100 * self.ratio:6.2f}%")
        return "\n".join(rows)


def oracle_agreement(
    log_path: Path,
    parse_line: ParseLine,
    fields: Sequence[str],
    *,
    expected_path: Path | None = None,
    instants: Iterable[str] = DEFAULT_INSTANTS,
    prefixes: Sequence[str] = (),
) -> OracleReport:
    """Compare ``parse_line`` on each line of ``log_path`` with its expected document.

    ``fields`` are compared where the expected doc has them; ``prefixes`` adds every
    expected key starting with one of them (``("iptables.",)`` for a vendor namespace).
    An exception from ``parse_line`` makes every compared field of that doc disagree.
    """
    instants = frozenset(instants)
    expected_path = expected_path or log_path.with_name(log_path.name + "-expected.json")
    raw = log_path.read_bytes()
    report = OracleReport()
    for doc in load_expected(expected_path):
        report.docs += 1
        offset = doc["log.offset"]
        line = line_at(raw, offset)
        try:
            got = dict(flatten(parse_line(line, doc)))
            error = None
        except Exception as exc:
            got, error = {}, exc
        wanted = [f for f in fields if f in doc]
        wanted += [k for k in doc if prefixes and k.startswith(tuple(prefixes)) and k not in wanted]
        for f in wanted:
            report.total[f] = report.total.get(f, 0) + 1
            if error is None and values_agree(f, doc[f], got.get(f), instants):
                report.agree[f] = report.agree.get(f, 0) + 1
            else:
                why = f"raised {error!r}" if error is not None else f"got {got.get(f)!r}"
                report.mismatches.append(f"{log_path.name}@{offset} {f}: expected {doc[f]!r}, {why}")
    return report
