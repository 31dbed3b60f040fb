"""``soc audit list|verify``: the hash-chained audit log of every change."""

from __future__ import annotations

import argparse
from typing import Any

from soc.audit import AuditLog
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, add_common, local_time
from soc.pipeline.engine import DataDir
from soc.state import StateStore


def register(commands: Any) -> None:
    group = commands.add_parser("audit", help="the audit log of every change (who, when, what)")
    sub = group.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    list_ = sub.add_parser(
        "list",
        help="audit entries, oldest first",
        description="List audit entries: time, actor, role, source address, action, target.",
    )
    add_common(list_)
    list_.add_argument("--target-type", default=None, help="only entries about this kind (alert, user...)")
    list_.add_argument("--target-id", default=None, help="only entries about this id")
    list_.add_argument("--actor", default=None, help="only entries by this user or service")
    list_.add_argument("--after", type=int, default=0, help="only entries after this sequence number")
    list_.add_argument("--limit", type=int, default=100)
    list_.set_defaults(handler=list_entries)
    verify = sub.add_parser(
        "verify",
        help="check the hash chain: exit 1 if any entry was edited, removed or reordered",
        description="Recompute the audit log's hash chain. Exit 0 when intact, 1 when an entry was "
        "tampered with (the first broken entry is named).",
    )
    add_common(verify)
    verify.set_defaults(handler=verify_chain)


def _audit_log(args: argparse.Namespace) -> tuple[AuditLog, StateStore]:
    state = StateStore(DataDir(common.data_dir(args)).state)
    return AuditLog(state), state


def list_entries(args: argparse.Namespace) -> int:
    log, state = _audit_log(args)
    try:
        entries = log.entries(
            target_type=args.target_type,
            target_id=args.target_id,
            actor=args.actor,
            after_seq=args.after,
            limit=args.limit,
        )
    finally:
        state.close()
    if args.json:
        common.print_json({"entries": [e.to_dict() for e in entries]})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    for e in entries:
        print(
            f"{e.seq:>6}  {local_time(e.ts, zone)}  {e.actor} ({e.role or '-'}) from {e.source or '-'}: "
            f"{e.action} {e.target_type} {e.target_id}"
        )
    print(f"-- {len(entries)} entries")
    return EXIT_OK


def verify_chain(args: argparse.Namespace) -> int:
    log, state = _audit_log(args)
    try:
        result = log.verify()
    finally:
        state.close()
    if args.json:
        common.print_json(result.to_dict())
    elif result.ok:
        print(f"audit log intact: {result.entries} entries / nhật ký kiểm toán nguyên vẹn")
    else:
        print(
            f"audit log TAMPERED at entry {result.broken_seq}: {result.reason} / "
            f"nhật ký kiểm toán bị sửa đổi tại mục {result.broken_seq}"
        )
    return EXIT_OK if result.ok else EXIT_FAILURE
