"""What ``soc users`` and ``soc tokens`` share: the access store of a data directory
(opened directly: SQLite WAL is safe beside a running engine), the CLI's audit actor,
and access errors as exit codes."""

from __future__ import annotations

import argparse
import getpass
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from soc.access import AccessControl, Conflict, InvalidRequest, NotFound, Principal
from soc.access.errors import AccessError
from soc.cli import common
from soc.cli.common import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_UNAVAILABLE, EXIT_USAGE, CommandError
from soc.pipeline.engine import DataDir
from soc.state import StateStore


def cli_actor() -> Principal:
    """Who a CLI change is recorded as: the operating-system user, acting as admin
    (whoever can write the data directory owns the engine)."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Principal(name=f"cli:{name}", role="admin", source="local")


@contextmanager
def open_access(args: argparse.Namespace) -> Iterator[AccessControl]:
    settings = common.config(args).settings.access
    dirs = DataDir(common.data_dir(args))
    try:
        state = StateStore(dirs.state)
    except sqlite3.Error as exc:
        raise CommandError(f"cannot open the state store {dirs.state}: {exc}", EXIT_UNAVAILABLE) from exc
    try:
        yield AccessControl(state, settings)
    except NotFound as exc:
        raise CommandError(str(exc), EXIT_NOT_FOUND) from exc
    except InvalidRequest as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    except (Conflict, AccessError) as exc:
        raise CommandError(str(exc), EXIT_FAILURE) from exc
    except sqlite3.OperationalError as exc:
        raise CommandError(f"state store unavailable: {exc}", EXIT_UNAVAILABLE) from exc
    finally:
        state.close()


def read_password(args: argparse.Namespace, prompt: Callable[[str], str] = getpass.getpass) -> str:
    """The password from stdin (``--password-stdin``: its first line) or asked twice on
    the terminal; never from the command line, where ``ps`` and shell history see it."""
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CommandError("--password-stdin: no password on standard input", EXIT_USAGE)
        return password
    if not sys.stdin.isatty():
        raise CommandError("no terminal to ask the password on: pipe it with --password-stdin", EXIT_USAGE)
    first = prompt("Password / Mật khẩu: ")
    if prompt("Again / Nhập lại: ") != first:
        raise CommandError("the two passwords differ / hai mật khẩu không khớp", EXIT_USAGE)
    return first


def add_password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (default: ask on the terminal)",
    )


def show(value: Any, args: argparse.Namespace, text: str) -> None:
    if args.json:
        common.print_json(value)
    else:
        print(text)


def show_records(
    args: argparse.Namespace,
    key: str,
    records: Sequence[Any],
    headers: list[str],
    row: Callable[[Any], list[str]],
) -> None:
    """Records (with ``to_dict``) as ``{key: [...]}`` JSON with ``--json``, else a table."""
    if args.json:
        show({key: [r.to_dict() for r in records]}, args, "")
    else:
        print(common.table([row(r) for r in records], headers))
