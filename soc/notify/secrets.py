"""Secrets of the channels (SMTP password, webhook HMAC keys): from an environment
variable or a file, never from the config itself, never logged."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path


def read_secret(
    what: str,
    *,
    env_name: str | None,
    file_path: str | None,
    environ: Mapping[str, str] | None = None,
    resolve: Callable[[str], Path] = Path,
) -> str | None:
    """The secret from ``file_path`` (first line, stripped) or the variable ``env_name``;
    ``None`` when neither is configured. Raises ``ValueError`` naming what is missing
    (but never the value)."""
    if file_path:
        path = resolve(file_path)
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"{what}: cannot read secret file {path}: {exc.strerror}") from exc
        if not value:
            raise ValueError(f"{what}: secret file {path} is empty")
        return value
    if env_name:
        env = os.environ if environ is None else environ
        value = env.get(env_name, "")
        if not value:
            raise ValueError(f"{what}: environment variable {env_name} is not set")
        return value
    return None
