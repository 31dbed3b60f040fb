"""What every command shares: the data directory, the config, output and exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from soc.config import ConfigError, LoadedConfig, load_config
from soc.event import parse_ts
from soc.query import QuerySyntaxError, parse_since

# exit codes (documented in the README)
EXIT_OK = 0
EXIT_FAILURE = 1  # the command ran and failed (or found problems)
EXIT_USAGE = 2  # bad arguments or an invalid config
EXIT_UNAVAILABLE = 3  # the engine or the store could not be reached / is busy
EXIT_NOT_FOUND = 4  # the thing asked for does not exist

DEFAULT_DATA_DIR = Path("~/.local/share/soc")


class CommandError(Exception):
    """A failure to report in one line, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def add_common(parser: argparse.ArgumentParser, *, json_flag: bool = True) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the stores and spool live (default: $SOC_DATA_DIR or ~/.local/share/soc)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="configuration file (default: $SOC_CONFIG or the shipped configs/soc.yaml)",
    )
    if json_flag:
        parser.add_argument("--json", action="store_true", help="machine-readable JSON output")


def data_dir(args: argparse.Namespace) -> Path:
    chosen = args.data_dir or os.environ.get("SOC_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


def config(args: argparse.Namespace) -> LoadedConfig:
    path = args.config or (Path(os.environ["SOC_CONFIG"]) if os.environ.get("SOC_CONFIG") else None)
    try:
        return load_config(path)
    except ConfigError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def print_json(value: Any, *, pretty: bool = True) -> None:
    option = orjson.OPT_INDENT_2 if pretty else 0
    sys.stdout.buffer.write(orjson.dumps(value, option=option, default=str) + b"\n")
    sys.stdout.flush()


def print_ndjson(value: Any) -> None:
    sys.stdout.buffer.write(orjson.dumps(value, default=str) + b"\n")


def time_flag(text: str | None, flag: str) -> datetime | None:
    """A ``--since``/``--until`` value (``15m``, ``24h``, ``7d`` or ISO 8601) as a time,
    ``None`` when not given; a usage error naming ``flag`` when it is neither."""
    if text is None:
        return None
    try:
        return parse_since(text)
    except (QuerySyntaxError, ValueError) as exc:
        raise CommandError(f"{flag} {text!r}: {exc}", EXIT_USAGE) from exc


def local_time(value: str | datetime | None, zone: str) -> str:
    """A stored UTC time shown in the user's zone (``2026-11-27 17:01:02 +07``)."""
    if value is None:
        return "-"
    ts = parse_ts(value) if isinstance(value, str) else value
    shown = ts.astimezone(ZoneInfo(zone))
    offset = shown.strftime("%z")
    offset = offset[:3] if offset.endswith("00") else f"{offset[:3]}:{offset[3:]}"
    return f"{shown:%Y-%m-%d %H:%M:%S} {offset}"


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)
