"""Turning query parameters into store queries, with 400s that name the parameter."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

from fastapi import HTTPException, status

from soc.query import QuerySyntaxError, parse_query, parse_since
from soc.store.base import Query


class BadParameter(HTTPException):
    """A 400 naming the parameter that was wrong."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(status.HTTP_400_BAD_REQUEST, detail=f"{name}: {message}")


def parse_time_param(name: str, value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_since(value)
    except QuerySyntaxError as exc:
        raise BadParameter(name, exc.message) from None


def build_query(q: str | None, since: str | None, until: str | None) -> Query:
    """The store query of the ``q``/``since``/``until`` parameters."""
    try:
        query = parse_query(q or "")
    except QuerySyntaxError as exc:
        raise BadParameter("q", f"{exc.message} (term {exc.term!r} at position {exc.position})") from None
    start = parse_time_param("since", since)
    end = parse_time_param("until", until)
    if start is not None and end is not None and start >= end:
        raise BadParameter("until", "must be later than since")
    return dataclasses.replace(query, start=start, end=end)


_INTERVAL_RE = re.compile(r"(\d+)([smhdw]?)")
_INTERVAL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(value: str) -> int:
    """``"300"`` or ``"30s"``, ``"5m"``, ``"1h"``, ``"1d"``, ``"1w"`` -> seconds (>= 1)."""
    match = _INTERVAL_RE.fullmatch(value.strip())
    if not match:
        raise BadParameter("interval", f"{value!r} is not seconds or a duration like 1m, 1h, 1d")
    seconds = int(match.group(1)) * _INTERVAL_UNITS[match.group(2)]
    if seconds < 1:
        raise BadParameter("interval", "must be at least 1 second")
    return seconds
