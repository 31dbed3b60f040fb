"""``soc rules ...``: Sigma rule commands. ``hunt`` runs rules backwards over stored events.

More subcommands (``check``, ``coverage``) join by appending their ``add_*`` function to
:data:`RULES_SUBCOMMANDS`; each adds one parser to the ``rules`` group and sets its handler.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from soc.cli import common
from soc.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    add_common,
    local_time,
)
from soc.cli.rules_status import add_status
from soc.cli.rules_tools import add_check, add_coverage
from soc.client import EngineClient, EngineClientError
from soc.config import LoadedConfig
from soc.pipeline.engine import DataDir, api_token, running_engine
from soc.query import parse_since


def add_hunt(rules: Any) -> None:
    hunt = rules.add_parser(
        "hunt",
        help="run Sigma rules over stored events",
        description="Run Sigma rules backwards over stored events (SQL on DuckDB, Lucene on "
        "Elasticsearch). RULE is a rule file or a rule id found under detection.sigma.paths. "
        "Shows the newest --limit matches of each rule, oldest first.",
    )
    add_common(hunt)
    hunt.add_argument("rules", nargs="+", metavar="RULE", help="rule file or rule id")
    hunt.add_argument("--since", default="7d", help="start: 15m, 24h, 7d, or ISO 8601 (default 7d)")
    hunt.add_argument("--until", default=None, help="end of the time range (same forms as --since)")
    hunt.add_argument("--limit", type=int, default=100, help="matches per rule (default 100, max 10000)")
    hunt.set_defaults(handler=hunt_rules)


RULES_SUBCOMMANDS: list[Callable[[Any], None]] = [add_check, add_coverage, add_hunt]
RULES_SUBCOMMANDS.append(add_status)
"""Functions adding one subcommand each to the ``rules`` group."""


def register(commands: Any) -> None:
    rules = commands.add_parser(
        "rules", help="Sigma rules: check, ATT&CK coverage, hunt over stored events, scheduled status"
    )
    sub = rules.add_subparsers(dest="rules_command", metavar="SUBCOMMAND", required=True)
    for add in RULES_SUBCOMMANDS:
        add(sub)


def _when(text: str | None, flag: str) -> Any:
    common.time_flag(text, flag)
    return text


def _refs(rules: list[str]) -> list[str]:
    """Rule files as absolute paths (the engine may run elsewhere in the tree); ids as given."""
    return [str(Path(r).resolve()) if Path(r).is_file() else r for r in rules]


def _remote(url: str, dirs: DataDir, body: dict[str, Any]) -> dict[str, Any]:
    client = EngineClient(url, api_token(dirs), timeout=300)
    try:
        # EngineClient has no hunt() yet: a raw JSON body through its transport
        return client.hunt(body)
    except EngineClientError as exc:
        raise CommandError(
            f"engine: {exc}", EXIT_UNAVAILABLE if exc.status in (0, 503) else EXIT_FAILURE
        ) from exc
    finally:
        client.close()


def _local(
    cfg: LoadedConfig, dirs: DataDir, refs: list[str], since: str, until: str | None, limit: int
) -> dict[str, Any]:
    from detectors.sigma.engine import load_config as load_sigma_config
    from detectors.sigma.query.hunt import hunt_refs, result_dict
    from soc.store import open_store

    settings = cfg.settings
    sigma = settings.detection.sigma
    paths = [cfg.resolve(p) for p in sigma.paths]
    sigma_config = load_sigma_config(cfg.resolve(sigma.mappings))
    backend = settings.store.backend
    if backend == "duckdb" and not (dirs.root / "events.duckdb").exists():
        raise CommandError(
            f"no event store in {dirs.root}: run `soc ingest` or `soc run` first", EXIT_UNAVAILABLE
        )
    store = open_store(backend, dirs.root, read_only=True)
    try:
        result = hunt_refs(
            refs,
            store,
            rule_paths=paths,
            config=sigma_config,
            since=parse_since(since) if since else None,
            until=parse_since(until) if until else None,
            limit=limit,
        )
    finally:
        store.close()
    return result_dict(result)


def hunt_rules(args: argparse.Namespace) -> int:
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    if not 1 <= args.limit <= 10_000:
        raise CommandError("--limit must be between 1 and 10000", EXIT_USAGE)
    cfg = common.config(args)
    dirs = DataDir(common.data_dir(args))
    refs = _refs(args.rules)
    engine = running_engine(dirs)
    if engine is not None:
        if not engine.get("api_url"):
            raise CommandError(f"an engine owns {dirs.root} but serves no API", EXIT_UNAVAILABLE)
        body = {"rules": refs, "since": since, "until": until, "limit": args.limit}
        result = _remote(str(engine["api_url"]), dirs, body)
    else:
        result = _local(cfg, dirs, refs, since, until, args.limit)
    for error in result["errors"]:
        rid = error.get("rule_id") or "<unknown id>"
        print(
            f"soc rules hunt: {error['path']}: rule {rid}: {error['stage']} error: {error['reason']}",
            file=sys.stderr,
        )
    for rid in result["inactive"]:
        print(f"soc rules hunt: rule {rid}: its log source is not mapped; it never runs", file=sys.stderr)
    if args.json:
        for row in result["matches"]:
            common.print_ndjson(row)
        sys.stdout.flush()
    else:
        zone = cfg.settings.timezone
        rows = [
            [
                local_time(m.get("timestamp"), zone),
                m["rule_title"][:48],
                m["severity"],
                str(m.get("host") or "-"),
                str(m.get("user") or "-"),
                str(m.get("source_ip") or "-"),
                str(m.get("event_id") or "-"),
            ]
            for m in result["matches"]
        ]
        print(common.table(rows, ["time", "rule", "severity", "host", "user", "source ip", "event id"]))
        print(f"-- {len(rows)} matches from {len(result['rules_run'])} rules ({result['mode'] or '-'})")
    if not result["rules_run"]:
        found = any(e["stage"] != "resolve" for e in result["errors"]) or result["inactive"]
        return EXIT_FAILURE if found else EXIT_NOT_FOUND
    return EXIT_FAILURE if result["errors"] else EXIT_OK
