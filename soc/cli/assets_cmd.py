"""``soc assets import|list|systems|unknown``: the asset inventory.

``import`` reads a CSV file into the state store (columns in
:mod:`soc.assets.csv_import`); valid rows are imported, each invalid row is reported
with its line and column and skipped, and the exit code is then 1. A running engine
picks imported assets (and edits of ``assets.file``) up within about 10 seconds.
``list`` and ``systems`` show the inventory the engine would use (the config's
agencies, ``assets.file`` and the imports); ``unknown`` lists hosts and addresses
seen in events that match no asset.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from soc.assets import AssetError, AssetStore, Inventory, load_inventory, read_assets_csv
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError, add_common, local_time
from soc.cli.triage_cmd import actor, open_state
from soc.pipeline.engine import DataDir
from soc.state import StateStore


def register(commands: Any) -> None:
    group = commands.add_parser("assets", help="the asset inventory: import, list, unknown assets")
    sub = group.add_subparsers(dest="assets_command", metavar="SUBCOMMAND", required=True)
    imp = sub.add_parser(
        "import",
        help="import assets from a CSV file",
        description="Import assets from CSV (header: agency_id, agency_name, system, kind, value, "
        "security_level, criticality, owner, contact_name, contact_email, contact_phone, "
        "monitoring_provider, isp; agency_id, kind and value required). Valid rows are imported; "
        "invalid rows are listed with line and column and skipped (exit 1).",
    )
    add_common(imp)
    imp.add_argument("file", type=Path, metavar="FILE.csv")
    imp.add_argument("--as", dest="actor", default=None, help="who imports (default: the OS user)")
    imp.set_defaults(handler=import_assets)
    list_ = sub.add_parser("list", help="the inventory (config agencies, assets file, imports)")
    add_common(list_)
    list_.add_argument("--agency", default=None, help="only this agency id")
    list_.set_defaults(handler=list_assets)
    systems = sub.add_parser("systems", help="information systems and their security level (max of parts)")
    add_common(systems)
    systems.set_defaults(handler=list_systems)
    unknown = sub.add_parser("unknown", help="hosts and addresses in events that match no asset")
    add_common(unknown)
    unknown.add_argument("--limit", type=int, default=100)
    unknown.set_defaults(handler=list_unknown)


def import_assets(args: argparse.Namespace) -> int:
    try:
        result = read_assets_csv(args.file)
    except AssetError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    dirs = DataDir(common.data_dir(args))
    state = StateStore(dirs.state)
    try:
        imported = (
            AssetStore(state).upsert(result.assets, actor(args), str(args.file)) if result.assets else 0
        )
    finally:
        state.close()
    problems = [{"where": where, "reason": reason} for where, reason in result.problems]
    if args.json:
        common.print_json(
            {"file": str(args.file), "rows": result.rows, "imported": imported, "errors": problems}
        )
    else:
        for p in problems:
            print(f"{args.file}: {p['where']}: {p['reason']}")
        print(
            f"{imported} of {result.rows} rows imported, {len(problems)} errors "
            f"/ đã nhập {imported}/{result.rows} dòng, {len(problems)} lỗi"
        )
    return EXIT_FAILURE if problems else EXIT_OK


def _inventory(args: argparse.Namespace) -> Inventory:
    loaded = common.config(args)
    settings = loaded.settings
    dirs = DataDir(common.data_dir(args))
    state = StateStore(dirs.state) if dirs.state.exists() else None
    try:
        file = loaded.resolve(settings.assets.file) if settings.assets.file else None
        inventory, _ = load_inventory(settings.agencies, file, AssetStore(state) if state else None)
    except AssetError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    finally:
        if state is not None:
            state.close()
    return inventory


def list_assets(args: argparse.Namespace) -> int:
    assets = [a for a in _inventory(args).assets if args.agency is None or a.agency_id == args.agency]
    if args.json:
        common.print_json({"assets": [a.to_dict() for a in assets]})
        return EXIT_OK
    rows = [
        [
            a.agency_id,
            a.kind,
            a.value,
            a.system or "-",
            str(a.security_level or "-"),
            a.criticality or "-",
            ", ".join(c.name for c in a.contacts) or "-",
            a.source,
        ]
        for a in assets
    ]
    print(
        common.table(rows, ["agency", "kind", "value", "system", "level", "criticality", "contacts", "from"])
    )
    return EXIT_OK


def list_systems(args: argparse.Namespace) -> int:
    systems = _inventory(args).systems()
    if args.json:
        common.print_json({"systems": systems})
        return EXIT_OK
    rows = [[s["agency_id"], s["system"], str(s["security_level"] or "-"), str(s["assets"])] for s in systems]
    print(common.table(rows, ["agency", "system / hệ thống thông tin", "level / cấp độ", "assets"]))
    return EXIT_OK


def list_unknown(args: argparse.Namespace) -> int:
    state = open_state(args)
    try:
        found = AssetStore(state).unknown(limit=args.limit)
    finally:
        state.close()
    if args.json:
        common.print_json({"unknown": [u.to_dict() for u in found]})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    rows = [
        [u.field, u.value, str(u.count), local_time(u.first_seen, zone), local_time(u.last_seen, zone)]
        for u in found
    ]
    print(common.table(rows, ["field", "value", "events", "first seen", "last seen"]))
    print(f"-- {len(found)} unknown assets / tài sản chưa có trong danh mục")
    return EXIT_OK
