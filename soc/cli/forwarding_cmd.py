"""``soc forwarding list|approve|reject``: national reports (L4) and their approval."""

from __future__ import annotations

import argparse
import getpass
from typing import Any

from soc.access import ROLE_ADMIN
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, CommandError, add_common, local_time
from soc.forwarding.outbox import STATUSES, Outbox
from soc.pipeline.engine import DataDir
from soc.routing.national import decide
from soc.state import StateStore, read_existing


def register(commands: Any) -> None:
    group = commands.add_parser(
        "forwarding", help="reports to the national center (L4): list, approve, reject"
    )
    sub = group.add_subparsers(dest="forwarding_command", metavar="SUBCOMMAND", required=True)
    list_ = sub.add_parser(
        "list",
        help="forwarding records, newest first",
        description="List forwarding records (the outbox): target, alert, status (pending_approval, "
        "pending, delivered, failed, rejected), attempts and the last error.",
    )
    add_common(list_)
    list_.add_argument("--status", choices=STATUSES, default=None, help="only records in this status")
    list_.add_argument("--limit", type=int, default=100)
    list_.set_defaults(handler=list_records)
    for verb, approve in (("approve", True), ("reject", False)):
        cmd = sub.add_parser(
            verb,
            help=f"{verb} a report waiting as pending_approval (audited)",
            description=f"{verb.capitalize()} a national report that waits for a SOC lead. The decision is "
            "written to the audit log with who made it. Exit 4 if there is no such record, 1 if it "
            "is not waiting for approval.",
        )
        add_common(cmd)
        cmd.add_argument("record_id", type=int, help="the forwarding record id (soc forwarding list)")
        cmd.add_argument("--note", default="", help="why (kept in the audit log)")
        cmd.add_argument("--actor", default=None, help="who decides (default: the login name)")
        cmd.set_defaults(handler=decide_record, approve=approve)


def list_records(args: argparse.Namespace) -> int:
    dirs = DataDir(common.data_dir(args))
    records = read_existing(dirs.state, lambda state: Outbox(state).list(args.status, args.limit))
    if args.json:
        common.print_json({"records": [r.to_dict() for r in records]})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    for r in records:
        error = f"  ({r.last_error})" if r.last_error else ""
        print(
            f"{r.id:>6}  {local_time(r.created, zone)}  {r.status:<16} {r.target}  alert {r.alert_id}  "
            f"attempts {r.attempts}{error}"
        )
    print(f"-- {len(records)} records")
    return EXIT_OK


def decide_record(args: argparse.Namespace) -> int:
    dirs = DataDir(common.data_dir(args))
    if not dirs.state.exists():
        raise CommandError(f"no forwarding record {args.record_id} (no state in {dirs.root})", EXIT_NOT_FOUND)
    actor = args.actor or f"{getpass.getuser()}@cli"
    state = StateStore(dirs.state)
    try:
        decision = decide(
            state, args.record_id, approve=args.approve, actor=actor, role=ROLE_ADMIN, source="cli",
            note=args.note,
        )  # fmt: skip
    except KeyError as exc:
        raise CommandError(str(exc.args[0]), EXIT_NOT_FOUND) from exc
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from exc
    finally:
        state.close()
    if args.json:
        common.print_json({"record": decision.record.to_dict(), "action": decision.action})
    else:
        done = "approved, queued for delivery / đã duyệt" if args.approve else "rejected / đã từ chối"
        print(f"forwarding record {args.record_id} to {decision.record.target}: {done}")
    return EXIT_OK
