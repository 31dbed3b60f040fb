"""Sigma field names to ECS dotted paths, and fast readers for those paths.

Field names missing from the mapping pass through unchanged, so rules written with ECS
names work as they are. A name may map to several paths; a detection item then matches
when any of them matches. A ``fallback`` prefix (``winlog.event_data.`` for Windows rules)
adds a second path for unmapped names without a dot: ``ServiceName`` is read from
``ServiceName`` and ``winlog.event_data.ServiceName``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from soc.event import Event

Getter = Callable[[Event], Any]

_MISSING = object()


class FieldMap:
    """Maps Sigma field names to one or more ECS paths (unknown names pass through)."""

    def __init__(
        self, mapping: Mapping[str, str | list[str]] | None = None, fallback: str | None = None
    ) -> None:
        self.fallback = fallback or None
        self._map: dict[str, tuple[str, ...]] = {}
        for name, target in (mapping or {}).items():
            paths = (target,) if isinstance(target, str) else tuple(str(t) for t in target)
            if not paths:
                raise ValueError(f"field mapping for {name!r} is empty")
            self._map[str(name)] = paths

    def paths(self, field: str) -> tuple[str, ...]:
        """ECS paths for a Sigma field name."""
        paths = self._map.get(field)
        if paths is not None:
            return paths
        if self.fallback and "." not in field:
            return (self.fallback + field, field)
        return (field,)

    def getters(self, field: str) -> tuple[Getter, ...]:
        """Compiled readers, one per ECS path of ``field``."""
        return tuple(make_getter(p) for p in self.paths(field))


@lru_cache(maxsize=16384)
def make_getter(path: str) -> Getter:
    """A reader for one dotted path, specialised by depth (``None`` when absent).

    Like :func:`soc.event.get_field`, a literal dotted key (flattened input) wins.
    Readers hold no state, so one is shared by every rule reading the path.
    """
    parts = path.split(".")
    if len(parts) == 1:
        key = parts[0]
        return lambda e: e.get(key)
    if len(parts) == 2:
        a, b = parts

        def get2(e: Event) -> Any:
            node = e.get(a)
            if isinstance(node, dict):
                v = node.get(b, _MISSING)
                if v is not _MISSING:
                    return v
            return e.get(path)

        return get2
    if len(parts) == 3:
        a, b, c = parts

        def get3(e: Event) -> Any:
            node = e.get(a)
            if isinstance(node, dict):
                node = node.get(b)
                if isinstance(node, dict):
                    v = node.get(c, _MISSING)
                    if v is not _MISSING:
                        return v
            return e.get(path)

        return get3

    def getn(e: Event) -> Any:
        node: Any = e
        for part in parts:
            if not isinstance(node, dict):
                return e.get(path)
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return e.get(path)
        return node

    return getn
