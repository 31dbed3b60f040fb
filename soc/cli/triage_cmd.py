"""``soc alerts ack|assign|comment|close|reopen|escalate|tag|incident-type`` and
``soc alerts suppress|suppressions|unsuppress``: triage from the command line.

They work directly on the state store of the data directory (SQLite in WAL mode, safe
beside a running engine). The actor is ``--as USER`` (default: the OS user), recorded
in the audit log with the role ``local`` and the source ``cli:<host name>``. Every
change command takes one or more alert ids (or unique id prefixes) and reports each;
exit 0 when all succeeded, 4 when a single id was not found, 1 otherwise.
"""

from __future__ import annotations

import argparse
import getpass
import socket
from collections.abc import Callable
from typing import Any

from soc.alerts import Actor, AlertRepository
from soc.alerts.classify import INCIDENT_TYPES
from soc.alerts.suppressions import SuppressionError, SuppressionStore, parse_expiry
from soc.alerts.triage import RESOLUTIONS, TriageError, TriageService
from soc.cli import common
from soc.cli.common import (
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    CommandError,
    add_common,
    local_time,
)
from soc.pipeline.engine import DataDir
from soc.state import StateStore

CLI_ROLE = "local"


def register(sub: Any) -> None:
    """Add the triage subcommands to the ``soc alerts`` group's subparsers."""
    _change(sub, "ack", "acknowledge alerts (new -> acknowledged)", _ack)
    start = _change(sub, "start", "start work on alerts (acknowledged -> in_progress)", _start)
    start.add_argument("--reason", default=None)
    assign = _change(sub, "assign", "assign alerts to a user (--to USER, or --unassign)", _assign)
    who = assign.add_mutually_exclusive_group(required=True)
    who.add_argument("--to", dest="assignee", metavar="USER")
    who.add_argument("--unassign", action="store_true")
    comment = _change(sub, "comment", "add a comment to alerts", _comment)
    comment.add_argument("--message", "-m", required=True, help="the comment text")
    close = _change(sub, "close", "close alerts with a resolution", _close)
    close.add_argument("--resolution", required=True, choices=RESOLUTIONS)
    close.add_argument("--reason", default=None, help="kept as a comment")
    reopen = _change(sub, "reopen", "reopen closed alerts (a reason is required)", _reopen)
    reopen.add_argument("--reason", required=True)
    reopen.add_argument("--to", dest="to_status", choices=("new", "in_progress"), default="new")
    escalate = _change(sub, "escalate", "escalate alerts to an incident", _escalate)
    escalate.add_argument("--reason", default=None)
    tag = _change(sub, "tag", "add or remove analyst tags", _tag)
    tag.add_argument("--add", action="append", default=[], metavar="TAG")
    tag.add_argument("--remove", action="append", default=[], metavar="TAG")
    kind = _change(sub, "incident-type", "override the national incident type", _incident_type)
    kind.add_argument("incident_type", choices=tuple(INCIDENT_TYPES), metavar="TYPE")

    suppress = sub.add_parser(
        "suppress",
        help="silence matching alerts (scope, reason, expiry)",
        description="Create a suppression: matches of --rule and/or every --where FIELD=VALUE (exact, "
        "glob or CIDR; FIELD is agency, host, user, ip, domain or an ECS field) create no alert and "
        "are counted on the suppression. Audited.",
    )
    add_common(suppress)
    _actor_flag(suppress)
    suppress.add_argument("--rule", default=None, help="rule id")
    suppress.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE")
    suppress.add_argument("--reason", required=True)
    suppress.add_argument(
        "--expires", default=None, help="30m, 8h, 7d, 2w from now, or ISO 8601; default never"
    )
    suppress.set_defaults(handler=create_suppression)
    listing = sub.add_parser("suppressions", help="list suppressions with their hit counts")
    add_common(listing)
    listing.add_argument("--all", action="store_true", help="include removed and expired ones")
    listing.set_defaults(handler=list_suppressions)
    unsuppress = sub.add_parser("unsuppress", help="remove a suppression (audited)")
    add_common(unsuppress)
    _actor_flag(unsuppress)
    unsuppress.add_argument("suppression_id", metavar="ID")
    unsuppress.set_defaults(handler=remove_suppression)


def _actor_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--as", dest="actor", default=None, help="who acts (default: the OS user)")


def _change(sub: Any, name: str, help_text: str, action: Callable[..., Any]) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
    add_common(parser)
    _actor_flag(parser)
    parser.add_argument("alert_ids", nargs="+", metavar="ID", help="alert ids or unique id prefixes")
    parser.set_defaults(handler=lambda args: run_change(args, action))
    return parser


def actor(args: argparse.Namespace) -> Actor:
    return Actor(args.actor or getpass.getuser(), CLI_ROLE, f"cli:{socket.gethostname()}")


def open_state(args: argparse.Namespace) -> StateStore:
    dirs = DataDir(common.data_dir(args))
    if not dirs.state.exists():
        raise CommandError(
            f"no state store in {dirs.root}: run `soc run` or `soc ingest` first", EXIT_UNAVAILABLE
        )
    return StateStore(dirs.state)


def resolve_id(state: StateStore, given: str) -> str | None:
    """The alert id ``given`` names: itself, or the one id it is a unique prefix of."""
    rows = state.query("SELECT id FROM alerts WHERE id = ?", (given,))
    if rows:
        return str(rows[0]["id"])
    if len(given) < 4:
        return None
    rows = state.query("SELECT id FROM alerts WHERE id >= ? AND id < ? LIMIT 2", (given, given + "\uffff"))
    return str(rows[0]["id"]) if len(rows) == 1 else None


def run_change(args: argparse.Namespace, action: Callable[..., Any]) -> int:
    state = open_state(args)
    results: list[dict[str, Any]] = []
    try:
        service = TriageService(AlertRepository(state))
        who = actor(args)
        for given in dict.fromkeys(args.alert_ids):
            alert_id = resolve_id(state, given)
            if alert_id is None:
                results.append(
                    {"id": given, "ok": False, "code": "not_found", "error": f"no alert {given!r}"}
                )
                continue
            try:
                action(service, who, alert_id, args)
            except TriageError as exc:
                results.append({"id": alert_id, "ok": False, "code": exc.code, "error": str(exc)})
            else:
                results.append({"id": alert_id, "ok": True, "code": None, "error": None})
    finally:
        state.close()
    failed = [r for r in results if not r["ok"]]
    if args.json:
        common.print_json({"results": results, "ok": len(results) - len(failed), "failed": len(failed)})
    else:
        for r in results:
            print(f"{r['id']}: {'ok' if r['ok'] else r['error']}")
    if not failed:
        return EXIT_OK
    if len(results) == 1 and failed[0]["code"] == "not_found":
        return EXIT_NOT_FOUND
    return EXIT_FAILURE


def _ack(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_status(who, alert_id, "acknowledged")


def _start(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_status(who, alert_id, "in_progress", reason=args.reason)


def _assign(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.assign(who, alert_id, None if args.unassign else args.assignee)


def _comment(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.comment(who, alert_id, args.message)


def _close(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_status(who, alert_id, "closed", resolution=args.resolution, reason=args.reason)


def _reopen(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_status(who, alert_id, args.to_status, reason=args.reason)


def _escalate(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_status(who, alert_id, "escalated", reason=args.reason)


def _tag(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_tags(who, alert_id, add=args.add, remove=args.remove)


def _incident_type(service: TriageService, who: Actor, alert_id: str, args: argparse.Namespace) -> None:
    service.set_incident_type(who, alert_id, args.incident_type)


# suppressions -----------------------------------------------------------------------


def create_suppression(args: argparse.Namespace) -> int:
    conditions: dict[str, str] = {}
    for item in args.where:
        field, sep, value = item.partition("=")
        if not sep or not field.strip() or not value.strip():
            raise CommandError(f"--where {item!r}: expected FIELD=VALUE", EXIT_USAGE)
        conditions[field.strip()] = value.strip()
    state = open_state(args)
    try:
        expires = parse_expiry(args.expires) if args.expires else None
        created = SuppressionStore(state).create(
            actor(args), reason=args.reason, rule_id=args.rule, conditions=conditions, expires=expires
        )
    except SuppressionError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    finally:
        state.close()
    if args.json:
        common.print_json(created.to_dict())
    else:
        print(f"suppression {created.id} created / đã tạo loại trừ cảnh báo")
    return EXIT_OK


def list_suppressions(args: argparse.Namespace) -> int:
    state = open_state(args)
    try:
        found = SuppressionStore(state).list(include_inactive=args.all)
    finally:
        state.close()
    if args.json:
        common.print_json({"suppressions": [s.to_dict() for s in found]})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    rows = [
        [
            s.id,
            "active" if s.active else ("removed" if s.removed else "expired"),
            s.rule_id or "*",
            " ".join(f"{k}={v}" for k, v in s.conditions.items()) or "-",
            local_time(s.expires, zone) if s.expires else "never",
            str(s.hits),
            s.creator,
            s.reason[:40],
        ]
        for s in found
    ]
    print(common.table(rows, ["id", "state", "rule", "where", "expires", "hits", "by", "reason"]))
    return EXIT_OK


def remove_suppression(args: argparse.Namespace) -> int:
    state = open_state(args)
    try:
        removed = SuppressionStore(state).remove(actor(args), args.suppression_id)
    finally:
        state.close()
    if removed is None:
        raise CommandError(f"no active suppression {args.suppression_id!r}", EXIT_NOT_FOUND)
    if args.json:
        common.print_json(removed.to_dict())
    else:
        print(f"suppression {removed.id} removed ({removed.hits} matches silenced) / đã gỡ loại trừ")
    return EXIT_OK
