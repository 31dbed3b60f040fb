"""``new_term``: a value (or combination of values) never seen before, per group.

``fields`` lists what to watch: each item is one field (``user.name``) or a list of
fields watched as one combination (``[user.name, host.name]``). The baseline of seen
terms is part of the rule's checkpointed state, so it persists and grows across restarts
instead of being rebuilt. On a first start it is seeded from the store over
``terms_window_size`` (ElastAlert's key, default 30 days) when the detector is given a
store. Terms per group are capped by ``max_values`` (least recently seen evicted,
counted; an evicted term seen again counts as new).

``learning_period`` (ours; default none, as in ElastAlert): terms first seen within that
long of the baseline's start (its oldest seeded event, or the first event the rule
observed) are learned without alerting, so a rule on a fresh install, with no history to
seed from, does not report every account it meets on its first day.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from detectors.stateful.params import Params
from detectors.stateful.ruletype import Fire, RuleType, scalars
from soc.event import Event, get_field

BASELINE_START = "#baseline_start"  # state key: {"t": event time the baseline starts at}


class NewTermRule(RuleType):
    name = "new_term"
    keys = frozenset(
        {"fields", "terms_window_size", "alert_on_missing_field", "timeframe", "learning_period"}
    )
    keeps_evidence = False

    def __init__(self, params: Params) -> None:
        super().__init__(params)
        raw = params.raw("fields")
        self.watch: list[tuple[str, ...]] = []
        if raw is None:
            params.error("fields", "is required for this rule type")
        else:
            items = raw if isinstance(raw, list) else [raw]
            for item in items:
                combo = (item,) if isinstance(item, str) else item
                if (
                    not isinstance(combo, list | tuple)
                    or not combo
                    or not all(isinstance(f, str) for f in combo)
                ):
                    params.error("fields", "each item must be a field name or a list of field names")
                    continue
                self.watch.append(tuple(combo))
        window = params.duration("terms_window_size", default=timedelta(days=30))
        self.terms_window = window or timedelta(days=30)
        self.on_missing = params.boolean("alert_on_missing_field")
        learning = params.duration("learning_period", default=None)
        self.learning_s = learning.total_seconds() if learning else 0.0

    def new_state(self) -> dict[str, dict[Any, float]]:
        return {"|".join(c): {} for c in self.watch}

    def _terms(self, event: Event, combo: tuple[str, ...]) -> list[Any]:
        """The terms of one combination in the event (list fields: each element)."""
        if len(combo) == 1:
            return scalars(get_field(event, combo[0]))
        values = []
        for name in combo:
            v = scalars(get_field(event, name))
            if not v:
                return []
            values.append(v[0])
        return [tuple(values)]

    def _add(self, seen: dict[Any, float], term: Any, ts: float) -> bool:
        new = term not in seen
        seen.pop(term, None)
        seen[term] = ts
        if len(seen) > self.max_values:
            del seen[next(iter(seen))]
            self.evicted_values += 1
        return new

    def _learning(self, state: dict[str, dict[Any, float]], ts: float) -> bool:
        """Whether ``ts`` falls in the learning period from the baseline's start."""
        since = state.setdefault(BASELINE_START, {"t": ts})
        since["t"] = min(since["t"], ts)
        return ts < since["t"] + self.learning_s

    def learn(self, state: dict[str, dict[Any, float]], ts: float, event: Event) -> None:
        """Add the event's terms to the baseline without firing (seeding)."""
        self._learning(state, ts)
        for combo in self.watch:
            seen = state.setdefault("|".join(combo), {})
            for term in self._terms(event, combo):
                self._add(seen, term, ts)

    def observe(self, state: dict[str, dict[Any, float]], ts: float, event: Event) -> Fire | None:
        if self._learning(state, ts):
            self.learn(state, ts, event)
            return None
        fresh: dict[str, Any] = {}
        missing: list[str] = []
        for combo in self.watch:
            name = "|".join(combo)
            seen = state.setdefault(name, {})
            terms = self._terms(event, combo)
            if not terms:
                missing.append(name)
            for term in terms:
                if self._add(seen, term, ts):
                    fresh[name] = list(term) if isinstance(term, tuple) else term
        if fresh:
            extra = {f: v for combo in self.watch for f, v in _named(combo, fresh.get("|".join(combo)))}
            return Fire(
                {
                    "new_terms": fresh,
                    "baseline_sizes": {k: len(v) for k, v in state.items() if k != BASELINE_START},
                },
                events=[event],
                group_extra=extra,
            )
        if missing and self.on_missing:
            return Fire({"missing_fields": missing}, events=[event])
        return None

    def dump(self, state: dict[str, dict[Any, float]]) -> Any:
        return {
            k: [[list(t) if isinstance(t, tuple) else t, ts] for t, ts in v.items()] for k, v in state.items()
        }

    def load(self, data: Any) -> dict[str, dict[Any, float]]:
        return {k: {(tuple(t) if isinstance(t, list) else t): ts for t, ts in v} for k, v in data.items()}

    def describe(self) -> dict[str, Any]:
        return {"fields": [list(c) for c in self.watch]}


def _named(combo: tuple[str, ...], value: Any) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if len(combo) == 1:
        return [(combo[0], value)]
    return list(zip(combo, value, strict=True))
