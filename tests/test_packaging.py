"""`pip install .` gives a working `soc` command: the installed package finds its
shipped config, Sigma mappings and rules outside the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_installed_package_runs_demo_outside_the_checkout(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies come from the test environment; only our package is installed
    Path(site, "soc-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", str(REPO)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert (venv / "share" / "soc" / "configs" / "soc.yaml").is_file()
    assert (venv / "share" / "soc" / "configs" / "sigma.yaml").is_file()
    shipped = {p.relative_to(venv / "share" / "soc") for p in (venv / "share" / "soc").rglob("*.y*ml")}
    in_repo = {p.relative_to(REPO) for d in ("rules", "configs") for p in (REPO / d).rglob("*.y*ml")}
    assert in_repo <= shipped, f"not installed: {sorted(map(str, in_repo - shipped))}"
    templates = {p.name for p in (venv / "share" / "soc" / "configs" / "templates").glob("*.j2")}
    assert {p.name for p in (REPO / "configs" / "templates").glob("*.j2")} <= templates, templates

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOC", "PYTHON"))}
    env["SOC_DATA_DIR"] = str(tmp_path / "data")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import soc; print(soc.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert str(venv) in where.stdout, "the installed copy must be the one imported"
    check = subprocess.run(
        [str(venv / "bin" / "soc"), "config", "check", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    demo = subprocess.run(
        [str(venv / "bin" / "soc"), "demo", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert demo.returncode == 0, demo.stderr
    alerts = json.loads(demo.stdout)["alerts"]
    assert any("brute" in a["rule_title"].lower() for a in alerts), alerts
