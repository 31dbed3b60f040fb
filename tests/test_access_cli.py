"""``soc users`` and ``soc tokens`` on a data directory: passwords from stdin only,
the token printed once, exit codes, --json, and every change in the audit log."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from soc.access import AccessControl
from soc.cli.main import main
from soc.config import AccessConfig
from soc.pipeline.engine import DataDir
from soc.state import StateStore
from tests.helpers_access import PASSWORD


def soc(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    *args: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main([*args, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_users_and_tokens_commands(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    code, out, _ = soc(
        capsys,
        monkeypatch,
        data_dir,
        "users", "add", "lan.nguyen", "--role", "soc_analyst", "--display-name", "Nguyễn Lan",
        "--password-stdin", "--json",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 0 and orjson.loads(out)["username"] == "lan.nguyen"
    # no terminal and no --password-stdin: refused, never read from the arguments
    code, _, err = soc(capsys, monkeypatch, data_dir, "users", "add", "x.y", "--role", "responder")
    assert code == 2 and "--password-stdin" in err
    with pytest.raises(SystemExit) as info:
        main(["users", "add", "x.y", "--role", "responder", "--password", PASSWORD])
    assert info.value.code == 2
    code, _, err = soc(
        capsys, monkeypatch, data_dir,
        "users", "add", "kt", "--role", "auditor", "--organization", "soc-province", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 2 and "auditor (L3)" in err
    code, _, err = soc(
        capsys, monkeypatch, data_dir, "users", "add", "lan.nguyen", "--role", "soc_analyst",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 1 and "exists" in err
    assert soc(capsys, monkeypatch, data_dir, "users", "add", "scraper", "--role", "service")[0] == 0

    code, out, err = soc(
        capsys, monkeypatch, data_dir, "tokens", "create", "--user", "scraper", "--name", "p"
    )
    raw = out.strip()
    assert code == 0 and raw.startswith("soc_") and "shown once" in err
    code, out, _ = soc(capsys, monkeypatch, data_dir, "tokens", "list", "--json")
    tokens = orjson.loads(out)["tokens"]
    assert code == 0 and len(tokens) == 1 and raw not in out and tokens[0]["role"] == "service"
    code, out, _ = soc(capsys, monkeypatch, data_dir, "users", "list")
    assert code == 0 and "lan.nguyen" in out and "scraper" in out and PASSWORD not in out

    # the token works against the same state store, until revoked
    state = StateStore(DataDir(data_dir).state)
    access = AccessControl(state, AccessConfig())
    assert access.principal_from_token(raw, "x") is not None
    assert soc(capsys, monkeypatch, data_dir, "tokens", "revoke", tokens[0]["id"])[0] == 0
    assert access.principal_from_token(raw, "x") is None
    assert soc(capsys, monkeypatch, data_dir, "tokens", "revoke", "000000000000")[0] == 4
    assert soc(capsys, monkeypatch, data_dir, "users", "disable", "lan.nguyen")[0] == 0
    assert soc(capsys, monkeypatch, data_dir, "users", "disable", "nobody")[0] == 4
    assert access.users.require("lan.nguyen").disabled

    actions = [(e.actor.startswith("cli:"), e.action) for e in access.audit.entries()]
    assert actions == [
        (True, "user.add"),
        (True, "user.add"),
        (True, "token.create"),
        (True, "token.revoke"),
        (True, "user.disable"),
    ]
    assert access.audit.verify().ok
    state.close()
    code, out, _ = soc(capsys, monkeypatch, data_dir, "audit", "verify", "--json")
    assert code == 0 and orjson.loads(out)["entries"] == 5


@pytest.mark.parametrize(
    "command",
    [
        ["users", "add"],
        ["users", "list"],
        ["users", "disable"],
        ["users", "enable"],
        ["users", "passwd"],
        ["tokens", "create"],
        ["tokens", "list"],
        ["tokens", "revoke"],
    ],
)
def test_every_access_command_has_help_and_json(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    out = capsys.readouterr().out
    assert info.value.code == 0 and "usage: soc" in out and "--json" in out
