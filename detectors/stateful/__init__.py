"""Stateful rule types (ElastAlert 2's names and keys): ``frequency``, ``spike``,
``flatline``, ``new_term``, ``cardinality``, ``change``, ``metric_aggregation``,
``percentage_match``, ``blacklist``, ``whitelist``.

Rules are YAML files (``rules/stateful/``), loaded and checked by :mod:`.loader`. Each
runs either streaming (:class:`StatefulDetector`, fed at ingest) or scheduled
(:func:`scheduled_rules`, queries over the store one window at a time).
"""

from __future__ import annotations

from collections.abc import Sequence

from detectors.base import ScheduledRule
from detectors.stateful.detector import StatefulDetector
from detectors.stateful.loader import is_stateful_file, load_rules
from detectors.stateful.model import StatefulRule
from detectors.stateful.params import RuleError
from detectors.stateful.registry import RULE_TYPES
from detectors.stateful.scheduled import ScheduledStatefulRule


def scheduled_rules(rules: Sequence[StatefulRule], *, all_modes: bool = False) -> list[ScheduledRule]:
    """A :class:`~detectors.base.ScheduledRule` per rule with ``mode: scheduled`` (every
    enabled rule with ``all_modes``)."""
    return [
        ScheduledStatefulRule(rule)
        for rule in rules
        if rule.enabled and (all_modes or rule.mode == "scheduled")
    ]


__all__ = [
    "RULE_TYPES",
    "RuleError",
    "ScheduledStatefulRule",
    "StatefulDetector",
    "StatefulRule",
    "is_stateful_file",
    "load_rules",
    "scheduled_rules",
]
