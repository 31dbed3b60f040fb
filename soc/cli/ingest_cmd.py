"""``soc ingest`` (files into the store) and ``soc parse`` (files to ECS NDJSON)."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.file import FileInput, FileInputConfig, read_records
from collectors.parsers import PARSERS
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, CommandError, add_common
from soc.client import EngineClient, EngineClientError
from soc.pipeline.engine import DataDir, Engine, EngineBusyError, api_token, running_engine
from soc.pipeline.processor import BatchResult, ParserSet, Processor

CHUNK_BYTES = 4 * 1024 * 1024


def register(commands: Any) -> None:
    ingest = commands.add_parser(
        "ingest",
        help="ingest log files through the full pipeline into the store",
        description="Ingest log files: through the running engine's API when one owns the data directory, "
        "else with an engine started for the job. Re-ingesting a file stores nothing twice.",
    )
    add_common(ingest)
    ingest.add_argument("files", nargs="+", type=Path, metavar="FILE")
    ingest.add_argument(
        "--format", default=None, help=f"parser to use (default: detect per line): {', '.join(PARSERS)}"
    )
    ingest.add_argument(
        "--timezone", default=None, help="zone of timestamps that carry none (default: config)"
    )
    ingest.set_defaults(handler=ingest_files)

    parse = commands.add_parser(
        "parse",
        help="print the ECS events of a log file as NDJSON (nothing is stored)",
        description="Parse a file and print one ECS event per line as NDJSON; lines that cannot be parsed "
        "are reported on stderr with their offset and reason (exit 1 if any).",
    )
    parse.add_argument("file", type=Path, metavar="FILE")
    parse.add_argument("--format", default="auto", help=f"auto (default) or one of: {', '.join(PARSERS)}")
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
        print(" ".join(f"{k}={v}" for k, v in summary.items() if not isinstance(v, (list, dict))))
    return EXIT_OK if not summary.get("dead_letters") else EXIT_FAILURE


def _ingest_remote(client: EngineClient, files: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """Stream each file to the engine in chunks cut at line ends; the engine keys the
    lines by path and byte offset, exactly as a direct file read would."""
    accepted = 0
    for path in files:
        total = path.stat().st_size
        offset = 0
        with open(path, "rb") as fh:
            pending = b""
            while True:
                data = fh.read(CHUNK_BYTES)
                chunk = pending + data
                if not data:
                    body, pending = chunk, b""
                else:
                    cut = chunk.rfind(b"\n") + 1
                    body, pending = chunk[:cut], chunk[cut:]
                if body:
                    try:
                        reply = client.ingest_raw(
                            f"file:{path}", offset, body, format=args.format, timezone=args.timezone
                        )
                    except EngineClientError as exc:
                        raise CommandError(
                            f"{path}: the engine refused offset {offset}: {exc}", EXIT_UNAVAILABLE
                        ) from exc
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
    return {"mode": "engine", "files": len(files), "lines_accepted": accepted}


def _ingest_local(loaded: Any, dirs: DataDir, files: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    source = FileInput(
        FileInputConfig(
            name="ingest",
            paths=tuple(str(f) for f in files),
            follow=False,
            format=args.format,
            timezone=args.timezone,
        )
    )
    engine = Engine(loaded, dirs.root, inputs=[source], serve_api=False, checkpoints=MemoryCheckpoints())
    try:
        engine.start()
    except EngineBusyError as exc:
        raise CommandError(str(exc), EXIT_UNAVAILABLE) from exc
    done = threading.Event()
    progress = threading.Thread(target=_progress, args=(engine, done), daemon=True)
    progress.start()
    started = time.monotonic()
    try:
        engine.wait_inputs()
        engine.wait_drained(3600)
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
    processor = Processor(
        ParserSet(timezone=loaded.settings.timezone), keep_original=loaded.settings.event.keep_original
    )
    chosen: Counter[str] = Counter()
    failed = 0
    batch = []
    for record in read_records(path, format=forced, timezone=args.timezone):
        batch.append(record)
        if len(batch) >= 1000:
            failed += _emit(processor, batch, chosen)
            batch = []
    failed += _emit(processor, batch, chosen)
    formats = ", ".join(f"{name} ({n} events)" for name, n in chosen.most_common()) or "none"
    print(
        f"{path}: format {'auto -> ' if not forced else ''}{formats}; {failed} lines not parsed",
        file=sys.stderr,
    )
    return EXIT_FAILURE if failed else EXIT_OK


def _emit(processor: Processor, batch: list[Any], chosen: Counter[str]) -> int:
    if not batch:
        return 0
    result = BatchResult()
    processor.parse(batch, result)
    for event in result.events:
        common.print_ndjson(event)
    for letter in result.dead_letters:
        print(
            f"{letter.record.source[5:]}:offset {letter.record.position}: {letter.parser}: {letter.reason}"
            + (f" (field {letter.field})" if letter.field else ""),
            file=sys.stderr,
        )
    chosen.update(result.parsed_by)
    sys.stdout.flush()
    return len(result.dead_letters)
