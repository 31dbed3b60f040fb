"""The alert queue: filters, sort orders and cursors as SQL over the ``alerts`` table.

Sort orders (all descending, ties broken by id so pages are stable):

* ``last_seen``: newest first (the default),
* ``risk``: highest risk score first, then newest,
* ``severity``: most severe first, then newest.

A cursor is the sort key of the last alert of a page (base64 JSON); the next page
starts strictly after it, so inserts and updates between pages never repeat an alert
on the same sort key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from detectors.base import severity_rank
from soc.event import format_ts

SORTS: dict[str, tuple[str, ...]] = {
    "last_seen": ("last_seen", "id"),
    "risk": ("risk_score", "last_seen", "id"),
    "severity": ("severity_rank", "last_seen", "id"),
}
UNASSIGNED = "-"
"""``AlertFilter.assignee`` value selecting alerts nobody is assigned to."""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list; every given field must hold (AND).

    ``status`` may name several statuses separated by commas (``new,acknowledged``);
    ``assignee`` ``"-"`` selects unassigned alerts; ``analyst_tag`` one tag an analyst set.
    """

    status: str | None = None
    min_severity: str | None = None
    rule_id: str | None = None
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    agency_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    assignee: str | None = None
    incident_type: str | None = None
    min_risk: int | None = None
    min_security_level: int | None = None
    system: str | None = None
    analyst_tag: str | None = None


def where_clause(flt: AlertFilter) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if flt.status:
        statuses = [s.strip() for s in flt.status.split(",") if s.strip()]
        where.append(f"status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    for column in ("rule_id", "host", "user", "source_ip", "agency_id", "incident_type", "system"):
        value = getattr(flt, column)
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if flt.assignee == UNASSIGNED:
        where.append("assignee IS NULL")
    elif flt.assignee is not None:
        where.append("assignee = ?")
        params.append(flt.assignee)
    if flt.min_severity is not None:
        where.append("severity_rank >= ?")
        params.append(severity_rank(flt.min_severity))
    if flt.min_risk is not None:
        where.append("risk_score >= ?")
        params.append(flt.min_risk)
    if flt.min_security_level is not None:
        where.append("security_level >= ?")
        params.append(flt.min_security_level)
    if flt.since is not None:
        where.append("last_seen >= ?")
        params.append(format_ts(flt.since))
    if flt.until is not None:
        where.append("last_seen < ?")
        params.append(format_ts(flt.until))
    if flt.analyst_tag is not None:
        where.append("EXISTS (SELECT 1 FROM json_each(analyst_tags) WHERE value = ?)")
        params.append(flt.analyst_tag)
    return where, params


def queue_sql(flt: AlertFilter, sort: str, limit: int, after: str | None) -> tuple[str, list[Any]]:
    """``SELECT`` of one page (``limit + 1`` rows, to know whether another follows)."""
    if sort not in SORTS:
        raise ValueError(f"unknown sort {sort!r}; one of {', '.join(SORTS)}")
    keys = SORTS[sort]
    where, params = where_clause(flt)
    if after:
        values = decode_cursor(after, sort)
        where.append(f"({', '.join(keys)}) < ({', '.join('?' * len(keys))})")
        params.extend(values)
    sql = "SELECT * FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY " + ", ".join(f"{k} DESC" for k in keys) + " LIMIT ?"
    params.append(limit + 1)
    return sql, params


def cursor_of(row: Any, sort: str) -> str:
    return encode_cursor(sort, [row[k] for k in SORTS[sort]])


def encode_cursor(sort: str, values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([sort, *values])).decode()


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid alert cursor {cursor!r}") from exc
    if not isinstance(decoded, list) or not decoded or decoded[0] != sort:
        raise ValueError(f"cursor {cursor!r} is not one of a page sorted by {sort!r}")
    values = decoded[1:]
    if len(values) != len(SORTS[sort]):
        raise ValueError(f"invalid alert cursor {cursor!r}")
    return values
