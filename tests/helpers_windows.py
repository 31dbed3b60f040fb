"""Helpers of the Windows parser tests: the Winlogbeat golden-file oracle comparison."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors.inputs.evtx import read_evtx_records
from collectors.parsers.windows import WindowsParser
from soc.event import flatten, get_field, parse_ts

# ECS fields compared with *.ingest.golden.json (prefixes); winlog.event_data.* is compared with
# the raw *.evtx.golden.json (the ingest pipeline removes keys it renamed).
ORACLE_PREFIXES = (
    "@timestamp",
    "event.code",
    "event.provider",
    "event.action",
    "event.category",
    "event.type",
    "event.outcome",
    "event.kind",
    "event.module",
    "winlog.channel",
    "winlog.event_id",
    "winlog.computer_name",
    "winlog.record_id",
    "winlog.provider_name",
    "winlog.logon.",
    "host.name",
    "user.",
    "source.",
    "process.",
    "file.",
    "registry.",
    "dns.",
    "destination.",
    "network.",
    "service.",
    "related.",
    "group.",
    "log.level",
    "rule.name",
)
NOT_COMPARED = ("network.community_id",)  # needs a Community ID implementation (not done)


@dataclass
class Agreement:
    """Field agreement of one family (``security`` / ``sysmon``)."""

    total: int = 0
    agree: int = 0
    events: int = 0
    mismatches: list[str] = field(default_factory=list)

    @property
    def pct(self) -> float:
        return 100.0 * self.agree / self.total if self.total else 0.0


def _norm(path: str, value: Any) -> Any:
    if path == "@timestamp" and isinstance(value, str):
        return parse_ts(value[:26] + "Z" if len(value) > 27 and "." in value else value)
    if path.startswith("related.") and isinstance(value, list):
        return sorted(map(str, value))
    if path == "winlog.record_id":
        return str(value)
    return value


def _expected(raw_doc: dict[str, Any], ingest_doc: dict[str, Any]) -> dict[str, Any]:
    want = {
        k: v
        for k, v in flatten(ingest_doc)
        if k.startswith(ORACLE_PREFIXES) and not k.startswith("winlog.event_data.") and k not in NOT_COMPARED
    }
    for k, v in flatten(get_field(raw_doc, "winlog.event_data") or {}, "winlog.event_data."):
        want[k] = v
    return want


def oracle(folder: Path) -> dict[str, Agreement]:
    """Parse each golden pair's .evtx and compare with the golden docs, joined by record id."""
    parser = WindowsParser()
    families: dict[str, Agreement] = {}
    for golden in sorted(folder.glob("*.evtx.golden.json")):
        stem = golden.name[: -len(".evtx.golden.json")]
        family = "sysmon" if stem.startswith("sysmon") else "security"
        agg = families.setdefault(family, Agreement())
        raw_docs = {str(d["winlog"]["record_id"]): d for d in json.loads(golden.read_text())}
        ingest_docs = {
            str(d["winlog"]["record_id"]): d
            for d in json.loads((folder / f"{stem}.ingest.golden.json").read_text())
        }
        got: dict[str, dict[str, Any]] = {}
        for rec in read_evtx_records(folder / f"{stem}.evtx"):
            (ev,) = parser.parse(rec)
            got[ev["winlog"]["record_id"]] = dict(flatten(ev))
        for rid, raw_doc in raw_docs.items():
            agg.events += 1
            have = got.get(rid, {})
            for path, value in _expected(raw_doc, ingest_docs.get(rid, {})).items():
                agg.total += 1
                if _norm(path, value) == _norm(path, have.get(path)):
                    agg.agree += 1
                else:
                    agg.mismatches.append(f"{stem}#{rid} {path}: want {value!r}, got {have.get(path)!r}")
    return families
