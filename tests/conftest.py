"""Shared fixtures: the datasets folder, free ports, data directories."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def datasets_dir() -> Path:
    return Path(os.environ.get("SOC_DATASETS", REPO.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def datasets() -> Path:
    """The shared datasets (``SOC_DATASETS``); tests skip without them, except in CI
    (``SOC_REQUIRE_DATASETS=1``), where their absence is a failure."""
    path = datasets_dir()
    if not (path / "logs").is_dir():
        if os.environ.get("SOC_REQUIRE_DATASETS"):
            pytest.fail(f"shared datasets required but missing at {path}")
        pytest.skip(f"shared datasets not found at {path} (set SOC_DATASETS)")
    return path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
