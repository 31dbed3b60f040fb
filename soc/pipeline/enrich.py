"""Enrichment: which agency owns the host an event is about.

The first enricher maps host names and networks from the ``agencies`` section of the
config to ``organization.id`` / ``organization.name``. The engine now uses
:class:`soc.assets.AssetEnricher`, which covers these agencies and the asset inventory
(system, security level, criticality, unknown assets). Enrichers are callables
``(event) -> None`` that add fields in place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any, Protocol

from soc.event import Event, get_field, set_field


class Enricher(Protocol):
    def __call__(self, event: Event) -> None: ...


class AgencyEnricher:
    """Set ``organization.*`` from the first agency owning the event's host name,
    observer address, host address or destination address (in that order)."""

    ADDRESS_FIELDS = ("observer.ip", "host.ip", "destination.ip")

    def __init__(self, agencies: Sequence[Any]) -> None:
        self._by_host: dict[str, tuple[str, str]] = {}
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, tuple[str, str]]] = []
        for agency in agencies:
            owner = (agency.id, agency.name)
            for host in agency.hosts:
                self._by_host[host.lower()] = owner
            for network in agency.networks:
                self._networks.append((ipaddress.ip_network(network, strict=False), owner))
        self._cache: dict[str, tuple[str, str] | None] = {}

    def __call__(self, event: Event) -> None:
        org = event.get("organization")
        if isinstance(org, dict) and org.get("id") is not None:
            return
        owner = None
        host = event.get("host")
        if isinstance(host, dict) and self._by_host:
            for key in ("name", "hostname"):
                name = host.get(key)
                if isinstance(name, str) and (owner := self._by_host.get(name.lower())):
                    break
        if owner is None and self._networks:
            for field in self.ADDRESS_FIELDS:
                value = get_field(event, field)
                for address in value if isinstance(value, list) else [value]:
                    if isinstance(address, str) and (owner := self._owner_of(address)):
                        break
                if owner:
                    break
        if owner:
            set_field(event, "organization.id", owner[0])
            set_field(event, "organization.name", owner[1])

    def _owner_of(self, address: str) -> tuple[str, str] | None:
        if address in self._cache:
            return self._cache[address]
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            owner = None
        else:
            owner = next((o for net, o in self._networks if ip in net), None)
        if len(self._cache) < 100_000:
            self._cache[address] = owner
        return owner
