"""``soc ml train|score|status|evaluate``: the ML detectors over stored events.

The commands open the event store of the data directory read-only (an engine running
on it owns the DuckDB file: stop it, or let the engine's rule scheduler run
:class:`detectors.ml.lifecycle.MLScoringRule`). Models live in ``<data-dir>/ml/models``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from typing import Any

from soc.cli import common
from soc.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    add_common,
    time_flag,
)
from soc.event import format_ts, utcnow
from soc.pipeline.engine import DataDir, running_engine


def register(commands: Any) -> None:
    ml = commands.add_parser(
        "ml",
        help="ML detectors: train, score, status, evaluate",
        description="Anomaly, beaconing, DNS tunnelling, scan, brute force, rare process "
        "and exfiltration detectors trained on a baseline of stored events.",
    )
    sub = ml.add_subparsers(dest="ml_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser(
        "train",
        help="fit every detector on the baseline window and save the models",
        description="Fit the detectors on the last detection.ml.baseline_windows windows "
        "before --until and save each model (version, training window, features, data "
        "hash) under <data-dir>/ml/models.",
    )
    add_common(p)
    _detectors_flag(p)
    p.add_argument("--until", default=None, help="end of the baseline (default now; 24h, 7d or ISO 8601 ago)")
    p.set_defaults(handler=train_cmd)

    p = sub.add_parser(
        "score",
        help="score windows of stored events and raise alerts",
        description="Score the windows in [--since, --until) with the saved models. Scores "
        "at or above a detector's threshold become alerts (unless --no-alerts); a model "
        "whose baseline is too short raises none (cold start).",
    )
    add_common(p)
    _detectors_flag(p)
    p.add_argument("--since", default=None, help="start (default: the last complete window)")
    p.add_argument("--until", default=None, help="end (default now)")
    p.add_argument("--no-alerts", action="store_true", help="print the findings, record no alert")
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep running: retrain every retrain_hours and score each window (APScheduler)",
    )
    p.set_defaults(handler=score_cmd)

    p = sub.add_parser("status", help="models, their baselines, cold start and retraining state")
    add_common(p)
    _detectors_flag(p)
    p.set_defaults(handler=status_cmd)

    p = sub.add_parser(
        "evaluate",
        help="score a stored range and measure against known positives",
        description="Score every entity-window in [--since, --until) and report per "
        "detector the score distribution and the alerts at its threshold; with --positive "
        "(entities known to be attacks) also precision, recall and ROC-AUC. The labelled "
        "benchmark over the shared datasets is bench/ml_eval.py.",
    )
    add_common(p)
    _detectors_flag(p)
    p.add_argument("--since", default="24h", help="start (default 24h)")
    p.add_argument("--until", default=None, help="end (default now)")
    p.add_argument(
        "--positive",
        action="append",
        default=[],
        metavar="ENTITY",
        help="an entity (IP, host, user) known to be malicious; repeatable",
    )
    p.set_defaults(handler=evaluate_cmd)


def _detectors_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detectors", default=None, help="comma-separated detector names (default: the config's)")


def _context(args: argparse.Namespace) -> tuple[Any, Any, Any, list[str] | None]:
    from detectors.ml.detectors import DETECTORS
    from detectors.ml.settings import MLSettings

    cfg = common.config(args)
    settings = MLSettings.from_config(cfg.settings.detection.ml, cfg.settings.timezone)
    names = [n.strip() for n in args.detectors.split(",") if n.strip()] if args.detectors else None
    unknown = [n for n in names or () if n not in DETECTORS]
    if unknown:
        raise CommandError(
            f"unknown detector {', '.join(unknown)}; known: {', '.join(DETECTORS)}", EXIT_USAGE
        )
    dirs = DataDir(common.data_dir(args))
    return cfg, settings, dirs, names


def _open_store(cfg: Any, dirs: DataDir) -> Any:
    from soc.store import StoreError, open_store

    if running_engine(dirs) is not None:
        raise CommandError(
            f"an engine owns {dirs.root}; stop it first (with detection.ml.enabled its scheduler "
            "runs the ML training and scoring)",
            EXIT_UNAVAILABLE,
        )
    backend = cfg.settings.store.backend
    if backend == "duckdb" and not (dirs.root / "events.duckdb").exists():
        raise CommandError(
            f"no event store in {dirs.root}: run `soc ingest` or `soc run` first", EXIT_UNAVAILABLE
        )
    try:
        return open_store(backend, dirs.root, read_only=True)
    except StoreError as exc:
        raise CommandError(str(exc), EXIT_UNAVAILABLE) from exc


def _say(message: str) -> None:
    print(f"soc ml: {message}", file=sys.stderr, flush=True)


def train_cmd(args: argparse.Namespace) -> int:
    from detectors.ml.lifecycle import train
    from detectors.ml.registry import ModelRegistry

    cfg, settings, dirs, names = _context(args)
    until = time_flag(args.until, "--until")
    store = _open_store(cfg, dirs)
    try:
        reports = train(
            store, ModelRegistry.in_data_dir(dirs.root), settings, end=until, detectors=names, progress=_say
        )
    finally:
        store.close()
    rows = [
        {
            "detector": r.detector,
            "version": r.meta.version if r.meta else None,
            "entity_windows": r.rows,
            "baseline_windows": r.baseline_windows,
            "cold_start": r.cold,
            "seconds": round(r.seconds, 3),
            "train_start": r.meta.train_start if r.meta else None,
            "train_end": r.meta.train_end if r.meta else None,
            "data_hash": r.meta.data_hash if r.meta else None,
            "error": r.error,
        }
        for r in reports
    ]
    if args.json:
        common.print_json({"models": rows})
    else:
        print(
            common.table(
                [
                    [
                        r["detector"],
                        str(r["version"] or "-"),
                        str(r["entity_windows"]),
                        str(r["baseline_windows"]),
                        "yes" if r["cold_start"] else "no",
                        r["error"] or "",
                    ]
                    for r in rows
                ],
                ["detector", "version", "entity-windows", "baseline windows", "cold start", "note"],
            )
        )
    return EXIT_OK if any(r["version"] for r in rows) else EXIT_FAILURE


def _windows(start: datetime, end: datetime, size: timedelta) -> list[tuple[datetime, datetime]]:
    out = []
    while start + size <= end:
        out.append((start, start + size))
        start += size
    return out


def score_cmd(args: argparse.Namespace) -> int:
    from detectors.ml.lifecycle import LoadedModels, align, score_window
    from detectors.ml.registry import ModelIntegrityError, ModelRegistry

    cfg, settings, dirs, names = _context(args)
    registry = ModelRegistry.in_data_dir(dirs.root)
    if args.follow:
        return _follow(cfg, settings, dirs, registry, args)
    until = align(time_flag(args.until, "--until") or utcnow(), settings.window_seconds)
    since = time_flag(args.since, "--since")
    since = align(since, settings.window_seconds) if since else until - settings.window
    if since >= until:
        raise CommandError("--since must be at least one window before --until", EXIT_USAGE)
    store = _open_store(cfg, dirs)
    models = LoadedModels(registry)
    matches, cold, scored = [], {}, 0
    windows = _windows(since, until, settings.window)
    try:
        for i, (start, end) in enumerate(windows, 1):
            result = score_window(store, models, settings, start, end, detectors=names)
            matches += result.matches
            cold.update(result.cold)
            scored += sum(result.scored.values())
            if len(windows) > 1:
                print(
                    f"\rsoc ml: window {i}/{len(windows)}, {len(matches)} findings", end="", file=sys.stderr
                )
        if len(windows) > 1:
            print(file=sys.stderr)
    except ModelIntegrityError as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from exc
    finally:
        store.close()
    created = _record(dirs, cfg, matches) if matches and not args.no_alerts else 0
    found = [
        {
            "rule_id": m.rule.id,
            "group": m.group,
            "timestamp": format_ts(m.timestamp),
            "events": len(m.events),
            **m.details,
        }
        for m in matches
    ]
    if args.json:
        common.print_json(
            {
                "windows": len(windows),
                "entity_windows_scored": scored,
                "findings": found,
                "alerts_created": created,
                "cold": cold,
            }
        )
    else:
        for f in found:
            print(f"{f['window']['start']}  {f['rule_id']:<24} score {f['score']:<8} {f['entity']}")
            print(f"    {f['explanation']['en']}\n    {f['explanation']['vi']}")
        for name, reason in sorted(cold.items()):
            print(f"{name}: no alerts ({reason})", file=sys.stderr)
        print(f"-- {len(found)} findings in {len(windows)} windows, {created} new alerts")
    return EXIT_OK


def _record(dirs: DataDir, cfg: Any, matches: list[Any]) -> int:
    from soc.alerts import AlertRepository
    from soc.state import StateStore

    state = StateStore(dirs.state)
    try:
        repo = AlertRepository(
            state, dedup_window=timedelta(minutes=cfg.settings.alerts.dedup_window_minutes)
        )
        return sum(1 for m in matches if (change := repo.record(m)) is not None and change.created)
    finally:
        state.close()


def _follow(cfg: Any, settings: Any, dirs: DataDir, registry: Any, args: argparse.Namespace) -> int:
    from detectors.ml.lifecycle import build_scheduler

    def on_matches(matches: list[Any]) -> None:
        if matches and not args.no_alerts:
            _say(f"{len(matches)} findings, {_record(dirs, cfg, matches)} new alerts")

    scheduler = build_scheduler(lambda: _open_store(cfg, dirs), registry, settings, on_matches, progress=_say)
    scheduler.start()
    _say("scheduler running (Ctrl-C stops)")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        scheduler.shutdown(wait=False)
    return EXIT_OK


def status_cmd(args: argparse.Namespace) -> int:
    from detectors.ml.lifecycle import status
    from detectors.ml.registry import ModelRegistry

    _cfg, settings, dirs, names = _context(args)
    if names:
        settings = type(settings)(**{**_fields(settings), "detectors": tuple(names)})
    rows = status(ModelRegistry.in_data_dir(dirs.root), settings)
    if args.json:
        common.print_json(
            {
                "enabled": settings.enabled,
                "window_minutes": settings.window_minutes,
                "min_baseline_windows": settings.min_baseline_windows,
                "retrain_hours": settings.retrain_hours,
                "detectors": rows,
            }
        )
    else:
        print(
            common.table(
                [
                    [
                        r["detector"],
                        r["state"],
                        str(r.get("version", "-")),
                        str(r.get("baseline_windows", "-")),
                        str(r.get("trained", "-")),
                        "yes" if r.get("retrain_due") else "no",
                        r["reason"],
                    ]
                    for r in rows
                ],
                ["detector", "state", "version", "baseline windows", "trained", "retrain due", "note"],
            )
        )
    return EXIT_OK


def _fields(settings: Any) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__dataclass_fields__}


def evaluate_cmd(args: argparse.Namespace) -> int:
    from detectors.ml.evaluation import evaluate_range
    from detectors.ml.registry import ModelRegistry

    cfg, settings, dirs, names = _context(args)
    since = time_flag(args.since, "--since")
    until = time_flag(args.until, "--until") or utcnow()
    store = _open_store(cfg, dirs)
    try:
        rows = evaluate_range(
            store,
            ModelRegistry.in_data_dir(dirs.root),
            settings,
            since,
            until,
            positives=set(args.positive),
            detectors=names,
        )
    finally:
        store.close()
    if args.json:
        common.print_json({"since": format_ts(since), "until": format_ts(until), "detectors": rows})
    else:
        headers = ["detector", "scored", "alerts", "p50", "p99", "max", "precision", "recall", "roc_auc"]
        print(common.table([[str(r.get(h, "-")) for h in headers] for r in rows], headers))
    return EXIT_OK if rows else EXIT_FAILURE
