"""``soc``: the entry point; one module per command group registers its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from soc import __version__
from soc.cli import (
    assets_cmd,
    audit_cmd,
    config_cmd,
    deadletter_cmd,
    detect_cmd,
    forwarding_cmd,
    ingest_cmd,
    ml_cmd,
    notify_cmd,
    query_cmd,
    rules_cmd,
    run_cmd,
    tokens_cmd,
    users_cmd,
)
from soc.cli.common import EXIT_USAGE, CommandError

COMMAND_GROUPS = (
    run_cmd,
    ingest_cmd,
    query_cmd,
    detect_cmd,
    rules_cmd,
    deadletter_cmd,
    config_cmd,
    audit_cmd,
    assets_cmd,
    users_cmd,
    tokens_cmd,
    forwarding_cmd,
    notify_cmd,
    ml_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soc",
        description="SOC log ingestion and alerting engine.",
        epilog="Exit codes: 0 ok, 1 failure, 2 bad arguments or config, 3 engine/store unavailable, "
        "4 not found.",
    )
    parser.add_argument("--version", action="version", version=f"soc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        print(f"soc {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["EXIT_USAGE", "build_parser", "main"]
