"""Oracle comparison for the network parsers: our events against Filebeat's
``*-expected.json`` documents (flattened dotted keys, joined by ``log.offset``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from soc.event import Event, RawRecord, flatten, parse_ts

EXACT = (
    "@timestamp", "event.category", "event.type", "event.outcome", "event.kind", "event.action",
    "event.duration", "event.severity", "event.start", "event.end", "source.ip", "source.port",
    "destination.ip", "destination.port", "destination.domain", "network.transport", "network.protocol",
    "network.bytes", "network.packets", "dns.question.name", "dns.question.type", "dns.answers",
    "dns.resolved_ip", "dns.response_code", "dns.id", "dns.type", "dns.header_flags", "rule.name", "rule.id",
    "rule.category", "rule.description", "user.name", "related.ip",
)  # fmt: skip
PREFIXES = ("url.", "zeek.", "suricata.", "tls.", "http.", "file.")
_TIMES = ("@timestamp", "event.start", "event.end")


def oracle_fields(doc: dict[str, Any]) -> list[str]:
    """The keys of an expected doc that the oracle compares."""
    return [k for k in doc if k in EXACT or k.startswith(PREFIXES)]


def _norm(key: str, value: Any) -> Any:
    if isinstance(value, str) and (
        key in _TIMES or key.endswith(("not_after", "not_before", ".until", ".from", "_at"))
    ):
        try:
            ts = parse_ts(value)
            return ts.replace(microsecond=ts.microsecond // 1000 * 1000)
        except ValueError:
            return value
    if isinstance(value, list):
        items = sorted(json.dumps(v, sort_keys=True) for v in value)
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return json.dumps(value) if not isinstance(value, int | bool) else value


def same(key: str, want: Any, got: Any) -> bool:
    """Equal up to list order, a one-element list vs its element, ms precision and 1.0 == 1."""
    if got is None:
        return False
    return _norm(key, want) == _norm(key, got)


def compare_file(
    raw_path: Path, expected_path: Path, parse: Callable[[RawRecord], list[Event]]
) -> tuple[int, int, list[str]]:
    """(agreeing values, compared values, mismatch descriptions) for one golden file pair."""
    raw = raw_path.read_bytes()
    agree = total = 0
    bad: list[str] = []
    for doc in json.loads(expected_path.read_text()):
        off = doc["log.offset"]
        end = raw.find(b"\n", off)
        line = raw[off : end if end >= 0 else len(raw)]
        meta = {"input": "file", "path": str(raw_path)}
        (event,) = parse(RawRecord(raw=line, source=f"file:{raw_path}", position=off, meta=meta))
        flat = dict(flatten(event))
        for key in oracle_fields(doc):
            total += 1
            if same(key, doc[key], flat.get(key)):
                agree += 1
            else:
                bad.append(f"{raw_path.name}@{off} {key}: expected {doc[key]!r}, got {flat.get(key)!r}")
    return agree, total, bad


def file_pairs(folder: Path) -> Iterable[tuple[Path, Path]]:
    for expected in sorted(folder.glob("*-expected.json")):
        yield folder / expected.name[: -len("-expected.json")], expected
