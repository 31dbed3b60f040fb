"""``soc deadletter list|replay``: records no parser could read, and their replay."""

from __future__ import annotations

import argparse
from typing import Any

from collectors.inputs.base import MemoryCheckpoints
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_UNAVAILABLE, CommandError, add_common, local_time
from soc.client import EngineClient, EngineClientError
from soc.pipeline.deadletter import DeadLetterStore, replay_dead_letters
from soc.pipeline.engine import DataDir, Engine, EngineBusyError, api_token, running_engine
from soc.state import StateStore


def register(commands: Any) -> None:
    group = commands.add_parser("deadletter", help="records that could not be parsed or stored")
    sub = group.add_subparsers(dest="deadletter_command", metavar="SUBCOMMAND", required=True)
    list_ = sub.add_parser(
        "list",
        help="dead letters, newest first",
        description="List dead letters with their source, offset, parser and reason.",
    )
    replay = sub.add_parser(
        "replay",
        help="send dead letters through the pipeline again (after a parser fix)",
        description="Replay dead letters: records that now parse are stored (with the event ids they "
        "would have had) and leave the dead-letter store; the others stay with their new reason. "
        "Exit 1 if some still fail.",
    )
    for parser in (list_, replay):
        add_common(parser)
        parser.add_argument("--parser", default=None, help="only those of this parser")
        parser.add_argument(
            "--source", default=None, help="only those of this source, e.g. file:/var/log/x.log"
        )
    list_.add_argument("--stage", default=None, choices=("parse", "store"), help="only this stage")
    list_.add_argument("--limit", type=int, default=50)
    list_.set_defaults(handler=list_dead_letters)
    replay.add_argument("--stage", default="parse", choices=("parse", "store"), help="default: parse")
    replay.add_argument("--limit", type=int, default=10_000)
    replay.set_defaults(handler=replay_command)


def _client(dirs: DataDir) -> EngineClient | None:
    info = running_engine(dirs)
    if info is None:
        return None
    if not info.get("api_url"):
        raise CommandError(f"an engine owns {dirs.root} but serves no API", EXIT_UNAVAILABLE)
    return EngineClient(info["api_url"], api_token(dirs), timeout=600)


def list_dead_letters(args: argparse.Namespace) -> int:
    dirs = DataDir(common.data_dir(args))
    filters = {"stage": args.stage, "parser": args.parser, "source": args.source, "limit": args.limit}
    client = _client(dirs)
    if client is not None:
        letters = client.dead_letters(**filters)["dead_letters"]
    elif dirs.state.exists():
        state = StateStore(dirs.state)
        try:
            letters = DeadLetterStore(state).list(
                args.limit, stage=args.stage, parser=args.parser, source=args.source
            )
        finally:
            state.close()
    else:
        letters = []
    if args.json:
        common.print_json({"dead_letters": letters})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    for d in letters:
        where = d["source"][5:] if d["source"].startswith("file:") else d["source"]
        field = f" (field {d['field']})" if d.get("field") else ""
        print(
            f"{local_time(d['received'], zone)}  {where}:{d['position']}  {d['stage']}/{d['parser']}: "
            f"{d['reason']}{field}\n    {d['raw'][:200]}"
        )
    print(f"-- {len(letters)} dead letters")
    return EXIT_OK


def replay_command(args: argparse.Namespace) -> int:
    dirs = DataDir(common.data_dir(args))
    filters = {"stage": args.stage, "parser": args.parser, "source": args.source, "limit": args.limit}
    client = _client(dirs)
    if client is not None:
        try:
            result = client.replay_dead_letters(**filters)
        except EngineClientError as exc:
            raise CommandError(f"the engine refused the replay: {exc}", EXIT_UNAVAILABLE) from exc
    else:
        engine = Engine(
            common.config(args), dirs.root, inputs=[], serve_api=False, checkpoints=MemoryCheckpoints()
        )
        try:
            engine.start()
        except EngineBusyError as exc:
            raise CommandError(str(exc), EXIT_UNAVAILABLE) from exc
        try:
            outcome = replay_dead_letters(engine.dead_letters, engine.accept, engine.wait_drained, **filters)
        finally:
            engine.stop()
        result = {
            "replayed": outcome.replayed,
            "resolved": outcome.resolved,
            "still_failing": outcome.still_failing,
        }
    if args.json:
        common.print_json(result)
    else:
        print(
            f"replayed {result['replayed']}: {result['resolved']} now stored, "
            f"{result['still_failing']} still failing"
        )
    return EXIT_FAILURE if result["still_failing"] else EXIT_OK
