"""``soc rules check`` (load and compile Sigma rules, report failures) and ``soc rules
coverage`` (ATT&CK techniques of the enabled rules, split by whether their log sources
have been seen in the store).

:func:`add_check` and :func:`add_coverage` take the ``rules`` subparsers object of the
``soc rules`` command group. ``python -m soc.cli.rules_tools`` runs them on their own.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config as load_sigma_config
from detectors.sigma.loader import iter_rule_files, load_rules
from detectors.sigma.logsource import LogsourceMap
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError, add_common

# Fields whose values name a log source; `coverage` counts stored events by each.
SEEN_FIELDS = ("event.dataset", "event.module", "winlog.channel", "observer.product")


def sigma_mappings(args: argparse.Namespace) -> tuple[dict[str, Any], list[Path]]:
    """The Sigma config (field/log-source mappings) and rule paths of the soc config."""
    loaded = common.config(args)
    sigma = loaded.settings.detection.sigma
    mappings = loaded.resolve(sigma.mappings)
    if not mappings.is_file():
        raise CommandError(f"detection.sigma.mappings: no such file {mappings}", EXIT_USAGE)
    return load_sigma_config(mappings), [loaded.resolve(p) for p in sigma.paths]


# --------------------------------------------------------------------------- check


def check_stateful(paths: list[Path]) -> dict[str, Any]:
    """Load the stateful rules (``rules/stateful``, ElastAlert-style) among ``paths``:
    counts, and each error with file, line, key and reason."""
    from detectors.stateful.loader import is_stateful_file
    from detectors.stateful.loader import iter_rule_files as stateful_files
    from detectors.stateful.loader import load_rules as load_stateful

    chosen = [p for p in paths if p.is_dir() or is_stateful_file(p)]
    files = list(stateful_files(chosen))
    rules, errors = load_stateful(files)
    return {
        "paths": {p for p in paths if p.is_file() and p in chosen},
        "files": len(files),
        "loaded": len(rules),
        "failed": len({(e.path, e.rule) for e in errors}),
        "errors": [
            {
                "file": e.path,
                "line": e.line,
                "key": e.key,
                "rule": e.rule,
                "reason": e.reason,
                "message": str(e),
            }
            for e in errors
        ],
    }


def add_check(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="load and compile Sigma rules; report each failure with file, rule id and reason",
        description="Load and compile Sigma rule files or folders with the configured field and log-source "
        "mappings. Prints rules loaded/compiled/failed, correlations, rules whose log source is not mapped "
        "(inactive) and the time taken; every failure names file, rule id and reason. "
        "Exit 0 when nothing failed, 1 when a rule failed (0 with --allow-failures), 2 on bad arguments.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="rule files or folders")
    p.add_argument("--config", type=Path, default=None, help="configuration file (for the Sigma mappings)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    p.add_argument(
        "--allow-failures",
        action="store_true",
        help="exit 0 even if some rules failed (e.g. the SigmaHQ corpus)",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="print the summary only, not each failure")
    p.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        raise CommandError(f"no such file or folder: {', '.join(missing)}", EXIT_USAGE)
    cfg, _ = sigma_mappings(args)
    stateful = check_stateful(args.paths)
    sigma_paths = [p for p in args.paths if p.is_dir() or p not in stateful["paths"]]
    files = sum(1 for _ in iter_rule_files(sigma_paths))
    print(f"checking {files} rule files ...", file=sys.stderr)
    started = time.perf_counter()
    det = SigmaDetector(sigma_paths, config=cfg)
    elapsed = time.perf_counter() - started
    stats = det.stats
    errors = [
        {"file": e.path, "rule_id": e.rule_id, "stage": e.stage, "reason": e.reason} for e in det.errors
    ]
    summary = {
        "files": files,
        "loaded": stats.get("rules_loaded", 0),
        "compiled": stats.get("rules_compiled", 0),
        "failed": stats.get("rules_failed", 0),
        "inactive": stats.get("rules_inactive", 0),
        "correlations": stats.get("correlations", 0),
        "correlations_failed": stats.get("correlations_failed", 0),
        "seconds": round(elapsed, 3),
        "errors": errors,
        "stateful": {k: v for k, v in stateful.items() if k != "paths"},
    }
    if args.json:
        common.print_json(summary)
    else:
        if not args.quiet:
            for e in det.errors:
                print(str(e))
            for line in stateful["errors"]:
                print(line["message"])
        print(
            f"files={files} loaded={summary['loaded']} compiled={summary['compiled']} failed={summary['failed']} "  # noqa: E501
            f"inactive={summary['inactive']} correlations={summary['correlations']} "
            f"correlations_failed={summary['correlations_failed']} errors={len(errors)} "
            f"time={elapsed:.2f}s"
        )
        print(
            f"stateful: files={stateful['files']} loaded={stateful['loaded']} "
            f"failed={stateful['failed']} errors={len(stateful['errors'])}"
        )
    failed = bool(errors) or summary["failed"] or summary["correlations_failed"] or bool(stateful["errors"])
    return EXIT_FAILURE if failed and not args.allow_failures else EXIT_OK


# --------------------------------------------------------------------------- coverage


def add_coverage(sub: Any) -> None:
    p = sub.add_parser(
        "coverage",
        help="ATT&CK techniques covered by the enabled rules, by whether their log sources were seen",
        description="List the ATT&CK techniques tagged on the enabled rules (detection.sigma.paths of the "
        "config), split into those with at least one rule whose log source the store holds events of (seen) "
        "and the rest (not seen). A log source is seen when stored events match its mapping conditions, judged "  # noqa: E501
        "from event counts by event.dataset, event.module, winlog.channel and observer.product. Without "
        "stored data everything is 'not seen'. Rules whose log source is not mapped are listed as unmapped.",
    )
    add_common(p)
    p.add_argument("--paths", nargs="+", type=Path, default=None, help="rule paths instead of the config's")
    p.set_defaults(handler=run_coverage)


def seen_values(args: argparse.Namespace) -> dict[str, dict[str, int]]:
    """Event counts per value of each :data:`SEEN_FIELDS` field in the store (empty when no data)."""
    from soc.pipeline.engine import DataDir, running_engine
    from soc.store import open_store
    from soc.store.base import Query

    dirs = DataDir(common.data_dir(args))
    if running_engine(dirs) is not None:
        print("note: an engine owns the data directory; its store cannot be read, counting nothing as seen",
              file=sys.stderr)  # fmt: skip
        return {}
    if not (dirs.root / "events.duckdb").exists():
        return {}
    backend = common.config(args).settings.store.backend
    store = open_store(backend, dirs.root, read_only=True)
    try:
        return {f: {str(b.key): b.count for b in store.count_by(Query(), f, size=1000) if b.key is not None}
                for f in SEEN_FIELDS}  # fmt: skip
    finally:
        store.close()


def logsource_seen(seen: dict[str, dict[str, int]], raw: dict[str, Any]) -> bool:
    """Whether stored events meet a log source's conditions, judged field by field from counts."""
    conds = raw.get("conditions") or {}
    alternatives = conds if isinstance(conds, list) else [conds]
    for alt in alternatives:
        keys = [k for k in alt if k in SEEN_FIELDS]
        if not keys:
            continue
        ok = True
        for key in keys:
            wanted = alt[key] if isinstance(alt[key], list) else [alt[key]]
            if not any(str(w) in seen.get(key, {}) for w in wanted):
                ok = False
                break
        if ok:
            return True
    return False


def _techniques(tags: Any) -> list[str]:
    out = []
    for tag in tags:
        text = str(tag).lower()
        if text.startswith("attack.t") and text[8:9].isdigit():
            out.append(text[7:].upper())
    return out


def run_coverage(args: argparse.Namespace) -> int:
    cfg, paths = sigma_mappings(args)
    if args.paths:
        paths = list(args.paths)
    print("loading rules ...", file=sys.stderr)
    rules, correlations, errors = load_rules(paths)
    seen = seen_values(args)
    raw_entries = list(cfg.get("logsources") or [])
    lsmap = LogsourceMap(raw_entries)
    raw_by_label = {e.label: raw_entries[i] for i, e in enumerate(lsmap.entries)}
    techniques: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"rules": 0, "seen": False, "logsources": set()}
    )
    rule_seen: dict[int, tuple[str, bool]] = {}
    unmapped = 0
    for rule in rules:
        entry = lsmap.lookup(rule.logsource)
        if entry is None:
            unmapped += 1
            rule_seen[id(rule)] = ("unmapped", False)
        else:
            rule_seen[id(rule)] = (entry.label, logsource_seen(seen, raw_by_label.get(entry.label, {})))
    items: list[tuple[Any, list[tuple[str, bool]]]] = [(r, [rule_seen[id(r)]]) for r in rules]
    for corr in correlations:
        refs = [rule_seen.get(id(ref.rule), ("unmapped", False)) for ref in corr.rules]
        items.append((corr, refs))
    for rule, sources in items:
        for technique in _techniques(rule.tags):
            t = techniques[technique]
            t["rules"] += 1
            t["seen"] = t["seen"] or any(s for _, s in sources)
            t["logsources"].update(label for label, _ in sources)
    out = {
        "seen": sorted(k for k, v in techniques.items() if v["seen"]),
        "not_seen": sorted(k for k, v in techniques.items() if not v["seen"]),
        "techniques": {
            k: {**v, "logsources": sorted(v["logsources"])} for k, v in sorted(techniques.items())
        },
        "rules": len(rules) + len(correlations),
        "rules_unmapped": unmapped,
        "load_errors": len(errors),
        "store_has_data": bool(any(seen.values())),
    }
    if args.json:
        common.print_json(out)
    else:
        print(f"techniques={len(techniques)} seen={len(out['seen'])} not_seen={len(out['not_seen'])} "
              f"rules={out['rules']} unmapped_rules={unmapped} load_errors={len(errors)}")  # fmt: skip
        rows = [[k, "seen" if v["seen"] else "not seen", str(v["rules"]), ", ".join(sorted(v["logsources"]))[:80]]  # noqa: E501
                for k, v in sorted(techniques.items())]  # fmt: skip
        print(common.table(rows, ["TECHNIQUE", "LOG SOURCE", "RULES", "VIA"]))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``soc rules check|coverage`` on their own (before they are wired into ``soc``)."""
    parser = argparse.ArgumentParser(prog="soc rules", description="Sigma rule tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_check(sub)
    add_coverage(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        print(f"soc rules {args.command}: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
