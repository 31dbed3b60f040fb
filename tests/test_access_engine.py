"""Users and tokens made with the CLI while `soc run` serves its API: a login over
HTTP gets a session cookie, a CLI-made token authenticates at once, and the engine's
own token stays the admin bootstrap credential."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers_access import PASSWORD
from tests.helpers_engine import REPO, EngineProcess, env_for, soc_command, write_config


def call(url: str, *, headers: dict[str, str], body: Any = None) -> tuple[int, Any, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, json.loads(resp.read()), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read()), exc.headers


def soc(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*soc_command(), *args],
        env=env_for(data_dir),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_cli_users_and_tokens_with_a_running_engine(tmp_path: Path, data_dir: Path) -> None:
    engine = EngineProcess(write_config(tmp_path / "soc.yaml"), data_dir)
    try:
        added = soc(
            data_dir,
            *("users", "add", "lan.nguyen", "--role", "soc_analyst", "--password-stdin"),
            stdin=PASSWORD + "\n",
        )
        assert added.returncode == 0, added.stderr
        status, body, headers = call(
            engine.api_url + "/api/v1/auth/login",
            headers={},
            body={"username": "lan.nguyen", "password": PASSWORD},
        )
        assert status == 200 and body["user"]["role"] == "soc_analyst"
        cookie = headers["Set-Cookie"].split(";")[0]
        assert cookie.startswith("soc_session=")
        status, me, _ = call(engine.api_url + "/api/v1/auth/me", headers={"Cookie": cookie})
        assert status == 200 and me["name"] == "lan.nguyen" and me["source"] == "127.0.0.1"

        made = soc(data_dir, "tokens", "create", "--user", "lan.nguyen", "--name", "laptop")
        assert made.returncode == 0, made.stderr
        token = {"Authorization": f"Bearer {made.stdout.strip()}"}
        assert call(engine.api_url + "/api/v1/alerts", headers=token)[0] == 200
        assert call(engine.api_url + "/api/v1/users", headers=token)[0] == 403

        engine_token = {"Authorization": f"Bearer {engine.token}"}
        status, users, _ = call(engine.api_url + "/api/v1/users", headers=engine_token)
        assert status == 200 and [u["username"] for u in users["users"]] == ["lan.nguyen"]
        status, entries, _ = call(engine.api_url + "/api/v1/audit", headers=engine_token)
        assert [e["action"] for e in entries["entries"]] == ["user.add", "auth.login", "token.create"]
        metrics = urllib.request.urlopen(engine.api_url + "/metrics", timeout=10).read().decode()
        assert 'soc_login_attempts_total{outcome="success"} 1.0' in metrics
    finally:
        assert engine.stop() == 0, engine.output()
