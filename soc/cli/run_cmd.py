"""``soc run`` (the engine) and ``soc demo`` (the generated scenario, end to end)."""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from collectors.inputs.base import MemoryCheckpoints
from collectors.inputs.file import FileInput, FileInputConfig, read_records
from soc.assets import AssetError
from soc.cli import common
from soc.cli.common import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, CommandError, add_common, local_time
from soc.demo import write_demo_log
from soc.event import utcnow
from soc.pipeline.engine import Engine, EngineBusyError


def register(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help="run the engine (collectors, detectors, API) on the embedded store",
        description="Run the engine until SIGINT/SIGTERM: inputs from the config, Sigma detection, "
        "alerts, forwarding and the API. Exit 3 if another engine owns the data directory.",
    )
    add_common(run, json_flag=False)
    run.add_argument("--demo", action="store_true", help="load the generated demo scenario at start")
    run.add_argument("--api-port", type=int, default=None, help="API port (overrides api.port; 0 = any free)")
    run.add_argument("--no-api", action="store_true", help="do not serve the API")
    run.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run.set_defaults(handler=run_engine)

    demo = commands.add_parser(
        "demo",
        help="run a generated attack scenario through the full pipeline and print the alerts",
        description="Generate an hour of Linux auth logs with an SSH brute force followed by a successful "
        "login, ingest it through the full pipeline (parse, enrich, detect, store) and print the alerts. "
        "Uses a temporary data directory unless --data-dir is given.",
    )
    add_common(demo)
    demo.set_defaults(handler=run_demo)


def _start(engine: Engine) -> None:
    try:
        engine.start()
    except EngineBusyError as exc:
        raise CommandError(str(exc), EXIT_UNAVAILABLE) from exc
    except AssetError as exc:  # the inventory file named by assets.file is invalid
        raise CommandError(str(exc), EXIT_USAGE) from exc


def seed_demo(engine: Engine) -> int:
    """Write the demo log into the data directory and hand it to a running engine."""
    path = engine.dirs.root / "demo" / f"auth-{utcnow():%Y%m%dT%H%M%S}.log"
    write_demo_log(path, utcnow(), timezone=engine.settings.timezone)
    records = list(read_records(path, format="linux_auth"))
    engine.accept(records, "demo")
    return len(records)


def run_engine(args: argparse.Namespace) -> int:
    common.setup_logging(args.verbose)
    loaded = common.config(args)
    engine = Engine(
        loaded, common.data_dir(args), serve_api=False if args.no_api else None, api_port=args.api_port
    )
    _start(engine)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    if args.demo:
        n = seed_demo(engine)
        print(f"demo: {n} auth-log lines handed to the pipeline", file=sys.stderr)
    if engine.api_url:
        print(
            f"API: {engine.api_url}  (docs {engine.api_url}/docs, health {engine.api_url}/healthz, "
            f"metrics {engine.api_url}/metrics; bearer token in {engine.dirs.token})",
            file=sys.stderr,
        )
    for source in engine.inputs:
        port = getattr(source, "bound_port", None)
        print(f"input {source.name}: {'port ' + str(port) if port else 'ready'}", file=sys.stderr)
    stop.wait()
    print("stopping: draining accepted records ...", file=sys.stderr)
    engine.stop()
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    loaded = common.config(args)
    with tempfile.TemporaryDirectory(prefix="soc-demo-") as tmp:
        root = common.data_dir(args) if args.data_dir else Path(tmp)
        log_path = root / "demo" / "auth.log"
        scenario = write_demo_log(log_path, utcnow(), timezone=loaded.settings.timezone)
        source = FileInput(
            FileInputConfig(name="demo", paths=(str(log_path),), follow=False, format="linux_auth")
        )
        engine = Engine(loaded, root, inputs=[source], serve_api=False, checkpoints=MemoryCheckpoints())
        _start(engine)
        try:
            engine.wait_inputs()
            engine.wait_drained(120)
            alerts, _ = engine.alerts.list(limit=100)
            counters = engine.counters
            summary = {
                "lines": len(scenario.lines),
                "events_stored": counters.stored,
                "dead_letters": counters.dead_letters,
                "attacker_ip": scenario.attacker_ip,
                "target_host": scenario.target_host,
                "alerts": [a.to_dict() for a in alerts],
            }
        finally:
            engine.stop()
    if args.json:
        common.print_json(summary)
        return EXIT_OK
    zone = loaded.settings.timezone
    print(
        f"Demo: {summary['lines']} auth-log lines, {summary['events_stored']} events stored, "
        f"{summary['dead_letters']} dead letters, {len(alerts)} alerts "
        f"(times in {zone}) / Mô phỏng: {len(alerts)} cảnh báo\n"
    )
    rows = [
        [
            local_time(a.last_seen, zone),
            a.severity,
            a.rule_title[:60],
            a.host or "-",
            a.user or "-",
            a.source_ip or "-",
            str(a.count),
        ]
        for a in alerts
    ]
    print(common.table(rows, ["last seen", "severity", "rule", "host", "user", "source ip", "count"]))
    return EXIT_OK
