"""``soc tokens create|list|revoke``: API tokens, changed directly in the state store.
A new token is printed once; only its hash is kept."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from soc.access import ALL_ROLES
from soc.access.tokens import DEFAULT_EXPIRY_DAYS
from soc.cli.access_cmd import cli_actor, open_access, show, show_records
from soc.cli.common import EXIT_OK, add_common


def register(commands: Any) -> None:
    group = commands.add_parser("tokens", help="API tokens: create, list, revoke / quản lý token API")
    sub = group.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND", required=True)

    create = sub.add_parser(
        "create",
        help="create a token (printed once)",
        description="Create an API token for a user. The token is printed once and stored only as a "
        "hash: keep it now. Use it as 'Authorization: Bearer <token>'.",
    )
    add_common(create)
    create.add_argument("--user", required=True, help="the owner; the token acts as this user")
    create.add_argument("--name", required=True, help="what the token is for (e.g. 'prometheus scraper')")
    create.add_argument(
        "--role", default=None, choices=ALL_ROLES, help="default: the owner's role (or a narrower one)"
    )
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-days", type=int, default=DEFAULT_EXPIRY_DAYS)
    expiry.add_argument("--no-expiry", action="store_true", help="a token that never expires")
    create.set_defaults(handler=create_token)

    list_ = sub.add_parser("list", help="list tokens (never their secrets)", description="List API tokens.")
    add_common(list_)
    list_.add_argument("--user", default=None, help="only this user's tokens")
    list_.add_argument("--include-revoked", action="store_true")
    list_.set_defaults(handler=list_tokens)

    revoke = sub.add_parser("revoke", help="revoke a token", description="Revoke an API token by its id.")
    add_common(revoke)
    revoke.add_argument("token_id", help="the id shown by 'soc tokens list' (soc_<id>_...)")
    revoke.set_defaults(handler=revoke_token)


def create_token(args: argparse.Namespace) -> int:
    with open_access(args) as access:
        record, raw = access.tokens.create(
            args.user,
            args.name,
            cli_actor(),
            role=args.role,
            expires_days=None if args.no_expiry else args.expires_days,
        )
    if args.json:
        show({"token": raw, "record": record.to_dict()}, args, "")
    else:
        print(raw)
        print(
            f"token {record.id} for {record.owner} ({record.role}), expires {record.expires or 'never'}: "
            "shown once, keep it now / token chỉ hiển thị một lần",
            file=sys.stderr,
        )
    return EXIT_OK


def list_tokens(args: argparse.Namespace) -> int:
    with open_access(args) as access:
        tokens = access.tokens.list(args.user, include_revoked=args.include_revoked)
    show_records(
        args,
        "tokens",
        tokens,
        ["ID", "OWNER", "ROLE", "NAME", "EXPIRES", "LAST USED", "REVOKED"],
        lambda t: [t.id, t.owner, t.role, t.name, t.expires or "never", t.last_used or "-", t.revoked or "-"],
    )
    return EXIT_OK


def revoke_token(args: argparse.Namespace) -> int:
    with open_access(args) as access:
        record = access.tokens.revoke(args.token_id, cli_actor())
    show(record.to_dict(), args, f"token {record.id} revoked / đã thu hồi token")
    return EXIT_OK
