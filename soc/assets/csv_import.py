"""Assets from a CSV file (``soc assets import FILE.csv``).

The first line names the columns (any order, UTF-8, an optional BOM)::

    agency_id,agency_name,system,kind,value,security_level,criticality,owner,
    contact_name,contact_email,contact_phone,monitoring_provider,isp

``agency_id``, ``kind`` (host, ip, domain, url) and ``value`` are required; the
others may be left empty. ``security_level`` is 1..5 (the level of that part; a
system's level is the highest of its parts), ``criticality`` low, medium, high or
critical.

Policy: rows are checked one by one. Every valid row is imported; every invalid row is
reported with its line and column (``line 7, column 6 (security_level): must be 1..5,
got '7'``) and skipped, and the command then exits 1 so a script notices. A header
that is missing a required column or names an unknown one refuses the whole file.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from soc.assets.model import (
    ASSET_KINDS,
    Asset,
    AssetError,
    Contact,
    check_criticality,
    check_level,
    normalise_value,
)

COLUMNS = (
    "agency_id",
    "agency_name",
    "system",
    "kind",
    "value",
    "security_level",
    "criticality",
    "owner",
    "contact_name",
    "contact_email",
    "contact_phone",
    "monitoring_provider",
    "isp",
)
REQUIRED = ("agency_id", "kind", "value")


@dataclass
class CsvImport:
    """The valid assets of a file and the problems of the others."""

    source: str
    assets: list[Asset] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    rows: int = 0


def read_assets_csv(path: Path) -> CsvImport:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise AssetError(str(path), [("(file)", f"cannot read: {exc.strerror or exc}")]) from exc
    except UnicodeDecodeError as exc:
        raise AssetError(str(path), [("(file)", f"not UTF-8 text (byte {exc.start})")]) from exc
    return parse_assets_csv(text, str(path))


def parse_assets_csv(text: str, source: str = "assets.csv") -> CsvImport:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise AssetError(source, [("line 1", "empty file: the first line must name the columns")])
    header = [h.strip().lower() for h in header]
    problems = [
        (f"line 1, column {i + 1}", f"unknown column {name!r}; known: {', '.join(COLUMNS)}")
        for i, name in enumerate(header)
        if name not in COLUMNS
    ]
    problems += [("line 1", f"missing required column {name!r}") for name in REQUIRED if name not in header]
    if problems:
        raise AssetError(source, problems)
    result = CsvImport(source)
    position = {name: i for i, name in enumerate(header)}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        result.rows += 1
        if len(row) != len(header):
            result.problems.append((f"line {line}", f"has {len(row)} fields, the header has {len(header)}"))
            continue
        asset = _row_asset(row, position, line, result.problems)
        if asset is not None:
            result.assets.append(asset)
    return result


def _row_asset(
    row: list[str], position: dict[str, int], line: int, problems: list[tuple[str, str]]
) -> Asset | None:
    def cell(name: str) -> str:
        return row[position[name]].strip() if name in position else ""

    def where(name: str) -> str:
        return f"line {line}, column {position[name] + 1} ({name})"

    before = len(problems)
    for name in REQUIRED:
        if not cell(name):
            problems.append((where(name), "required, is empty"))
    kind = cell("kind").lower()
    if kind and kind not in ASSET_KINDS:
        problems.append((where("kind"), f"{kind!r} is not one of {', '.join(ASSET_KINDS)}"))
    value = ""
    if kind in ASSET_KINDS and cell("value"):
        try:
            value = normalise_value(kind, cell("value"))
        except ValueError as exc:
            problems.append((where("value"), str(exc)))
    level = criticality = None
    if "security_level" in position:
        try:
            level = check_level(cell("security_level"))
        except ValueError as exc:
            problems.append((where("security_level"), str(exc)))
    if "criticality" in position:
        try:
            criticality = check_criticality(cell("criticality"))
        except ValueError as exc:
            problems.append((where("criticality"), str(exc)))
    email = cell("contact_email")
    if email and "@" not in email:
        problems.append((where("contact_email"), f"{email!r} is not an email address"))
    if len(problems) > before:
        return None
    contact_name = cell("contact_name")
    contacts = (Contact(contact_name, email, cell("contact_phone")),) if contact_name else ()
    return Asset(
        kind=kind,
        value=value,
        agency_id=cell("agency_id"),
        agency_name=cell("agency_name") or cell("agency_id"),
        system=cell("system") or None,
        security_level=level,
        criticality=criticality,
        owner=cell("owner"),
        contacts=contacts,
        monitoring_provider=cell("monitoring_provider"),
        isp=cell("isp"),
        source="csv",
    )
