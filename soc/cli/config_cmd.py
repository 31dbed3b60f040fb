"""``soc config check``: validate a configuration file."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from soc.assets import AssetError, load_inventory_yaml
from soc.cli.common import EXIT_OK, EXIT_USAGE, add_common, print_json
from soc.config import ConfigError, LoadedConfig, default_config_path, load_config


def register(commands: Any) -> None:
    config = commands.add_parser("config", help="configuration commands")
    sub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = sub.add_parser(
        "check",
        help="validate a config file (and the environment overrides)",
        description="Validate a config file; exit 0 when valid, 2 with each bad key and reason otherwise.",
    )
    add_common(check)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace) -> int:
    path = args.config or default_config_path()
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        if args.json:
            print_json(
                {
                    "valid": False,
                    "file": exc.source,
                    "problems": [{"key": k, "reason": r} for k, r in exc.problems],
                }
            )
        else:
            print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    s = loaded.settings
    missing = [
        p for p in [*s.detection.sigma.paths, s.detection.sigma.mappings] if not loaded.resolve(p).exists()
    ]
    asset_problems = _asset_problems(loaded)
    summary = {
        "valid": not missing and not asset_problems,
        "file": loaded.source,
        "timezone": s.timezone,
        "store": s.store.backend,
        "inputs": [f"{i.type}:{i.name}" for i in s.inputs],
        "rule_paths": [str(loaded.resolve(p)) for p in s.detection.sigma.paths],
        "problems": [
            {"key": "detection.sigma", "reason": f"no such path: {loaded.resolve(p)}"} for p in missing
        ]
        + asset_problems,
    }
    if args.json:
        print_json(summary)
    else:
        print(f"{loaded.source}: {'valid' if summary['valid'] else 'invalid'}")
        for problem in summary["problems"]:
            print(f"  {problem['key']}: {problem['reason']}")
        print(f"  store: {s.store.backend}; inputs: {', '.join(summary['inputs']) or 'none'}")
    return EXIT_OK if summary["valid"] else EXIT_USAGE


def _asset_problems(loaded: LoadedConfig) -> list[dict[str, str]]:
    """Problems of the inventory file named by ``assets.file`` (file and key of each)."""
    if not loaded.settings.assets.file:
        return []
    try:
        load_inventory_yaml(loaded.resolve(loaded.settings.assets.file))
    except AssetError as exc:
        return [
            {"key": f"assets.file: {exc.source}: {where}", "reason": reason} for where, reason in exc.problems
        ]
    return []
