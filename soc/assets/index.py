"""Fast lookup of the asset an event is about.

Host names and domains are dict lookups (a domain also matches its sub-domains, the
longest suffix wins; a fully qualified host name also matches its first label). IP
ranges are kept per prefix length as ``{network address as int: asset}``, so an
address is looked up with one mask and one dict probe per distinct prefix length
present (at most 33 for IPv4), longest prefix first: the most specific range wins,
like a radix tree, without walking every range. Results per address are cached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from soc.assets.model import Asset, Inventory

MAX_CACHE = 200_000


@dataclass(frozen=True, slots=True)
class AssetMatch:
    """An asset and the security level of its information system (max of its parts)."""

    asset: Asset
    system_level: int | None
    facts: dict[str, Any] = field(default_factory=dict, compare=False)
    """:meth:`fields`, computed once (copy it before putting it on an event)."""

    def __post_init__(self) -> None:
        self.facts.update(self.fields())

    def fields(self) -> dict[str, Any]:
        """The ``soc.asset.*`` object enrichment puts on an event."""
        a = self.asset
        out: dict[str, Any] = {"kind": a.kind, "value": a.value}
        if a.system is not None:
            out["system"] = a.system
        level = self.system_level if self.system_level is not None else a.security_level
        if level is not None:
            out["security_level"] = level
        if a.criticality is not None:
            out["criticality"] = a.criticality
        return out


class _Networks:
    """Longest-prefix match over the ranges of one IP version."""

    def __init__(self) -> None:
        self._by_length: dict[int, dict[int, AssetMatch]] = {}
        self._lengths: list[int] = []
        self._bits = 32

    def add(self, network: ipaddress.IPv4Network | ipaddress.IPv6Network, match: AssetMatch) -> None:
        self._bits = network.max_prefixlen
        self._by_length.setdefault(network.prefixlen, {})[int(network.network_address)] = match
        self._lengths = sorted(self._by_length, reverse=True)

    def lookup(self, address: int) -> AssetMatch | None:
        full = (1 << self._bits) - 1
        for length in self._lengths:
            mask = full ^ ((1 << (self._bits - length)) - 1)
            found = self._by_length[length].get(address & mask)
            if found is not None:
                return found
        return None


class AssetIndex:
    """Lookups by host name, IP address, domain and URL over one inventory."""

    def __init__(self, assets: Iterable[Asset]) -> None:
        inventory = Inventory()
        inventory.extend(assets)
        levels = inventory.system_levels()
        self.size = len(inventory.assets)
        self._hosts: dict[str, AssetMatch] = {}
        self._domains: dict[str, AssetMatch] = {}
        self._urls: dict[str, list[tuple[str, AssetMatch]]] = {}
        self._v4 = _Networks()
        self._v6 = _Networks()
        self._ip_cache: dict[str, AssetMatch | None] = {}
        for asset in inventory.assets:
            match = AssetMatch(asset, levels.get((asset.agency_id, asset.system)) if asset.system else None)
            if asset.kind == "host":
                self._hosts[asset.value] = match
            elif asset.kind == "domain":
                self._domains[asset.value] = match
            elif asset.kind == "ip":
                network = ipaddress.ip_network(asset.value, strict=False)
                (self._v4 if network.version == 4 else self._v6).add(network, match)
            elif asset.kind == "url":
                parts = urlsplit(asset.value)
                host = (parts.hostname or "").lower()
                self._urls.setdefault(host, []).append((parts.path or "/", match))
        for entries in self._urls.values():
            entries.sort(key=lambda e: len(e[0]), reverse=True)

    def by_host(self, name: str) -> AssetMatch | None:
        found = self._hosts.get(name)
        if found is not None:
            return found
        key = name.rstrip(".").lower()
        found = self._hosts.get(key)
        if found is None and "." in key:
            found = self._hosts.get(key.split(".", 1)[0]) or self.by_domain(key)
        return found

    def by_domain(self, name: str) -> AssetMatch | None:
        key = name.rstrip(".").lower()
        while key:
            found = self._domains.get(key)
            if found is not None:
                return found
            if "." not in key:
                return None
            key = key.split(".", 1)[1]
        return None

    def by_url(self, domain: str, path: str | None) -> AssetMatch | None:
        entries = self._urls.get(domain.rstrip(".").lower())
        if entries:
            path = path or "/"
            for prefix, match in entries:
                if path.startswith(prefix):
                    return match
        return None

    def by_ip(self, text: str) -> AssetMatch | None:
        if text in self._ip_cache:
            return self._ip_cache[text]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            found = None
        else:
            networks = self._v4 if address.version == 4 else self._v6
            found = networks.lookup(int(address))
        if len(self._ip_cache) < MAX_CACHE:
            self._ip_cache[text] = found
        return found
