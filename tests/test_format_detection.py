"""Format auto-detection across every parser family: each dataset's records are
detected as their own family and parse (nothing silently lands in the wrong parser)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from collectors.inputs.readers import FileReader
from collectors.parsers import detect_format
from soc.pipeline.processor import BatchResult, ParserSet, Processor

# dataset folder (logs/<family>/<folder>) -> the parser that must claim its records
FOLDERS = {
    "iptables": "iptables", "pfsense": "pfsense", "fortigate": "fortigate", "panos": "panos",
    "cisco_asa": "cisco_asa", "checkpoint": "checkpoint", "cef": "cef", "linux_auth": "linux_auth",
    "windows": "windows", "zeek": "zeek", "suricata": "suricata", "auditd": "auditd",
}  # fmt: skip
NOT_LOGS = (".md", ".assert", ".yaml", ".ini", ".pcap", ".pcapng", ".csv", ".conf", ".txt")
# records that are not their family's on purpose: truncated continuation fragments
# of a Ubiquiti router's iptables lines (they parse as generic syslog)
KNOWN_FRAGMENTS = {"ubiquiti.log": 6, "iptables-logs.log": 1}
# records no parser can read on purpose: go-libaudit's `type=UNKNOWN[1329] msg=?`
# has no timestamp (go-libaudit rejects it too)
KNOWN_UNPARSEABLE = {"audit-rhel7.log": 1}


def dataset_files(root: Path) -> list[tuple[str, Path]]:
    files = []
    for path in sorted((root / "logs").rglob("*")):
        parts = path.relative_to(root / "logs").parts
        if not path.is_file() or len(parts) < 3 or parts[1] not in FOLDERS:
            continue
        if path.name.endswith(NOT_LOGS) or "expected" in path.name or "golden" in path.name:
            continue
        files.append((FOLDERS[parts[1]], path))
    return files


def test_every_family_detects_and_parses_its_own_records(datasets: Path) -> None:
    processor = Processor(ParserSet(timezone="UTC"))
    totals: dict[str, Counter[str]] = {}
    for family, path in dataset_files(datasets):
        reader = FileReader(path)
        records = list(reader.records())
        if reader.kind == "lines":
            detected = Counter(detect_format(r.raw) for r in records)
        else:  # EVTX and Zeek TSV records carry their format
            detected = Counter(r.meta.get("format") for r in records)
        wrong = sum(n for name, n in detected.items() if name != family)
        allowed = KNOWN_FRAGMENTS.get(path.name, 0) + KNOWN_UNPARSEABLE.get(path.name, 0)
        assert wrong <= allowed, f"{path}: detected {dict(detected)}"
        result = BatchResult()
        processor.parse(records, result)
        unparseable = KNOWN_UNPARSEABLE.get(path.name, 0)
        assert len(result.dead_letters) <= unparseable, f"{path}: {result.dead_letters[0].reason}"
        t = totals.setdefault(family, Counter())
        t["records"] += len(records)
        t["right"] += detected.get(family, 0)
    print("\nfamily       records  detected as family")
    for family, t in sorted(totals.items()):
        print(f"{family:12} {t['records']:7}  {t['right'] / t['records']:.1%}")
    assert set(totals) == set(FOLDERS.values()), "every family has dataset records"


@pytest.mark.parametrize("line", [b"", b"hello world", b"\x00\xff garbage", b"{}", b"[1,2]"])
def test_unknown_formats_are_detected_by_nobody(line: bytes) -> None:
    assert detect_format(line) is None
