"""``soc detect``: offline Sigma detection over log files, nothing stored.

Files are read with :class:`collectors.inputs.readers.FileReader` (text, EVTX, Zeek TSV),
parsed, normalized and run through :class:`detectors.sigma.SigmaDetector` by the same
:class:`soc.pipeline.processor.Processor` the engine uses; ``tick()`` at the end closes
correlation windows. Matches go to stdout as NDJSON, a summary to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from collectors.inputs.readers import FileReader
from collectors.parsers import PARSERS
from detectors.base import Match
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config as load_sigma_config
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError
from soc.event import RawRecord, format_ts, get_field
from soc.pipeline.processor import ParserSet, Processor

BATCH_RECORDS = 2000


def register(commands: Any) -> None:
    p = commands.add_parser(
        "detect",
        help="run Sigma rules over log files offline (EVTX, JSON, any parsed format); nothing is stored",
        description="Parse log files and run Sigma rules (and correlations) over them. Prints one NDJSON line "  # noqa: E501
        "per match (rule.id, rule.name, rule.level, event.id, @timestamp, log.file.path, group) and a summary "  # noqa: E501
        "on stderr. Exit 0 when the run completed (with or without matches), 1 when some rules failed to load "  # noqa: E501
        "or some records could not be parsed, 2 on bad arguments.",
    )
    p.add_argument("--rules", nargs="+", type=Path, default=None, metavar="PATH",
                   help="rule files or folders (default: detection.sigma.paths of the config)")  # fmt: skip
    p.add_argument("--input", nargs="+", type=Path, required=True, metavar="FILE", help="log files to read")
    p.add_argument("--format", default="auto", help="auto (default) or one of: " + ", ".join(PARSERS))
    p.add_argument("--timezone", default=None, help="zone of timestamps that carry none (default: config)")
    p.add_argument("--config", type=Path, default=None, help="configuration file")
    p.add_argument("--json", action="store_true",
                   help="also print the summary as one JSON line on stdout (after the matches)")  # fmt: skip
    p.set_defaults(handler=run_detect)


def match_record(m: Match) -> dict[str, Any]:
    """One NDJSON line of a match: the rule, the newest evidence event and the group."""
    last = m.events[-1] if m.events else {}
    out: dict[str, Any] = {
        "rule.id": m.rule.id,
        "rule.name": m.rule.title,
        "rule.level": m.rule.severity,
        "rule.type": m.rule.type,
        "event.id": get_field(last, "event.id"),
        "@timestamp": format_ts(m.timestamp),
    }
    path = get_field(last, "log.file.path")
    if path:
        out["log.file.path"] = path
    if m.group:
        out["group"] = m.group
    if len(m.events) > 1:
        out["evidence"] = [get_field(e, "event.id") for e in m.events]
    return out


def _records(path: Path, fmt: str | None, tz: str | None, errors: list[str]) -> Iterator[RawRecord]:
    reader = FileReader(path, format=fmt, timezone=tz)
    for record in reader.records():
        if fmt:
            record.meta["format"] = fmt
        if tz:
            record.meta["timezone"] = tz
        yield record
    errors.extend(f"{path}: {e}" for e in reader.errors)


def run_detect(args: argparse.Namespace) -> int:
    missing = [str(f) for f in args.input if not f.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}", EXIT_USAGE)
    fmt = None if args.format in (None, "auto") else args.format
    if fmt and fmt not in PARSERS:
        raise CommandError(f"unknown format {fmt!r}; known: auto, {', '.join(PARSERS)}", EXIT_USAGE)
    loaded = common.config(args)
    sigma = loaded.settings.detection.sigma
    mappings = loaded.resolve(sigma.mappings)
    if not mappings.is_file():
        raise CommandError(f"detection.sigma.mappings: no such file {mappings}", EXIT_USAGE)
    rule_paths = list(args.rules) if args.rules else [loaded.resolve(p) for p in sigma.paths]
    absent = [str(p) for p in rule_paths if not p.exists()]
    if absent:
        raise CommandError(f"no such rule file or folder: {', '.join(absent)}", EXIT_USAGE)
    timezone = args.timezone or loaded.settings.timezone

    print("loading rules ...", file=sys.stderr)
    detector = SigmaDetector(rule_paths, config=load_sigma_config(mappings))
    for error in detector.errors:
        print(f"rule not loaded: {error}", file=sys.stderr)
    processor = Processor(ParserSet(timezone=timezone), detectors=[detector])

    started = time.perf_counter()
    events = matches = dead = 0
    read_errors: list[str] = []
    newest = None
    for path in args.input:
        path = path.resolve()
        batch: list[RawRecord] = []
        for record in _records(path, fmt, args.timezone, read_errors):
            batch.append(record)
            if len(batch) >= BATCH_RECORDS:
                events, matches, dead, newest = _run(processor, batch, events, matches, dead, newest)
                batch = []
                rate = events / max(time.perf_counter() - started, 1e-9)
                print(f"\r{path.name}: {events} events, {matches} matches, {rate:,.0f} events/s",
                      end="", file=sys.stderr)  # fmt: skip
        if batch:
            events, matches, dead, newest = _run(processor, batch, events, matches, dead, newest)
    # close every correlation window: "now" is past the newest event by a day
    if newest is not None:
        for m in detector.tick(newest + timedelta(days=1)):
            common.print_ndjson(match_record(m))
            matches += 1
    elapsed = time.perf_counter() - started
    summary = {
        "files": len(args.input),
        "events": events,
        "dead_letters": dead,
        "rules": detector.stats.get("rules_compiled", 0),
        "correlations": detector.stats.get("correlations", 0),
        "rules_failed": len(detector.errors),
        "matches": matches,
        "seconds": round(elapsed, 3),
        "events_per_second": round(events / elapsed) if elapsed > 0 else 0,
        "read_errors": read_errors,
    }
    print(file=sys.stderr)
    print(" ".join(f"{k}={v}" for k, v in summary.items() if k != "read_errors"), file=sys.stderr)
    for error in read_errors:
        print(f"read error: {error}", file=sys.stderr)
    if args.json:
        common.print_ndjson({"summary": summary})
    sys.stdout.flush()
    return EXIT_FAILURE if dead or read_errors or detector.errors else EXIT_OK


def _run(processor: Processor, batch: list[RawRecord], events: int, matches: int, dead: int,
         newest: Any) -> tuple[int, int, int, Any]:  # fmt: skip
    from detectors.sigma.engine import event_time

    result = processor.process(batch)
    for m in result.matches:
        common.print_ndjson(match_record(m))
    for event in result.events:
        ts = event_time(event)
        if newest is None or ts > newest:
            newest = ts
    return events + len(result.events), matches + len(result.matches), dead + len(result.dead_letters), newest


def main(argv: list[str] | None = None) -> int:
    """``soc detect`` on its own (before it is wired into ``soc``)."""
    parser = argparse.ArgumentParser(prog="soc")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except CommandError as exc:
        print(f"soc detect: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
