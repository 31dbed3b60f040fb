"""``configs/assets.yaml``: the asset inventory as agencies -> systems -> assets.

::

    agencies:
      - id: so-tttt                      # required, the organization.id of its events
        name: Sở Thông tin và Truyền thông
        owner: Nguyễn Văn A              # these five are inherited by systems and assets
        contacts: [{name: ..., email: ..., phone: ...}]
        monitoring_provider: VNPT-IT     # outsourced monitoring provider
        isp: Viettel                     # internet provider
        criticality: medium              # low | medium | high | critical
        systems:
          - name: Cổng thông tin điện tử
            owner/contacts/monitoring_provider/isp/criticality: ...  # override the agency's
            assets:
              - {host: web01, security_level: 3}          # exactly one of host, ip, domain, url
              - {ip: 10.10.1.0/24, security_level: 2, criticality: high}
              - {domain: sotttt.example.gov.vn}
              - {url: "https://dichvucong.example.gov.vn/"}
        assets: [...]                    # assets of the agency outside any system

Each asset's ``security_level`` (1..5) is the level of that part; the system's level
is the highest of its parts. Every problem is collected and reported together, named by
file and key (``assets.yaml: agencies[0].systems[1].assets[2].security_level: ...``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from soc.assets.model import (
    ASSET_KINDS,
    Asset,
    AssetError,
    Contact,
    Inventory,
    check_criticality,
    check_level,
    normalise_value,
)

INHERITED = ("owner", "contacts", "monitoring_provider", "isp", "criticality")
AGENCY_KEYS = {"id", "name", "systems", "assets", *INHERITED}
SYSTEM_KEYS = {"name", "assets", *INHERITED}
ASSET_KEYS = {*ASSET_KINDS, "security_level", "criticality", "owner", "contacts"}


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append((where, reason))


def load_inventory_yaml(path: Path) -> Inventory:
    """Read and validate an inventory file; :class:`AssetError` lists every problem."""
    source = str(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AssetError(source, [("(file)", f"cannot read: {exc.strerror or exc}")]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise AssetError(source, [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    return parse_inventory(raw or {}, source)


def parse_inventory(raw: Any, source: str = "assets.yaml") -> Inventory:
    problems = _Problems()
    assets: list[Asset] = []
    if not isinstance(raw, dict) or set(raw) - {"agencies"}:
        extra = sorted(set(raw) - {"agencies"}) if isinstance(raw, dict) else []
        reason = f"unknown keys {extra}" if extra else "must be a mapping with an 'agencies' list"
        raise AssetError(source, [("(top)", reason)])
    agencies = raw.get("agencies") or []
    if not isinstance(agencies, list):
        raise AssetError(source, [("agencies", "must be a list")])
    seen_ids: set[str] = set()
    for i, agency in enumerate(agencies):
        where = f"agencies[{i}]"
        if not _mapping(agency, where, AGENCY_KEYS, problems):
            continue
        agency_id = agency.get("id")
        if not isinstance(agency_id, str) or not agency_id.strip():
            problems.add(f"{where}.id", "required: the agency's id (a short name such as so-tttt)")
            continue
        if agency_id in seen_ids:
            problems.add(f"{where}.id", f"agency {agency_id!r} is listed twice")
        seen_ids.add(agency_id)
        defaults = _inherited(agency, where, {}, problems)
        base = {"agency_id": agency_id, "agency_name": str(agency.get("name") or agency_id)}
        for j, system in enumerate(_list(agency, "systems", where, problems)):
            s_where = f"{where}.systems[{j}]"
            if not _mapping(system, s_where, SYSTEM_KEYS, problems):
                continue
            name = system.get("name")
            if not isinstance(name, str) or not name.strip():
                problems.add(f"{s_where}.name", "required: the information system's name")
                continue
            s_defaults = _inherited(system, s_where, defaults, problems)
            for k, entry in enumerate(_list(system, "assets", s_where, problems)):
                asset = _asset(
                    entry, f"{s_where}.assets[{k}]", {**base, "system": name}, s_defaults, problems
                )
                if asset:
                    assets.append(asset)
        for k, entry in enumerate(_list(agency, "assets", where, problems)):
            asset = _asset(entry, f"{where}.assets[{k}]", {**base, "system": None}, defaults, problems)
            if asset:
                assets.append(asset)
    if problems.items:
        raise AssetError(source, problems.items)
    inventory = Inventory()
    inventory.extend(assets)
    return inventory


def _mapping(value: Any, where: str, allowed: set[str], problems: _Problems) -> bool:
    if not isinstance(value, dict):
        problems.add(where, "must be a mapping")
        return False
    for key in sorted(set(value) - allowed, key=str):
        problems.add(f"{where}.{key}", f"unknown key; allowed: {', '.join(sorted(allowed))}")
    return True


def _list(parent: dict[str, Any], key: str, where: str, problems: _Problems) -> list[Any]:
    value = parent.get(key) or []
    if not isinstance(value, list):
        problems.add(f"{where}.{key}", "must be a list")
        return []
    return value


def _inherited(
    node: dict[str, Any], where: str, parent: dict[str, Any], problems: _Problems
) -> dict[str, Any]:
    """The inheritable facts of ``node`` over its parent's."""
    out = dict(parent)
    for key in ("owner", "monitoring_provider", "isp"):
        if key in node:
            out[key] = str(node[key] or "")
    if "criticality" in node:
        try:
            out["criticality"] = check_criticality(node["criticality"])
        except ValueError as exc:
            problems.add(f"{where}.criticality", str(exc))
    if "contacts" in node:
        out["contacts"] = _contacts(node["contacts"], f"{where}.contacts", problems)
    return out


def _contacts(value: Any, where: str, problems: _Problems) -> tuple[Contact, ...]:
    if not isinstance(value, list):
        problems.add(where, "must be a list of {name, email, phone}")
        return ()
    contacts = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not item.get("name"):
            problems.add(f"{where}[{i}]", "must be a mapping with at least a name")
            continue
        extra = set(item) - {"name", "email", "phone"}
        if extra:
            problems.add(f"{where}[{i}].{sorted(extra)[0]}", "unknown key; allowed: email, name, phone")
            continue
        email = str(item.get("email") or "")
        if email and "@" not in email:
            problems.add(f"{where}[{i}].email", f"{email!r} is not an email address")
        contacts.append(Contact(str(item["name"]), email, str(item.get("phone") or "")))
    return tuple(contacts)


def _asset(
    entry: Any, where: str, base: dict[str, Any], defaults: dict[str, Any], problems: _Problems
) -> Asset | None:
    if not _mapping(entry, where, ASSET_KEYS, problems):
        return None
    kinds = [k for k in ASSET_KINDS if k in entry]
    if len(kinds) != 1:
        problems.add(where, f"needs exactly one of {', '.join(ASSET_KINDS)} (found {kinds or 'none'})")
        return None
    kind = kinds[0]
    ok = True
    try:
        value = normalise_value(kind, str(entry[kind] if entry[kind] is not None else ""))
    except ValueError as exc:
        problems.add(f"{where}.{kind}", str(exc))
        ok = False
    try:
        level = check_level(entry.get("security_level"))
    except ValueError as exc:
        problems.add(f"{where}.security_level", str(exc))
        ok = False
    facts = _inherited(entry, where, defaults, problems)
    if not ok:
        return None
    return Asset(
        kind=kind,
        value=value,
        security_level=level,
        criticality=facts.get("criticality"),
        owner=facts.get("owner", ""),
        contacts=facts.get("contacts", ()),
        monitoring_provider=facts.get("monitoring_provider", ""),
        isp=facts.get("isp", ""),
        source="yaml",
        **base,
    )
