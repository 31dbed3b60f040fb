"""Running the real `soc` command in tests: configs, subprocesses, the API."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from soc.demo import bulk_auth_lines as auth_lines  # noqa: F401 - re-exported for tests

REPO = Path(__file__).resolve().parents[1]


def soc_command() -> list[str]:
    return [sys.executable, "-m", "soc.cli.main"]


def write_config(path: Path, **sections: Any) -> Path:
    """A config file with the repo's rules (absolute path) and the given sections."""
    config: dict[str, Any] = {
        "timezone": "Asia/Ho_Chi_Minh",
        "spool": {"fsync_interval_ms": 200},
        "store": {"backend": "duckdb", "checkpoint_interval_s": 5},
        "inputs": [],
        "detection": {
            "sigma": {"paths": [str(REPO / "rules")], "mappings": str(REPO / "configs" / "sigma.yaml")}
        },
        "api": {"host": "127.0.0.1", "port": 0},
    }
    config.update(sections)
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def env_for(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC__")}
    env["SOC_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SOC_API_TOKEN", None)
    return env


def run_soc(
    args: list[str], data_dir: Path, *, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*soc_command(), *args],
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"soc {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


class EngineProcess:
    """`soc run` as a subprocess; its API URL comes from the data directory."""

    def __init__(self, config: Path, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.log = open(data_dir.parent / f"engine-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*soc_command(), "run", "--config", str(config), *extra],
            env=env_for(data_dir),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        self.api_url = self._wait_api()
        self.token = (data_dir / "api.token").read_text().strip()

    def _wait_api(self, timeout: float = 60) -> str:
        info = self.data_dir / "engine.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"soc run exited {self.proc.returncode}:\n{self.output()}")
            if info.exists():
                try:
                    data = json.loads(info.read_text())
                except ValueError:
                    data = {}
                if data.get("pid") == self.proc.pid and data.get("api_url"):
                    return str(data["api_url"])
            time.sleep(0.05)
        raise AssertionError(f"soc run did not serve its API in {timeout}s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.api_url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            body = resp.read()
            return (
                json.loads(body) if resp.headers.get_content_type() == "application/json" else body.decode()
            )

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.api_url + "/healthz", timeout=10) as resp:
            return json.loads(resp.read())

    def inputs(self) -> dict[str, int]:
        return {i["name"]: i.get("port") for i in self.health()["inputs"]}

    def count(self, q: str = "") -> int:
        return int(self.get("/api/v1/events/count?q=" + urllib.request.quote(q))["count"])

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return int(self.proc.returncode)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (urllib.error.URLError, ConnectionError) as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
