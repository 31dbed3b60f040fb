"""The promoted ("hot") ECS fields and the write-time checks every store applies.

A hot field is one the DuckDB store keeps in its own typed column beside the whole
document. Both stores run :func:`check_event` on every event written, so a value
of the wrong type for its ECS field (``destination.port: "ssh"``) is refused the
same way everywhere, with the event's place in the batch and the field named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from soc.event import parse_ts
from soc.store.base import StoreError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

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

    ``None`` (absent or JSON null) stays ``None``. ``ts`` values come back as
    integer microseconds since the epoch and ``strlist`` values as lists. Raises :class:`StoreError`
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
                return (parse_ts(value) - EPOCH) // _US
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


def _compile_checker() -> Any:
    """Build ``check_event``'s fast path from ``HOT_FIELDS``: straight-line dict walks
    and exact type tests, generated once so the table stays the only definition.
    Anything unusual (wrong type, bool, out of range, lists) goes to :func:`hot_value`."""
    lines = ["def fast(event, index, parse_ts, slow):"]
    names: dict[tuple[str, ...], str] = {(): "event"}
    for n, field in enumerate(HOT_FIELDS):
        parts = tuple(field.path.split("."))
        for depth in range(1, len(parts)):
            prefix = parts[:depth]
            if prefix not in names:
                parent, var = names[parts[: depth - 1]], f"n{len(names)}"
                names[prefix] = var
                get = f"{parent}.get({prefix[-1]!r})"
                lines.append(f"    {var} = {get} if {parent}.__class__ is dict else None")
        parent = names[parts[:-1]]
        v = f"v{n}"
        lines.append(f"    {v} = {parent}.get({parts[-1]!r}) if {parent}.__class__ is dict else None")
        fast_ok = {"str": "str", "ts": "str", "int": "int", "strlist": "list"}[field.kind]
        convert = f"parse_ts({v}, {n})" if field.kind == "ts" else v
        guard = f" and {field.low} <= {v} <= {field.high}" if field.kind == "int" else ""
        lines.append(f"    if {v} is not None:")
        lines.append(f"        {v} = {convert} if {v}.__class__ is {fast_ok}{guard} else slow({n}, {v})")
    lines.append("    return (" + ", ".join(f"v{n}" for n in range(len(HOT_FIELDS))) + ",)")
    scope: dict[str, Any] = {}
    exec("\n".join(lines), scope)  # code generated from the HOT_FIELDS table above
    return scope["fast"]


_FAST = _compile_checker()


def check_event(event: Any, index: int) -> tuple[Any, ...]:
    """Validate one event of a batch; return its hot column values in ``HOT_FIELDS`` order.

    ``event.id`` and ``@timestamp`` are required. ``index`` is the event's place in
    the batch, used in error messages. Raises :class:`StoreError` (not retryable).
    """
    if not isinstance(event, dict):
        raise StoreError(f"event {index}: expected a dict, got {type(event).__name__}", retryable=False)

    def slow(n: int, value: Any) -> Any:
        return hot_value(HOT_FIELDS[n], value, _where(event, index))

    try:
        row = _FAST(event, index, _parse, slow)
    except _BadTimestamp as exc:
        raise StoreError(f"{_where(event, index)}: {exc}", retryable=False) from None
    if not row[0]:
        raise StoreError(f"{_where(event, index)}: event.id is missing or empty", retryable=False)
    if row[1] is None:
        raise StoreError(f"{_where(event, index)}: @timestamp is missing", retryable=False)
    return row


class _BadTimestamp(ValueError):
    pass


def _parse(text: str, n: int) -> int:
    try:
        return (parse_ts(text) - EPOCH) // _US
    except ValueError:
        raise _BadTimestamp(f"{HOT_FIELDS[n].path} = {text!r:.80} is not an ISO 8601 timestamp") from None


def _where(event: Mapping[str, Any], index: int) -> str:
    ident = lookup(event, "event.id")
    return f"event {index} (id {ident!r})" if isinstance(ident, str) else f"event {index}"
