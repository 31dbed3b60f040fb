"""``blacklist`` and ``whitelist``: ``compare_key`` in (or not in) a value list.

``blacklist`` fires for an event whose value is in the list (destination IPs of known
bad hosts); ``whitelist`` for one whose value is not (``ignore_null: true`` skips events
without the field). Lists mix inline values and ``!file PATH`` entries
(:mod:`.valuelists`), reloaded when the files change. Values compare as strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType, scalars
from detectors.stateful.valuelists import ValueList, ValueListError
from soc.event import Event, get_field


class _ListRule(RuleType):
    list_key: ClassVar[str] = ""
    keeps_evidence = False
    grouped = False

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        self.field = params.text("compare_key", required=True)
        self.ignore_null = params.boolean("ignore_null", default=True)
        self.values = ValueList(frozenset())
        raw = params.raw(self.list_key)
        if raw is None:
            params.error(self.list_key, "is required for this rule type")
        else:
            try:
                self.values = ValueList.from_entries(raw, Path(params.path).parent)
            except ValueListError as e:
                params.error(self.list_key, str(e))

    def refresh(self) -> list[str]:
        return self.values.refresh()

    def hit(self, values: list[Any]) -> list[Any]:
        raise NotImplementedError

    def observe(self, state: Any, ts: float, event: Event) -> Fire | None:
        values = scalars(get_field(event, self.field))
        if not values and self.ignore_null:
            return None
        found = self.hit(values)
        if not found:
            return None
        return Fire(
            {"compare_key": self.field, "values": [str(v) for v in found], "list_size": len(self.values)},
            events=[event],
            group_extra={self.field: found[0] if len(found) == 1 else found},
        )

    def describe(self) -> dict[str, Any]:
        return {"compare_key": self.field, self.list_key: len(self.values)}


class BlacklistRule(_ListRule):
    name = "blacklist"
    keys = frozenset({"compare_key", "blacklist", "ignore_null"})
    list_key = "blacklist"

    def hit(self, values: list[Any]) -> list[Any]:
        return [v for v in values if v in self.values]


class WhitelistRule(_ListRule):
    name = "whitelist"
    keys = frozenset({"compare_key", "whitelist", "ignore_null"})
    list_key = "whitelist"

    def hit(self, values: list[Any]) -> list[Any]:
        if not values:
            return [None]
        return [v for v in values if v not in self.values]
