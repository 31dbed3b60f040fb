"""Query fields indexed beside each document, so the query DSL gives exactly the
filter semantics of :mod:`soc.store.match` whatever the mapping of the ECS field.

Every leaf element of an event is also indexed, by kind, under ``soc_q``:
``s.<path>`` strings (keyword, with a lowercase ``.lower``), ``i.<path>`` integers as
text (keyword), ``n.<path>`` numbers (double), ``t.<path>`` strings that are ISO 8601
timestamps (``date_nanos``), ``b.<path>`` booleans, and ``x`` the paths that exist.
In these names the path has ``/`` for ``.``, so a field that is an object in one
event and a value in another never collides. ``soc_q`` is excluded from ``_source``,
so documents come back exactly as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soc.event import format_ts, parse_ts

SHADOW = "soc_q"
KINDS = ("s", "i", "n", "t", "b")


def _ts_text(value: str) -> str | None:
    if len(value) < 8 or not value[:4].isdigit():
        return None
    try:
        ts = parse_ts(value)
    except ValueError:
        return None
    if not 1970 <= ts.year < 2262:  # the range of date_nanos
        return None
    return format_ts(ts)


def _add(out: dict[str, list[Any]], path: str, value: Any) -> None:
    bucket = out.get(path)
    if bucket is None:
        out[path] = [value]
    elif value not in bucket:
        bucket.append(value)


def shadow(event: Mapping[str, Any]) -> dict[str, Any]:
    """The ``soc_q`` object for one event (flat dotted keys; Elasticsearch expands them)."""
    kinds: dict[str, dict[str, list[Any]]] = {k: {} for k in KINDS}
    exists: list[str] = []
    _walk(event, "", kinds, exists)
    doc: dict[str, Any] = {k: {p.replace(".", "/"): x for p, x in v.items()} for k, v in kinds.items() if v}
    doc["x"] = exists
    return doc


def _walk(
    node: Mapping[str, Any], prefix: str, kinds: dict[str, dict[str, list[Any]]], exists: list[str]
) -> None:
    for key, value in node.items():
        path = prefix + key
        if value is None:
            continue
        if isinstance(value, Mapping):
            if value:
                exists.append(path)
                _walk(value, path + ".", kinds, exists)
            continue
        if isinstance(value, list):
            if not value:
                continue
            exists.append(path)
            for elem in value:
                _leaf(kinds, path, elem)
            continue
        exists.append(path)
        _leaf(kinds, path, value)


def _leaf(kinds: dict[str, dict[str, list[Any]]], path: str, value: Any) -> None:
    cls = value.__class__
    if cls is str:
        _add(kinds["s"], path, value)
        ts = _ts_text(value)
        if ts is not None:
            _add(kinds["t"], path, ts)
    elif cls is bool:
        _add(kinds["b"], path, value)
    elif cls is int:
        _add(kinds["i"], path, str(value))
        _add(kinds["n"], path, value)
    elif cls is float:
        _add(kinds["n"], path, value)
