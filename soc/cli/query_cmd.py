"""``soc search`` and ``soc alerts list|show``: read events and alerts."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from soc.cli import common
from soc.cli.access import open_access
from soc.cli.common import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CommandError, add_common, local_time
from soc.event import get_field
from soc.pipeline.engine import DataDir
from soc.query import QuerySyntaxError, parse_since

SEVERITIES = ("informational", "low", "medium", "high", "critical")
STATUSES = ("new", "acknowledged", "in_progress", "escalated", "closed")


def register(commands: Any) -> None:
    search = commands.add_parser(
        "search",
        help="search stored events",
        description='Search stored events. QUERY terms are AND-ed: field:value, field:"a b", field:val*, '
        "-field:value, field:>N, field:(a OR b), _exists_:field, and bare words (a phrase in message). "
        "An empty query ('') matches every event.",
    )
    add_common(search)
    search.add_argument("query", nargs="?", default="", metavar="QUERY")
    search.add_argument("--since", default=None, help="e.g. 15m, 24h, 7d, or an ISO 8601 time")
    search.add_argument("--until", default=None, help="end of the time range (same forms as --since)")
    search.add_argument("--count", action="store_true", help="print only the number of matching events")
    search.add_argument("--size", type=int, default=20, help="events to show (default 20, max 1000)")
    search.set_defaults(handler=search_events)

    alerts = commands.add_parser("alerts", help="list and show alerts")
    sub = alerts.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND", required=True)
    list_ = sub.add_parser("list", help="alerts, newest first", description="List alerts, newest first.")
    add_common(list_)
    list_.add_argument("--status", choices=STATUSES, default=None)
    list_.add_argument("--min-severity", choices=SEVERITIES, default=None)
    list_.add_argument("--limit", type=int, default=50)
    list_.set_defaults(handler=list_alerts)
    show = sub.add_parser(
        "show",
        help="one alert with its evidence events",
        description="Show one alert and its evidence events (exit 4 if unknown).",
    )
    add_common(show)
    show.add_argument("alert_id", metavar="ID")
    show.set_defaults(handler=show_alert)


def _when(text: str | None, flag: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_since(text)
    except (QuerySyntaxError, ValueError) as exc:
        raise CommandError(f"{flag} {text!r}: {exc}", EXIT_USAGE) from exc


def _access(args: argparse.Namespace) -> Any:
    return open_access(DataDir(common.data_dir(args)), common.config(args).settings.store.backend)


def search_events(args: argparse.Namespace) -> int:
    since, until = _when(args.since, "--since"), _when(args.until, "--until")
    if not 1 <= args.size <= 1000:
        raise CommandError("--size must be between 1 and 1000", EXIT_USAGE)
    access = _access(args)
    try:
        if args.count:
            n = access.count(args.query, since, until)
            common.print_json({"count": n}) if args.json else print(n)
            return EXIT_OK
        page = access.search(args.query, since, until, args.size)
    except QuerySyntaxError as exc:
        raise CommandError(f"query: {exc}", EXIT_USAGE) from exc
    finally:
        access.close()
    if args.json:
        common.print_json(page)
        return EXIT_OK
    zone = common.config(args).settings.timezone
    for event in page["events"]:
        host = get_field(event, "host.name") or get_field(event, "observer.ip") or "-"
        print(
            f"{local_time(get_field(event, '@timestamp'), zone)}  {host}  {get_field(event, 'message') or ''}"
        )
    print(f"-- {len(page['events'])} of {page.get('total')} events")
    return EXIT_OK


def list_alerts(args: argparse.Namespace) -> int:
    access = _access(args)
    try:
        alerts = access.alerts(status=args.status, min_severity=args.min_severity, limit=args.limit)
    finally:
        access.close()
    if args.json:
        common.print_json({"alerts": alerts})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    rows = [
        [
            a["id"][:12],
            local_time(a["last_seen"], zone),
            a["severity"],
            a["status"],
            a["rule_title"][:56],
            a.get("host") or "-",
            a.get("user") or "-",
            a.get("source_ip") or "-",
            str(a["count"]),
        ]
        for a in alerts
    ]
    print(
        common.table(
            rows, ["id", "last seen", "severity", "status", "rule", "host", "user", "source ip", "n"]
        )
    )
    return EXIT_OK


def show_alert(args: argparse.Namespace) -> int:
    access = _access(args)
    try:
        alert = access.alert(args.alert_id)
        if alert is None and len(args.alert_id) < 32:
            matches = [
                a
                for a in access.alerts(status=None, min_severity=None, limit=1000)
                if a["id"].startswith(args.alert_id)
            ]
            alert = access.alert(matches[0]["id"]) if len(matches) == 1 else None
    finally:
        access.close()
    if alert is None:
        raise CommandError(f"no alert with id {args.alert_id!r}", EXIT_NOT_FOUND)
    if args.json:
        common.print_json(alert)
        return EXIT_OK
    zone = common.config(args).settings.timezone
    print(f"{alert['rule_title']}  [{alert['severity']}, {alert['status']}]")
    print(f"  id:          {alert['id']}")
    print(f"  rule:        {alert['rule_id']} ({alert['rule_type']}) by {alert.get('rule_author') or '-'}")
    print(
        f"  entities:    host={alert.get('host') or '-'} user={alert.get('user') or '-'} "
        f"source.ip={alert.get('source_ip') or '-'} agency={alert.get('agency_name') or '-'}"
    )
    print(
        f"  seen:        {local_time(alert['first_seen'], zone)} .. {local_time(alert['last_seen'], zone)}"
        f" ({alert['count']} times)"
    )
    print(f"  tags:        {', '.join(alert.get('tags') or []) or '-'}")
    print("  evidence:")
    for event in alert.get("events", []):
        print(f"    {local_time(get_field(event, '@timestamp'), zone)}  {get_field(event, 'message')}")
    return EXIT_OK
