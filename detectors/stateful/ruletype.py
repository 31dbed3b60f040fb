"""What every rule type implements, and the few helpers they share.

A rule type (one module each: ``frequency.py``, ``spike.py``, ...) checks its own keys
when the rule loads (``__init__(params)``) and keeps its per-group state in plain
JSON-able data, so the runtime can checkpoint it (``dump``/``load``). It never sees other
groups, the clock of other rules, realert or aggregation: :mod:`.runtime` does that.

Times are float seconds since the epoch (UTC), event time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from detectors.stateful.params import Params
from soc.event import Event, format_ts, get_field


@dataclass(slots=True)
class Fire:
    """A rule type's verdict for one group: the numbers behind it and its evidence.

    ``window`` selects the group's kept evidence events by time (inclusive); ``events``
    gives the evidence directly instead. ``group_extra`` adds values to the match's
    group (a new term's value). ``forget`` drops the group after firing.
    """

    details: dict[str, Any]
    window: tuple[float, float] | None = None
    events: list[Event] | None = None
    group_extra: dict[str, Any] = field(default_factory=dict)
    forget: bool = False


class RuleType:
    """Base of the rule types; subclasses set ``name``, ``keys`` and override the hooks."""

    name: ClassVar[str] = ""
    keys: ClassVar[frozenset[str]] = frozenset()
    needs_timeframe: ClassVar[bool] = False
    keeps_evidence: ClassVar[bool] = True  # the runtime keeps recent events per group
    grouped: ClassVar[bool] = True  # False: verdicts need no per-group state (blacklist, whitelist)

    def __init__(self, params: Params) -> None:
        self.timeframe: float | None = None
        tf = params.duration("timeframe", required=self.needs_timeframe)
        if tf is not None:
            if tf.total_seconds() <= 0:
                params.error("timeframe", "must be longer than zero")
            self.timeframe = tf.total_seconds()
        self.max_values = params.integer("max_values", default=10_000, minimum=1) or 10_000
        self.evicted_values = 0

    def new_state(self) -> Any:
        return {}

    def observe(self, state: Any, ts: float, event: Event) -> Fire | None:
        raise NotImplementedError

    def tick(self, state: Any, now: float) -> Fire | None:
        """Time-driven verdicts (``now``: the detector's event-time clock)."""
        return None

    def idle(self, state: Any, now: float) -> bool:
        """Whether the group holds nothing that matters any more (it may be dropped)."""
        return False

    def dump(self, state: Any) -> Any:
        return state

    def load(self, data: Any) -> Any:
        return data

    def describe(self) -> dict[str, Any]:
        """The rule's parameters as shown in ``details`` and by ``soc rules check``."""
        return {"timeframe_s": self.timeframe} if self.timeframe else {}


def field_values(event: Event, fields: tuple[str, ...]) -> tuple[Any, ...] | None:
    """The values of ``fields`` (lists as tuples); ``None`` when one is missing."""
    out = []
    for name in fields:
        value = get_field(event, name)
        if value is None or value == [] or value == "":
            return None
        out.append(tuple(value) if isinstance(value, list) else value)
    return tuple(out)


def scalars(value: Any) -> list[Any]:
    """A field value as a list of hashable scalars (list fields: each element)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [v for v in items if v is not None and not isinstance(v, (dict, list))]


def iso(ts: float) -> str:
    """Epoch seconds as ECS timestamp text."""
    return format_ts(datetime.fromtimestamp(ts, UTC))
