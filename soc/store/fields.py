"""The promoted ("hot") ECS fields and the write-time checks every store applies.

A hot field is one the DuckDB store keeps in its own typed column beside the whole
document. Both stores run :func:`check_event` on every event written, so a value
of the wrong type for its ECS field (``destination.port: "ssh"``) is refused the
same way everywhere, with the event's place in the batch and the field named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from soc.event import parse_ts
from soc.store.base import StoreError

HotKind = Literal["str", "int", "ts", "strlist"]
"""``str``: text; ``int``: integer; ``ts``: ECS timestamp text, kept as TIMESTAMPTZ;
``strlist``: a string or a list of strings, kept as VARCHAR[]."""


@dataclass(frozen=True, slots=True)
class HotField:
    """One promoted field: its ECS path, its column name and the kind of value it holds."""

    path: str
    column: str
    kind: HotKind
    low: int | None = None
    high: int | None = None


HOT_FIELDS: tuple[HotField, ...] = (
    HotField("event.id", "id", "str"),
    HotField("@timestamp", "ts", "ts"),
    HotField("event.ingested", "ingested", "ts"),
    HotField("event.dataset", "dataset", "str"),
    HotField("event.action", "action", "str"),
    HotField("event.category", "category", "strlist"),
    HotField("event.outcome", "outcome", "str"),
    HotField("event.kind", "kind", "str"),
    HotField("host.name", "host_name", "str"),
    HotField("host.hostname", "host_hostname", "str"),
    HotField("source.ip", "source_ip", "str"),
    HotField("source.port", "source_port", "int", 0, 65535),
    HotField("destination.ip", "destination_ip", "str"),
    HotField("destination.port", "destination_port", "int", 0, 65535),
    HotField("user.name", "user_name", "str"),
    HotField("process.name", "process_name", "str"),
    HotField("organization.id", "organization_id", "str"),
    HotField("observer.ip", "observer_ip", "strlist"),
    HotField("message", "message", "str"),
    HotField("log.file.path", "log_file_path", "str"),
    HotField("log.offset", "log_offset", "int", 0, 2**63 - 1),
)

HOT_BY_PATH: dict[str, HotField] = {f.path: f for f in HOT_FIELDS}

SORTABLE: tuple[str, ...] = tuple(f.path for f in HOT_FIELDS if f.kind != "strlist")
"""Fields ``search`` can sort on: the hot scalar fields."""

_MISSING = object()


def lookup(event: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a nested event, or ``None``.

    Unlike :func:`soc.event.get_field` this does not honour literal dotted keys: the
    stores address fields as nested objects only, so every backend agrees.
    """
    node: Any = event
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return None
    return node


def hot_value(field: HotField, value: Any, where: str) -> Any:
    """Check ``value`` against the hot field's kind and return the column value.

    ``None`` (absent or JSON null) stays ``None``. ``ts`` values come back as aware
    datetimes and ``strlist`` values as lists. Raises :class:`StoreError`
    (not retryable) naming ``where`` and the field when the type is wrong.
    """
    if value is None:
        return None
    kind = field.kind
    if kind == "str":
        if isinstance(value, str):
            return value
    elif kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            if (field.low is None or value >= field.low) and (field.high is None or value <= field.high):
                return value
            raise StoreError(
                f"{where}: {field.path} = {value} is out of range {field.low}..{field.high}", retryable=False
            )
    elif kind == "ts":
        if isinstance(value, str):
            try:
                return parse_ts(value)
            except ValueError:
                raise StoreError(
                    f"{where}: {field.path} = {value!r} is not an ISO 8601 timestamp", retryable=False
                ) from None
        if isinstance(value, datetime):
            raise StoreError(
                f"{where}: {field.path} is a datetime object; events hold ECS timestamp text "
                "(use soc.event.format_ts)",
                retryable=False,
            )
    elif kind == "strlist":
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    raise StoreError(
        f"{where}: {field.path} must be {_KIND_TEXT[kind]}, got {type(value).__name__} {value!r:.80}",
        retryable=False,
    )


_KIND_TEXT = {
    "str": "a string",
    "int": "an integer",
    "ts": "ECS timestamp text",
    "strlist": "a string or a list of strings",
}


def check_event(event: Any, index: int) -> dict[str, Any]:
    """Validate one event of a batch; return its hot column values keyed by column.

    ``event.id`` and ``@timestamp`` are required. ``index`` is the event's place in
    the batch, used in error messages.
    """
    if not isinstance(event, Mapping):
        raise StoreError(f"event {index}: expected a dict, got {type(event).__name__}", retryable=False)
    ident = lookup(event, "event.id")
    where = f"event {index} (id {ident!r})" if isinstance(ident, str) else f"event {index}"
    row: dict[str, Any] = {}
    for field in HOT_FIELDS:
        row[field.column] = hot_value(field, lookup(event, field.path), where)
    if not row["id"]:
        raise StoreError(f"{where}: event.id is missing or empty", retryable=False)
    if row["ts"] is None:
        raise StoreError(f"{where}: @timestamp is missing", retryable=False)
    return row
