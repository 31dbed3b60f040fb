"""Reading and checking one rule's YAML keys, collecting every error with file, line and key.

:class:`Params` wraps the mapping of one rule document. Each accessor checks one key and
returns its value, or records a :class:`RuleError` (file, line, key, reason) and returns
``None``, so one pass reports every bad key of a rule, not only the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

DURATION_UNITS = ("weeks", "days", "hours", "minutes", "seconds", "milliseconds")


@dataclass(frozen=True, slots=True)
class RuleError:
    """Why a rule (or a whole file) cannot be used: file, line, key and reason."""

    path: str
    key: str | None
    reason: str
    line: int | None = None
    rule: str | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        key = f" {self.key}:" if self.key else ""
        return f"{where}:{key} {self.reason}"


class RuleParamError(ValueError):
    """Raised inside a rule type's checks; turned into a :class:`RuleError` for ``key``."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def parse_duration(value: Any, key: str) -> timedelta:
    """``{minutes: 5}`` (ElastAlert's form, any of :data:`DURATION_UNITS`) as a timedelta."""
    if not isinstance(value, Mapping) or not value:
        raise RuleParamError(
            key, f"must be a mapping of {'/'.join(DURATION_UNITS)} to numbers, e.g. {{minutes: 5}}"
        )
    unknown = [k for k in value if k not in DURATION_UNITS]
    if unknown:
        raise RuleParamError(key, f"unknown time unit {unknown[0]!r} (use {', '.join(DURATION_UNITS)})")
    parts: dict[str, float] = {}
    for unit, n in value.items():
        if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0:
            raise RuleParamError(key, f"{unit} must be a non-negative number, not {n!r}")
        parts[str(unit)] = float(n)
    return timedelta(**parts)


class Params:
    """The keys of one rule document, read with checks; errors are collected."""

    def __init__(self, doc: Mapping[str, Any], path: str, lines: Mapping[str, int] | None = None) -> None:
        self.doc = doc
        self.path = path
        self.lines = dict(lines or {})
        self.errors: list[RuleError] = []
        self.used: set[str] = set()

    def error(self, key: str | None, reason: str) -> None:
        top = key.split(".")[0] if key else None
        line = self.lines.get(top) if top else None
        name = self.doc.get("name") if isinstance(self.doc.get("name"), str) else None
        self.errors.append(RuleError(self.path, key, reason, line, name))

    def has(self, key: str) -> bool:
        return key in self.doc and self.doc[key] is not None

    def raw(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        value = self.doc.get(key)
        return default if value is None else value

    def _get(self, key: str, required: bool) -> Any:
        self.used.add(key)
        value = self.doc.get(key)
        if value is None and required:
            self.error(key, "is required for this rule type")
        return value

    def text(self, key: str, *, required: bool = False, default: str = "") -> str:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            self.error(key, f"must be a string, not {type(value).__name__}")
            return default
        return str(value)

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key, False)
        if value is None:
            return default
        if value not in choices:
            self.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return str(value)

    def integer(
        self, key: str, *, required: bool = False, default: int | None = None, minimum: int = 0
    ) -> int | None:
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.error(key, f"must be an integer >= {minimum}, not {value!r}")
            return default
        return value

    def number(self, key: str, *, required: bool = False, default: float | None = None) -> float | None:
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(key, f"must be a number, not {value!r}")
            return default
        return float(value)

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(key, f"must be true or false, not {value!r}")
            return default
        return value

    def duration(
        self, key: str, *, required: bool = False, default: timedelta | None = None
    ) -> timedelta | None:
        value = self._get(key, required)
        if value is None:
            return default
        try:
            return parse_duration(value, key)
        except RuleParamError as e:
            self.error(key, e.reason)
            return default

    def fields(self, key: str, *, required: bool = False, alias: str | None = None) -> tuple[str, ...]:
        """One field name or a list of them."""
        value = self._get(key, False)
        if value is None and alias is not None:
            value = self._get(alias, False)
            key = alias if value is not None else key
        if value is None:
            if required:
                self.error(key, "is required for this rule type")
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(f, str) and f for f in items):
            self.error(key, "must be a field name or a non-empty list of field names")
            return ()
        return tuple(items)

    def unknown_keys(self, known: set[str]) -> None:
        for key in self.doc:
            if key not in known:
                self.error(
                    str(key), "unknown key (check the spelling; see docs/ARCHITECTURE.md, stateful rules)"
                )
