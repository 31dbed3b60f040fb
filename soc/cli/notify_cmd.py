"""``soc notify test|list``: try a notification channel; the notification queue."""

from __future__ import annotations

import argparse
from typing import Any

from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CommandError, add_common, local_time
from soc.forwarding import DeliveryError
from soc.metrics import Metrics
from soc.notify.builder import build_notifications
from soc.notify.queue import STATUSES, NotificationQueue
from soc.pipeline.engine import DataDir
from soc.state import StateStore, read_existing


def register(commands: Any) -> None:
    group = commands.add_parser("notify", help="notifications (L1 agency teams, L2 SOC): test, list")
    sub = group.add_subparsers(dest="notify_command", metavar="SUBCOMMAND", required=True)
    test = sub.add_parser(
        "test",
        help="send a test notification through a configured channel",
        description="Send a test message now (not through the queue) with the configured channel: "
        "SMTP with STARTTLS for email, a signed POST for a webhook. Exit 0 when the server accepted "
        "it, 1 when delivery failed, 2 when the channel or recipient is not configured.",
    )
    add_common(test)
    test.add_argument("--channel", required=True, choices=("email", "webhook"))
    test.add_argument(
        "--to",
        default=None,
        help="e-mail address or webhook name (default: the first of routing.soc, or the first webhook)",
    )
    test.set_defaults(handler=send_test)
    list_ = sub.add_parser(
        "list",
        help="the notification queue, newest first",
        description="List queued notifications: channel, recipient, alert, status, attempts, last error.",
    )
    add_common(list_)
    list_.add_argument("--status", choices=STATUSES, default=None)
    list_.add_argument("--alert", default=None, help="only notifications of this alert id")
    list_.add_argument("--limit", type=int, default=100)
    list_.set_defaults(handler=list_queue)


def _default_recipient(settings: Any, channel: str) -> str | None:
    if channel == "email":
        return next(iter(settings.routing.soc.emails), None)
    names = list(settings.routing.soc.webhooks) or [w.name for w in settings.notifications.webhooks]
    return names[0] if names else None


def send_test(args: argparse.Namespace) -> int:
    loaded = common.config(args)
    settings = loaded.settings
    recipient = args.to or _default_recipient(settings, args.channel)
    if recipient is None:
        raise CommandError(f"no recipient: pass --to (channel {args.channel})", EXIT_USAGE)
    dirs = DataDir(common.data_dir(args))
    state = StateStore(dirs.state)
    try:
        try:
            service = build_notifications(settings, state, Metrics(), resolve=loaded.resolve)
        except (ValueError, FileNotFoundError) as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc
        if service is None:
            raise CommandError("notifications are off (notifications.enabled: false)", EXIT_USAGE)
        try:
            message = service.send_test(args.channel, recipient)
        except KeyError as exc:
            raise CommandError(str(exc.args[0]), EXIT_USAGE) from exc
        except DeliveryError as exc:
            if args.json:
                common.print_json(
                    {"sent": False, "channel": args.channel, "to": recipient, "error": str(exc)}
                )
            raise CommandError(f"{args.channel} to {recipient} failed: {exc}", EXIT_FAILURE) from exc
    finally:
        state.close()
    if args.json:
        common.print_json(
            {"sent": True, "channel": args.channel, "to": recipient, "subject": message.subject}
        )
    else:
        print(f"test notification sent by {args.channel} to {recipient} / đã gửi thông báo thử")
    return EXIT_OK


def list_queue(args: argparse.Namespace) -> int:
    dirs = DataDir(common.data_dir(args))
    items = read_existing(
        dirs.state, lambda state: NotificationQueue(state).list(args.status, args.limit, alert_id=args.alert)
    )
    if args.json:
        common.print_json({"notifications": [n.to_dict() for n in items]})
        return EXIT_OK
    zone = common.config(args).settings.timezone
    for n in items:
        error = f"  ({n.last_error})" if n.last_error else ""
        print(
            f"{n.id:>6}  {local_time(n.created, zone)}  {n.status:<8} {n.layer} {n.channel}:{n.recipient}  "
            f"alert {n.alert_id}  attempts {n.attempts}{error}\n        {n.subject}"
        )
    print(f"-- {len(items)} notifications")
    return EXIT_OK
