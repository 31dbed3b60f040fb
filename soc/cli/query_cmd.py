"""``soc search`` and ``soc alerts list|show``: read events and alerts."""

from __future__ import annotations

import argparse
from typing import Any

from soc.alerts.classify import INCIDENT_TYPES, incident_type_label
from soc.alerts.queue import SORTS
from soc.cli import common, triage_cmd
from soc.cli.access import open_access
from soc.cli.common import (
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_common,
    local_time,
    time_flag,
)
from soc.event import get_field
from soc.pipeline.engine import DataDir
from soc.query import QuerySyntaxError

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

    alerts = commands.add_parser("alerts", help="list, show and triage alerts; suppressions")
    sub = alerts.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND", required=True)
    list_ = sub.add_parser(
        "list",
        help="the alert queue (newest first, or --sort risk|severity)",
        description="List alerts: filtered, sorted (descending), first --limit.",
    )
    add_common(list_)
    list_.add_argument(
        "--status", default=None, help=f"one or more of {', '.join(STATUSES)}, comma-separated"
    )
    list_.add_argument("--min-severity", choices=SEVERITIES, default=None)
    list_.add_argument("--min-risk", type=int, default=None, help="0..100")
    list_.add_argument("--agency", default=None, help="agency id")
    list_.add_argument("--assignee", default=None, help="a user, or - for unassigned")
    list_.add_argument("--incident-type", choices=tuple(INCIDENT_TYPES), default=None)
    list_.add_argument("--system", default=None, help="information system name")
    list_.add_argument("--tag", default=None, help="an analyst tag")
    list_.add_argument("--since", default=None, help="last seen after: 15m, 24h, 7d or ISO 8601")
    list_.add_argument("--sort", choices=tuple(SORTS), default="last_seen")
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
    triage_cmd.register(sub)


def _access(args: argparse.Namespace) -> Any:
    return open_access(DataDir(common.data_dir(args)), common.config(args).settings.store.backend)


def search_events(args: argparse.Namespace) -> int:
    since, until = time_flag(args.since, "--since"), time_flag(args.until, "--until")
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
    for name in (args.status or "").split(","):
        if name.strip() and name.strip() not in STATUSES:
            raise CommandError(f"--status {name.strip()!r}: not one of {', '.join(STATUSES)}", EXIT_USAGE)
    if args.min_risk is not None and not 0 <= args.min_risk <= 100:
        raise CommandError("--min-risk must be between 0 and 100", EXIT_USAGE)
    if not 1 <= args.limit <= 500:
        raise CommandError("--limit must be between 1 and 500", EXIT_USAGE)
    filters = {
        "min_risk": args.min_risk,
        "agency_id": args.agency,
        "assignee": args.assignee,
        "incident_type": args.incident_type,
        "system": args.system,
        "analyst_tag": args.tag,
        "since": time_flag(args.since, "--since"),
    }
    access = _access(args)
    try:
        alerts = access.alerts(
            status=args.status,
            min_severity=args.min_severity,
            limit=args.limit,
            sort=args.sort,
            **{k: v for k, v in filters.items() if v is not None},
        )
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
            str(a.get("risk_score", 0)),
            a["status"],
            a["rule_title"][:48],
            a.get("agency_id") or "-",
            a.get("host") or "-",
            a.get("source_ip") or "-",
            a.get("assignee") or "-",
            str(a["count"]),
        ]
        for a in alerts
    ]
    print(
        common.table(
            rows,
            [
                "id",
                "last seen",
                "severity",
                "risk",
                "status",
                "rule",
                "agency",
                "host",
                "source ip",
                "assignee",
                "n",
            ],
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
                for a in access.alerts(status=None, min_severity=None, limit=500)
                if a["id"].startswith(args.alert_id)
            ]
            alert = access.alert(matches[0]["id"]) if len(matches) == 1 else None
        if alert is not None:
            alert["comments"] = access.comments(alert["id"])
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
    print(
        f"  risk:        {alert.get('risk_score', 0)}/100"
        f"  security level: {alert.get('security_level') or '-'}"
        f"  criticality: {alert.get('criticality') or '-'}  system: {alert.get('system') or '-'}"
    )
    overridden = " (set by analyst / do phân tích viên đặt)" if alert.get("incident_type_overridden") else ""
    kind = alert.get("incident_type") or "other"
    print(f"  incident:    {kind}: {incident_type_label(kind)}{overridden}")
    print(
        f"  ATT&CK:      {', '.join(alert.get('mitre_tactics') or []) or '-'}; "
        f"{', '.join(alert.get('mitre_techniques') or []) or '-'}"
    )
    for kind, values in (alert.get("entities") or {}).items():
        print(f"  {kind + ':':<12} {', '.join(values)}")
    print(
        f"  triage:      assignee={alert.get('assignee') or '-'} resolution={alert.get('resolution') or '-'} "
        f"analyst tags={', '.join(alert.get('analyst_tags') or []) or '-'}"
    )
    comments = alert.get("comments") or []
    if comments:
        print("  comments / bình luận:")
        for c in comments:
            marker = " [status]" if c.get("kind") == "status" else ""
            print(f"    {local_time(c['created'], zone)}  {c['author']}{marker}: {c['body']}")
    print("  evidence:")
    for event in alert.get("events", []):
        print(f"    {local_time(get_field(event, '@timestamp'), zone)}  {get_field(event, 'message')}")
    return EXIT_OK
