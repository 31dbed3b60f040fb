"""The asset inventory: what each agency owns, in which information system, at which
security level (Decree 85/2016/ND-CP, levels 1..5), who to call.

An :class:`Asset` is one host name, IP address or CIDR range, domain or URL. Assets
belong to an agency and (usually) an information system; a system's security level
is the highest level of its parts (:meth:`Inventory.system_level`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

ASSET_KINDS = ("host", "ip", "domain", "url")
CRITICALITIES = ("low", "medium", "high", "critical")
SECURITY_LEVELS = (1, 2, 3, 4, 5)


class AssetError(ValueError):
    """Invalid inventory input; ``problems`` lists ``(where, reason)`` pairs, where
    ``where`` names the file and key (YAML) or the line and column (CSV)."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {where}: {reason}" for where, reason in problems)
        super().__init__(f"invalid asset inventory {source}:\n{lines}")


@dataclass(frozen=True, slots=True)
class Contact:
    """An on-site (L1) contact of an agency or system."""

    name: str
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Asset:
    """One inventory entry. ``value`` is normalised: host names and domains lower case
    without a trailing dot, IPs as a network (``10.0.0.5/32``), URLs as given."""

    kind: str
    value: str
    agency_id: str
    agency_name: str = ""
    system: str | None = None
    security_level: int | None = None
    criticality: str | None = None
    owner: str = ""
    contacts: tuple[Contact, ...] = ()
    monitoring_provider: str = ""
    isp: str = ""
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["contacts"] = [asdict(c) for c in self.contacts]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Asset:
        contacts = tuple(Contact(**c) for c in data.get("contacts") or ())
        return cls(**{**data, "contacts": contacts})


def normalise_value(kind: str, value: str) -> str:
    """The canonical text of an asset value; ``ValueError`` naming what is wrong."""
    value = value.strip()
    if not value:
        raise ValueError("is empty")
    if kind == "ip":
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or CIDR range") from None
    if kind in ("host", "domain"):
        text = value.rstrip(".").lower()
        if any(c.isspace() or c in "/:@" for c in text):
            raise ValueError(f"{value!r} is not a {'host name' if kind == 'host' else 'domain'}")
        return text
    if kind == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value
    raise ValueError(f"kind {kind!r} is not one of {', '.join(ASSET_KINDS)}")


def check_level(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"must be 1..5, got {value!r}")
    try:
        level = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be 1..5, got {value!r}") from None
    if level not in SECURITY_LEVELS or str(level) != str(value).strip():
        raise ValueError(f"must be 1..5, got {value!r}")
    return level


def check_criticality(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    if text not in CRITICALITIES:
        raise ValueError(f"must be one of {', '.join(CRITICALITIES)}, got {value!r}")
    return text


@dataclass
class Inventory:
    """All assets, and the security level of each information system."""

    assets: list[Asset] = field(default_factory=list)

    def extend(self, assets: Iterable[Asset]) -> None:
        """Add assets; one with the kind and value of an earlier one replaces it."""
        by_key = {(a.kind, a.value): a for a in self.assets}
        for asset in assets:
            by_key[(asset.kind, asset.value)] = asset
        self.assets = list(by_key.values())

    def system_level(self, agency_id: str, system: str | None) -> int | None:
        """The highest security level of the parts of ``system`` (Decree 85/2016)."""
        levels = [
            a.security_level
            for a in self.assets
            if a.agency_id == agency_id and a.system == system and a.security_level is not None
        ]
        return max(levels, default=None)

    def system_levels(self) -> dict[tuple[str, str | None], int]:
        levels: dict[tuple[str, str | None], int] = {}
        for a in self.assets:
            if a.security_level is not None:
                key = (a.agency_id, a.system)
                levels[key] = max(levels.get(key, 0), a.security_level)
        return levels

    def systems(self) -> list[dict[str, Any]]:
        """Each information system with its agency, level (max of its parts) and size."""
        levels = self.system_levels()
        seen: dict[tuple[str, str | None], dict[str, Any]] = {}
        for a in self.assets:
            if a.system is None:
                continue
            entry = seen.setdefault(
                (a.agency_id, a.system),
                {"agency_id": a.agency_id, "system": a.system, "security_level": None, "assets": 0},
            )
            entry["assets"] += 1
            entry["security_level"] = levels.get((a.agency_id, a.system))
        return list(seen.values())

    def contacts(self, agency_id: str, system: str | None = None) -> list[Contact]:
        """The L1 contacts of an agency (of one system first, when given)."""
        found: list[Contact] = []
        ordered = sorted(self.assets, key=lambda a: a.system != system)
        for a in ordered:
            if a.agency_id == agency_id:
                found.extend(c for c in a.contacts if c not in found)
        return found
