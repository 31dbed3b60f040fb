"""Asset enrichment at ingest, and the tracking of unknown assets.

:class:`AssetEnricher` finds the asset an event is about, trying in order the host
names (``host.name``, ``host.hostname``, ``observer.hostname``), the addresses
(``observer.ip``, ``host.ip``, ``destination.ip``), the URL (``url.domain`` +
``url.path``), the domains (``url.domain``, ``destination.domain``) and last
``source.ip``, and adds (ECS ``organization`` and ``labels``, plus the custom
``soc.asset`` namespace):

* ``organization.id`` / ``organization.name``: the owning agency (kept if already set),
* ``labels.security_level``: the information system's level (``"1"``..``"5"``, the
  highest of its parts; the Elasticsearch store picks the index retention by it),
* ``soc.asset.kind`` / ``value``: the inventory entry that matched,
  ``soc.asset.system``, ``soc.asset.security_level`` (int), ``soc.asset.criticality``.

An event that matches no asset, when unknown-asset flagging is on, gets
``labels.asset_unknown: "true"``, and the first of its ``host.name``,
``host.hostname``, ``observer.hostname``, ``observer.ip``, ``host.ip`` is counted in
:class:`UnknownTracker`, which the engine writes to the state store after each batch
(``soc assets unknown`` lists them). Events that carry none of these are not flagged.
"""

from __future__ import annotations

import hashlib
import ipaddress
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from soc.assets.index import AssetIndex, AssetMatch
from soc.assets.model import Asset, Inventory
from soc.assets.store import AssetStore
from soc.assets.yaml_loader import load_inventory_yaml
from soc.event import Event, format_ts, get_field, utcnow

HOST_FIELDS = ("host.name", "host.hostname", "observer.hostname")
ADDRESS_FIELDS = ("observer.ip", "host.ip", "destination.ip")
DOMAIN_FIELDS = ("url.domain", "destination.domain")
UNKNOWN_FIELDS = ("host.name", "host.hostname", "observer.hostname", "observer.ip", "host.ip")
MAX_TRACKED = 100_000


class UnknownTracker:
    """Sightings of unknown assets between two flushes (thread-safe, bounded)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], list[Any]] = {}
        self.dropped = 0

    def note(self, field: str, value: str, seen: str) -> None:
        key = (field, value)
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None:
                entry[0] += 1
                entry[1] = min(entry[1], seen)
                entry[2] = max(entry[2], seen)
            elif len(self._seen) < MAX_TRACKED:
                self._seen[key] = [1, seen, seen]
            else:
                self.dropped += 1

    def drain(self) -> dict[tuple[str, str], tuple[int, str, str]]:
        with self._lock:
            seen, self._seen = self._seen, {}
        return {key: (n, first, last) for key, (n, first, last) in seen.items()}


_SPLIT: dict[str, tuple[str, str]] = {}


def _values(event: Event, field: str) -> tuple[str, ...] | list[str]:
    """The non-empty strings at a two-part ECS path (nested or flattened)."""
    split = _SPLIT.get(field)
    if split is None:
        split = _SPLIT[field] = tuple(field.split(".", 1))  # type: ignore[assignment]
    node = event.get(split[0])
    value = node.get(split[1]) if isinstance(node, dict) else event.get(field)
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return ()


def _object(event: Event, name: str) -> dict[str, Any]:
    """The top-level object ``name`` of an event, created when missing."""
    node = event.get(name)
    if not isinstance(node, dict):
        node = event[name] = {}
    return node


class AssetEnricher:
    """Adds the owning agency, system, security level and criticality to events."""

    def __init__(
        self, index: AssetIndex, *, flag_unknown: bool = True, tracker: UnknownTracker | None = None
    ) -> None:
        self.index = index
        self.flag_unknown = flag_unknown
        self.tracker = tracker or UnknownTracker()
        self.inventory: Inventory | None = None
        """The inventory the index was built from, when known (served by the API)."""
        self.source: InventorySource | None = None
        self.flag_unknown_wanted = flag_unknown
        self.signature: tuple[Any, ...] | None = None

    def refresh(self) -> bool:
        """Reload the inventory when its file or the imports changed; the new index
        replaces the old one at once. A file that no longer validates keeps the
        previous inventory (and raises :class:`~soc.assets.model.AssetError` to report)."""
        if self.source is None:
            return False
        signature = self.source.signature()
        if signature == self.signature:
            return False
        self.signature = signature
        inventory, listed = self.source.load()
        self.index = AssetIndex(inventory.assets)
        self.flag_unknown = self.flag_unknown_wanted and listed > 0
        if self.inventory is None:
            self.inventory = inventory
        else:
            self.inventory.assets = inventory.assets  # the API holds this object
        return True

    def find(self, event: Event) -> AssetMatch | None:
        index = self.index
        for field in HOST_FIELDS:
            for name in _values(event, field):
                if found := index.by_host(name):
                    return found
        for field in ADDRESS_FIELDS:
            for address in _values(event, field):
                if found := index.by_ip(address):
                    return found
        domains = [d for f in DOMAIN_FIELDS for d in _values(event, f)]
        if domains:
            path = get_field(event, "url.path")
            for domain in domains:
                if found := index.by_url(domain, path if isinstance(path, str) else None):
                    return found
            for domain in domains:
                if found := index.by_domain(domain):
                    return found
        for address in _values(event, "source.ip"):
            if found := index.by_ip(address):
                return found
        return None

    def __call__(self, event: Event) -> None:
        found = self.find(event)
        if found is not None:
            asset = found.asset
            org = _object(event, "organization")
            if org.get("id") is None:
                org["id"] = asset.agency_id
                org["name"] = asset.agency_name
            facts = dict(found.facts)
            _object(event, "soc")["asset"] = facts
            if "security_level" in facts:
                _object(event, "labels")["security_level"] = str(facts["security_level"])
            return
        if not self.flag_unknown:
            return
        for field in UNKNOWN_FIELDS:
            values = _values(event, field)
            if values:
                _object(event, "labels")["asset_unknown"] = "true"
                stamp = get_field(event, "@timestamp")
                self.tracker.note(field, values[0], stamp if isinstance(stamp, str) else format_ts(utcnow()))
                return

    def flush_unknown(self, store: AssetStore) -> None:
        """Write the unknown assets noted since the last flush to the state store."""
        store.record_unknown(self.tracker.drain())


def agency_assets(agencies: Iterable[Any]) -> list[Asset]:
    """The ``agencies`` of ``soc.yaml`` (networks and host names) as agency-level assets."""
    assets: list[Asset] = []
    for agency in agencies:
        for host in agency.hosts:
            assets.append(Asset("host", host.lower(), agency.id, agency.name, source="config"))
        for network in agency.networks:
            value = str(ipaddress.ip_network(network, strict=False))
            assets.append(Asset("ip", value, agency.id, agency.name, source="config"))
    return assets


def load_inventory(
    agencies: Sequence[Any], inventory_file: Path | None, store: AssetStore | None
) -> tuple[Inventory, int]:
    """The engine's inventory: the config's agencies, then the YAML file, then the CSV
    imports in the state store (a later entry with the same kind and value wins).
    Returns the inventory and how many assets came from the file and the imports."""
    inventory = Inventory()
    inventory.extend(agency_assets(agencies))
    listed: list[Asset] = []
    if inventory_file is not None:
        listed += load_inventory_yaml(inventory_file).assets
    if store is not None:
        listed += store.assets()
    inventory.extend(listed)
    return inventory, len(listed)


class InventorySource:
    """Where the engine's inventory comes from, and whether it changed since it was read
    (a hash of the file's content, the imports' count and latest time)."""

    def __init__(
        self, agencies: Sequence[Any], inventory_file: Path | None, store: AssetStore | None
    ) -> None:
        self.agencies = list(agencies)
        self.inventory_file = inventory_file
        self.store = store

    def signature(self) -> tuple[Any, ...]:
        file_sig: str | None = None
        if self.inventory_file is not None:
            try:
                file_sig = hashlib.sha256(self.inventory_file.read_bytes()).hexdigest()
            except OSError:
                file_sig = None
        return (file_sig, self.store.signature() if self.store is not None else None)

    def load(self) -> tuple[Inventory, int]:
        return load_inventory(self.agencies, self.inventory_file, self.store)


def build_asset_enricher(
    agencies: Sequence[Any], inventory_file: Path | None, store: AssetStore | None, *, flag_unknown: bool
) -> AssetEnricher:
    """The enricher of the engine. Unknown assets are flagged only when an inventory
    (file or imports) lists assets: with the config's agencies alone every other host
    would be 'unknown'. Raises :class:`~soc.assets.model.AssetError` for a bad file;
    :meth:`AssetEnricher.refresh` later picks up edits and imports."""
    source = InventorySource(agencies, inventory_file, store)
    signature = source.signature()
    inventory, listed = source.load()
    enricher = AssetEnricher(AssetIndex(inventory.assets), flag_unknown=flag_unknown and listed > 0)
    enricher.inventory = inventory
    enricher.source = source
    enricher.flag_unknown_wanted = flag_unknown
    enricher.signature = signature
    return enricher
