"""The asset inventory: agencies, information systems, security levels, contacts;
loaded from ``configs/assets.yaml`` and CSV imports, looked up at ingest."""

from soc.assets.csv_import import CsvImport, read_assets_csv
from soc.assets.enrich import AssetEnricher, UnknownTracker, load_inventory
from soc.assets.index import AssetIndex, AssetMatch
from soc.assets.model import Asset, AssetError, Contact, Inventory
from soc.assets.store import AssetStore, UnknownAsset
from soc.assets.yaml_loader import load_inventory_yaml

__all__ = [
    "Asset",
    "AssetEnricher",
    "AssetError",
    "AssetIndex",
    "AssetMatch",
    "AssetStore",
    "Contact",
    "CsvImport",
    "Inventory",
    "UnknownAsset",
    "UnknownTracker",
    "load_inventory",
    "load_inventory_yaml",
    "read_assets_csv",
]
