"""Small helpers shared by the firewall/SIEM parsers (``cisco_asa``, ``checkpoint``,
``cef``, ``leef``): a linear-time dissect matcher, IP and number coercion, the
``related.*`` bookkeeping, timestamp helpers and the optional syslog envelope.

Nothing here uses a backtracking regular expression: every matcher walks the text
left to right with ``str.find``, so its cost is linear in the line length per pattern.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from soc.event import Event, format_ts

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
MONTHS = _MONTHS
"""Month abbreviations to numbers."""

TZ_ABBREVIATIONS: dict[str, timedelta] = {
    "UTC": timedelta(0),
    "GMT": timedelta(0),
    "Z": timedelta(0),
    "EST": timedelta(hours=-5),
    "EDT": timedelta(hours=-4),
    "CST": timedelta(hours=-6),
    "CDT": timedelta(hours=-5),
    "MST": timedelta(hours=-7),
    "MDT": timedelta(hours=-6),
    "PST": timedelta(hours=-8),
    "PDT": timedelta(hours=-7),
    "AST": timedelta(hours=-4),
    "ADT": timedelta(hours=-3),
    "CET": timedelta(hours=1),
    "CEST": timedelta(hours=2),
    "ICT": timedelta(hours=7),
}
"""Zone abbreviations that devices print after a time, as fixed offsets."""


class Dissect:
    """A compiled Elasticsearch-``dissect``-style pattern: ``"{a} from {b}/{c}"``.

    ``{name}`` captures up to the next literal; ``{}`` or ``{-}`` captures and drops;
    the last key takes the rest of the text. Matching is leftmost, one ``find`` per
    key, so linear in the text. ``match`` returns the captures or ``None``.
    """

    __slots__ = ("parts", "pattern", "prefix")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        pieces: list[tuple[str, str]] = []  # (key, literal after it)
        pos = pattern.find("{")
        self.prefix = pattern if pos < 0 else pattern[:pos]
        while pos >= 0:
            end = pattern.index("}", pos)
            key = pattern[pos + 1 : end]
            nxt = pattern.find("{", end)
            literal = pattern[end + 1 : nxt if nxt >= 0 else len(pattern)]
            if nxt >= 0 and not literal:
                raise ValueError(f"dissect pattern {pattern!r}: two keys with no literal between them")
            pieces.append((key, literal))
            pos = nxt
        self.parts = tuple(pieces)

    def match(self, text: str) -> dict[str, str] | None:
        if not text.startswith(self.prefix):
            return None
        pos = len(self.prefix)
        out: dict[str, str] = {}
        last = len(self.parts) - 1
        for i, (key, literal) in enumerate(self.parts):
            if i == last and not literal:
                value = text[pos:]
                pos = len(text)
            else:
                idx = text.find(literal, pos)
                if idx < 0:
                    return None
                value = text[pos:idx]
                pos = idx + len(literal)
            if key and key != "-":
                out[key] = value
        return out


@lru_cache(maxsize=65536)
def ip_or_none(text: str | None) -> str | None:
    """``text`` as a normalised IP address, or ``None`` when it is not one."""
    if not text or len(text) > 45:
        return None
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


def int_or_none(text: Any) -> int | None:
    """Leading decimal digits of ``text`` (``"443)"`` -> 443), or ``None``."""
    if isinstance(text, int):
        return text
    if not text:
        return None
    text = str(text).strip()
    neg = text.startswith("-")
    if neg:
        text = text[1:]
    n = 0
    while n < len(text) and "0" <= text[n] <= "9":
        n += 1
    if n == 0 or n > 19:
        return None
    value = int(text[:n])
    return -value if neg else value


def float_or_none(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def add_related(event: Event, kind: str, value: Any) -> None:
    """Append ``value`` to ``related.<kind>`` once (``ip``, ``user``, ``hosts``, ``hash``)."""
    if value is None or value == "":
        return
    related = event.setdefault("related", {})
    values = related.setdefault(kind, [])
    if value not in values:
        values.append(value)


# Dotted path -> (its parents, its leaf): parsers write the same few hundred paths.
_PATHS: dict[str, tuple[tuple[str, ...], str]] = {}


def _split_path(path: str) -> tuple[tuple[str, ...], str]:
    split = _PATHS.get(path)
    if split is None:
        parts = path.split(".")
        split = (tuple(parts[:-1]), parts[-1])
        if len(_PATHS) < 4096:  # paths are code constants; bound it against data-made ones
            _PATHS[path] = split
    return split


def put(node: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in a nested dict, skipping ``None`` and empty strings."""
    if value is None or value == "":
        return
    parents, leaf = _split_path(path)
    for part in parents:
        child = node.get(part)
        if child.__class__ is not dict and not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


def epoch_to_ts(text: str) -> str | None:
    """Epoch seconds (or milliseconds when 13+ digits) to ECS timestamp text."""
    value = float_or_none(text)
    if value is None:
        return None
    if abs(value) >= 1e11:
        value /= 1000.0
    try:
        return format_ts(datetime.fromtimestamp(value, UTC))
    except (OverflowError, OSError, ValueError):
        return None


def infer_year(month: int, day: int, hh: int, mm: int, ss: int, tz: tzinfo, reference: datetime) -> datetime:
    """A year-less local time placed in the year of ``reference`` (or the one before,
    when it would otherwise be more than a day in the future). Raises ``ValueError``."""
    year = reference.year
    for candidate in (year, year - 1, year - 2, year - 3, year - 4):
        try:
            ts = datetime(candidate, month, day, hh, mm, ss, tzinfo=tz).astimezone(UTC)
        except ValueError:
            continue
        if ts - reference <= timedelta(days=1):
            return ts
    raise ValueError(f"no valid date for month {month} day {day}")
