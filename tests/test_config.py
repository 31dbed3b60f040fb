"""The config: shipped defaults are valid, env overrides apply, bad keys are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc.config import ConfigError, default_config_path, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "soc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid_and_resolves_rules() -> None:
    loaded = load_config(default_config_path(), environ={})
    s = loaded.settings
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert s.store.backend == "duckdb"
    assert {i.protocol for i in s.inputs if i.type == "syslog"} == {"udp", "tcp"}
    assert all(loaded.resolve(p).is_dir() for p in s.detection.sigma.paths)


def test_empty_file_gives_documented_defaults(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, ""), environ={}).settings
    assert s.store.retention_days == 365
    assert s.api.port == 8080
    assert s.inputs == []


def test_environment_overrides_keep_types(tmp_path: Path) -> None:
    env = {"SOC__STORE__RETENTION_DAYS": "30", "SOC__API__ENABLED": "false", "SOC__TIMEZONE": "UTC"}
    s = load_config(write(tmp_path, "store: {backend: memory}\n"), environ=env).settings
    assert s.store.retention_days == 30
    assert s.store.backend == "memory"
    assert s.api.enabled is False
    assert s.timezone == "UTC"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("store: {backend: mongo}\n", "store.backend", "'duckdb'"),
        ("inputs:\n  - {type: syslog, name: a, port: 70000}\n", "inputs[0].port", "less than or equal"),
        ("timezone: Mars/Olympus\n", "timezone", "unknown time zone"),
        ("api: {prot: 1}\n", "api.prot", "Extra inputs"),
        ("forwarding: {targets: [{name: n, url: ftp://x}]}\n", "forwarding.targets[0].url", "http"),
        ("inputs:\n  - {type: kafka, name: k}\n", "inputs[0]", "type"),
    ],
)
def test_invalid_config_names_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), environ={})
    keys = [k for k, _ in err.value.problems]
    assert any(k.startswith(key) for k in keys), keys
    assert reason.lower() in str(err.value).lower()


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "store:\n  backend: [duckdb\n"), environ={})
    assert "line" in str(err.value) and "not valid YAML" in str(err.value)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "timezone: !!python/object/apply:os.system ['true']\n"), environ={})
