"""``soc users add|list|disable|enable|passwd``: user accounts of the API and console,
changed directly in the state store (every change is audited)."""

from __future__ import annotations

import argparse
from typing import Any

from soc.access import ALL_ROLES, ROLE_SERVICE
from soc.cli.access_cmd import add_password_stdin, cli_actor, open_access, read_password, show, show_records
from soc.cli.common import EXIT_OK, add_common


def register(commands: Any) -> None:
    group = commands.add_parser("users", help="user accounts: add, list, disable / quản lý người dùng")
    sub = group.add_subparsers(dest="users_command", metavar="SUBCOMMAND", required=True)

    add = sub.add_parser(
        "add",
        help="add a user",
        description="Add a user. The password is asked on the terminal (or read with --password-stdin); "
        "service users have none and act through API tokens. agency_officer users need --agency-id; "
        "auditor users need --organization, which must not be the SOC's own.",
    )
    add_common(add)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ALL_ROLES)
    add.add_argument("--display-name", default="", help="full name shown in the console")
    add.add_argument("--agency-id", default=None, help="the agency of an agency_officer (organization.id)")
    add.add_argument("--organization", default=None, help="the organization of an auditor (L3)")
    add.add_argument(
        "--soc-lead", action="store_true", help="a SOC lead: may approve national reports (soc_analyst)"
    )
    add_password_stdin(add)
    add.set_defaults(handler=add_user)

    list_ = sub.add_parser("list", help="list users", description="List users with role, agency, state.")
    add_common(list_)
    list_.add_argument("--role", default=None, choices=ALL_ROLES)
    list_.set_defaults(handler=list_users)

    for name, helptext, handler in (
        ("disable", "disable a user (sessions end, tokens stop working)", disable_user),
        ("enable", "enable a disabled user", enable_user),
    ):
        cmd = sub.add_parser(name, help=helptext, description=helptext.capitalize() + ".")
        add_common(cmd)
        cmd.add_argument("username")
        cmd.set_defaults(handler=handler)

    passwd = sub.add_parser(
        "passwd", help="set a user's password", description="Set a new password; the user's sessions end."
    )
    add_common(passwd)
    passwd.add_argument("username")
    add_password_stdin(passwd)
    passwd.set_defaults(handler=set_password)


def add_user(args: argparse.Namespace) -> int:
    password = None if args.role == ROLE_SERVICE else read_password(args)
    with open_access(args) as access:
        user = access.users.add(
            args.username,
            args.role,
            cli_actor(),
            password=password,
            display_name=args.display_name,
            agency_id=args.agency_id,
            organization=args.organization,
            soc_lead=args.soc_lead,
        )
    show(user.to_dict(), args, f"user {user.username} added ({user.role}) / đã thêm người dùng")
    return EXIT_OK


def list_users(args: argparse.Namespace) -> int:
    with open_access(args) as access:
        users = access.users.list(role=args.role)
    show_records(
        args,
        "users",
        users,
        ["USERNAME", "ROLE", "AGENCY", "ORGANIZATION", "STATE", "LEAD", "NAME"],
        lambda u: [
            u.username,
            u.role,
            u.agency_id or "-",
            u.organization or "-",
            "disabled" if u.disabled else "active",
            "lead" if u.soc_lead else "",
            u.display_name,
        ],
    )
    return EXIT_OK


def disable_user(args: argparse.Namespace) -> int:
    with open_access(args) as access:
        user = access.users.disable(args.username, cli_actor())
    show(user.to_dict(), args, f"user {user.username} disabled / đã vô hiệu hóa người dùng")
    return EXIT_OK


def enable_user(args: argparse.Namespace) -> int:
    with open_access(args) as access:
        user = access.users.update(args.username, {"disabled": False}, cli_actor())
    show(user.to_dict(), args, f"user {user.username} enabled / đã kích hoạt người dùng")
    return EXIT_OK


def set_password(args: argparse.Namespace) -> int:
    password = read_password(args)
    with open_access(args) as access:
        user = access.users.set_password(args.username, password, cli_actor())
    show(user.to_dict(), args, f"password of {user.username} changed / đã đổi mật khẩu")
    return EXIT_OK
