"""``soc ingest`` (files into the store) and ``soc parse`` (files to ECS NDJSON).

Both read files with :class:`collectors.inputs.readers.FileReader`: line files, EVTX
and Zeek TSV alike; records are keyed by file path and position, so ingesting a file
again stores nothing twice.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.readers import FileReader
from collectors.parsers import PARSERS
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, CommandError, add_common
from soc.client import EngineClient, EngineClientError
from soc.event import RawRecord
from soc.pipeline.engine import DataDir, Engine, EngineBusyError, api_token, running_engine
from soc.pipeline.processor import BatchResult, ParserSet, Processor

CHUNK_BYTES = 4 * 1024 * 1024
BATCH_RECORDS = 2000
FORMAT_HELP = "parser to use (default: detected per record): "


def register(commands: Any) -> None:
    ingest = commands.add_parser(
        "ingest",
        help="ingest log files (text, EVTX, Zeek TSV) through the full pipeline into the store",
        description="Ingest log files: through the running engine's API when one owns the data directory, "
        "else with an engine started for the job. Re-ingesting a file stores nothing twice. "
        "Exit 1 if some records could not be parsed (see `soc deadletter list`).",
    )
    add_common(ingest)
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument("--format", default=None, help=FORMAT_HELP + ", ".join(PARSERS))
    ingest.add_argument(
        "--timezone", default=None, help="zone of timestamps that carry none (default: config)"
    )
    ingest.set_defaults(handler=ingest_files)

    parse = commands.add_parser(
        "parse",
        help="print the ECS events of a log file as NDJSON (nothing is stored)",
        description="Parse a file (text, EVTX or Zeek TSV) and print one ECS event per record as NDJSON; "
        "records that cannot be parsed are reported on stderr with their offset and reason (exit 1 if any).",
    )
    parse.add_argument("file", type=Path, metavar="FILE")
    parse.add_argument("--format", default="auto", help="auto (default) or one of: " + ", ".join(PARSERS))
    parse.add_argument(
        "--timezone", default=None, help="zone of timestamps that carry none (default: config)"
    )
    parse.add_argument("--config", type=Path, default=None, help="configuration file")
    parse.set_defaults(handler=parse_file)


def _check_files(files: list[Path]) -> list[Path]:
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}", EXIT_USAGE)
    return [f.resolve() for f in files]


def _check_format(name: str | None) -> None:
    if name and name != "auto" and name not in PARSERS:
        raise CommandError(f"unknown format {name!r}; known: auto, {', '.join(PARSERS)}", EXIT_USAGE)


def _records(reader: FileReader, forced: str | None, timezone: str | None) -> Iterator[RawRecord]:
    for record in reader.records():
        if forced:
            record.meta["format"] = forced
        if timezone:
            record.meta["timezone"] = timezone
        yield record


def _batches(records: Iterator[RawRecord], size: int = BATCH_RECORDS) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_files(args: argparse.Namespace) -> int:
    files = _check_files(args.files)
    _check_format(args.format)
    dirs = DataDir(common.data_dir(args))
    engine_info = running_engine(dirs)
    if engine_info is not None:
        if not engine_info.get("api_url"):
            raise CommandError(f"an engine owns {dirs.root} but serves no API", EXIT_UNAVAILABLE)
        summary = _ingest_remote(EngineClient(engine_info["api_url"], api_token(dirs)), files, args)
    else:
        summary = _ingest_local(common.config(args), dirs, files, args)
    if args.json:
        common.print_json(summary)
    else:
        print(" ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, list | dict)))
        for error in summary["read_errors"]:
            print(f"read error: {error}", file=sys.stderr)
    return EXIT_OK if not summary.get("dead_letters") and not summary["read_errors"] else EXIT_FAILURE


def _ingest_remote(client: EngineClient, files: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """Hand each file to the running engine: text files as chunks cut at line ends
    (the engine keys lines by path and byte offset, exactly as a direct read would),
    EVTX and Zeek TSV files as records."""
    accepted = 0
    errors: list[str] = []
    for path in files:
        reader = FileReader(path, format=args.format, timezone=args.timezone)
        try:
            if reader.kind == "lines":
                accepted += _send_lines(client, path, args)
            else:
                for batch in _batches(_records(reader, args.format, args.timezone)):
                    accepted += int(client.ingest_records(batch).get("accepted", 0))
                    print(f"\r{path.name}: {accepted} records sent", end="", file=sys.stderr)
                print(file=sys.stderr)
        except EngineClientError as exc:
            raise CommandError(f"{path}: the engine refused the data: {exc}", EXIT_UNAVAILABLE) from exc
        errors += [f"{path}: {e}" for e in reader.errors]
    return {"mode": "engine", "files": len(files), "records_accepted": accepted, "read_errors": errors}


def _send_lines(client: EngineClient, path: Path, args: argparse.Namespace) -> int:
    accepted, offset, total = 0, 0, path.stat().st_size
    with open(path, "rb") as fh:
        pending = b""
        while True:
            data = fh.read(CHUNK_BYTES)
            chunk = pending + data
            cut = chunk.rfind(b"\n") + 1 if data else len(chunk)
            body, pending = chunk[:cut], chunk[cut:]
            if body:
                reply = client.ingest_raw(
                    f"file:{path}", offset, body, format=args.format, timezone=args.timezone
                )
                accepted += int(reply.get("accepted", 0))
                offset += len(body)
                print(
                    f"\r{path.name}: {offset * 100 // max(total, 1)}% ({offset}/{total} bytes)",
                    end="",
                    file=sys.stderr,
                )
            if not data:
                break
    print(file=sys.stderr)
    return accepted


def _ingest_local(loaded: Any, dirs: DataDir, files: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    engine = Engine(loaded, dirs.root, inputs=[], serve_api=False, checkpoints=MemoryCheckpoints())
    try:
        engine.start()
    except EngineBusyError as exc:
        raise CommandError(str(exc), EXIT_UNAVAILABLE) from exc
    done = threading.Event()
    progress = threading.Thread(target=_progress, args=(engine, done), daemon=True)
    progress.start()
    started = time.monotonic()
    errors: list[str] = []
    try:
        for path in files:
            reader = FileReader(path, format=args.format, timezone=args.timezone)
            for batch in _batches(_records(reader, args.format, args.timezone)):
                engine.accept(batch, "ingest")
            errors += [f"{path}: {e}" for e in reader.errors]
        engine.wait_drained(24 * 3600)
    finally:
        done.set()
        progress.join()
        c = engine.counters
        summary = {
            "mode": "local",
            "files": len(files),
            "events": c.events,
            "stored": c.stored,
            "duplicates": c.duplicates,
            "dead_letters": c.dead_letters,
            "alerts_created": c.alerts_created,
            "alerts_updated": c.alerts_updated,
            "seconds": round(time.monotonic() - started, 2),
            "read_errors": errors,
        }
        engine.stop()
    return summary


def _progress(engine: Engine, done: threading.Event) -> None:
    while not done.wait(2.0):
        c = engine.counters
        print(
            f"ingest: {c.events} events processed, {c.stored} stored, {c.dead_letters} dead letters",
            file=sys.stderr,
        )


def parse_file(args: argparse.Namespace) -> int:
    (path,) = _check_files([args.file])
    _check_format(args.format)
    loaded = common.config(args)
    forced = None if args.format == "auto" else args.format
    settings = loaded.settings
    processor = Processor(ParserSet(timezone=settings.timezone), keep_original=settings.event.keep_original)
    chosen: Counter[str] = Counter()
    failed = 0
    reader = FileReader(path, format=forced, timezone=args.timezone)
    for batch in _batches(_records(reader, forced, args.timezone), 1000):
        failed += _emit(processor, batch, chosen)
    for error in reader.errors:
        print(f"{path}: {error}", file=sys.stderr)
    formats = ", ".join(f"{name} ({n} events)" for name, n in chosen.most_common()) or "none"
    print(
        f"{path}: {reader.kind} file, format {'auto -> ' if not forced else ''}{formats}; "
        f"{failed} records not parsed, {len(reader.errors)} read errors",
        file=sys.stderr,
    )
    return EXIT_FAILURE if failed or reader.errors else EXIT_OK


def _emit(processor: Processor, batch: list[RawRecord], chosen: Counter[str]) -> int:
    result = BatchResult()
    processor.parse(batch, result)
    for event in result.events:
        common.print_ndjson(event)
    for letter in result.dead_letters:
        where = letter.record.source.partition(":")[2]
        field = f" (field {letter.field})" if letter.field else ""
        print(
            f"{where}:offset {letter.record.position}: {letter.parser}: {letter.reason}{field}",
            file=sys.stderr,
        )
    chosen.update(result.parsed_by)
    sys.stdout.flush()
    return len(result.dead_letters)
