"""``soc rules status``: per scheduled rule, its last run, window, duration, hits, alerts,
errors and lag; through the running engine's API, or from the state store when none runs."""

from __future__ import annotations

import argparse
from typing import Any

from soc.cli import common
from soc.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    CommandError,
    add_common,
    local_time,
)
from soc.client import EngineClient, EngineClientError
from soc.pipeline.engine import DataDir, api_token, running_engine


def add_status(rules: Any) -> None:
    status = rules.add_parser(
        "status",
        help="scheduled rules: last run, window, duration, hits, alerts, errors, lag",
        description="Status of every scheduled rule (Sigma query rules, log-source health, "
        "stateful rules): last run, last window covered, its duration, hits and alerts, errors "
        "(count and last message), lag (now - window end) and state (ok, failing, catching-up, "
        "pending). Exit 1 when a rule is failing, 3 without a state store, 4 when --rule matches none.",
    )
    add_common(status)
    status.add_argument("--rule", default=None, help="only rules whose id contains this text")
    status.set_defaults(handler=rules_status)


def _remote(url: str, dirs: DataDir) -> list[dict[str, Any]]:
    client = EngineClient(url, api_token(dirs))
    try:
        return list(client.rules_status()["rules"])
    except EngineClientError as exc:
        raise CommandError(
            f"engine: {exc}", EXIT_UNAVAILABLE if exc.status in (0, 503) else EXIT_FAILURE
        ) from exc
    finally:
        client.close()


def _local(dirs: DataDir) -> list[dict[str, Any]]:
    from soc.scheduling.runlog import RunLog
    from soc.scheduling.status import rule_status
    from soc.state import StateStore

    if not dirs.state.is_file():
        raise CommandError(f"no state store in {dirs.root}: run `soc run` first", EXIT_UNAVAILABLE)
    state = StateStore(dirs.state)
    try:
        return rule_status(RunLog(state))
    finally:
        state.close()


def rules_status(args: argparse.Namespace) -> int:
    cfg = common.config(args)
    dirs = DataDir(common.data_dir(args))
    engine = running_engine(dirs)
    if engine is not None:
        if not engine.get("api_url"):
            raise CommandError(f"an engine owns {dirs.root} but serves no API", EXIT_UNAVAILABLE)
        rows = _remote(str(engine["api_url"]), dirs)
    else:
        rows = _local(dirs)
    if args.rule:
        rows = [r for r in rows if args.rule in r["rule_id"]]
        if not rows:
            raise CommandError(f"no scheduled rule id contains {args.rule!r}", EXIT_NOT_FOUND)
    if args.json:
        common.print_json({"rules": rows, "source": "engine" if engine else "state store"})
    else:
        zone = cfg.settings.timezone
        table = [
            [
                r["rule_id"][:40],
                (r["title"] or "")[:36],
                r["type"],
                r["state"],
                local_time(r["last_run"], zone),
                local_time(r["window_end"], zone),
                f"{r['last_duration_ms']:.0f}ms" if r["last_duration_ms"] is not None else "-",
                str(r["hits"]),
                str(r["alerts"]),
                str(r["errors"]),
                f"{r['lag_s']:.0f}s" if r["lag_s"] is not None else "-",
            ]
            for r in rows
        ]
        headers = ["rule", "title", "type", "state", "last run", "window end", "took", "hits", "alerts",
                   "errors", "lag"]
        print(common.table(table, headers))
        for r in rows:
            if r["last_error"] and r["state"] == "failing":
                print(f"{r['rule_id']}: {r['consecutive_failures']} failed runs; last: {r['last_error']}")
        print(f"-- {len(rows)} scheduled rules")
    return EXIT_FAILURE if any(r["state"] == "failing" for r in rows) else EXIT_OK
