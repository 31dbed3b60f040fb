"""Rule types by their YAML ``type:`` name (ElastAlert's names)."""

from __future__ import annotations

from detectors.stateful.cardinality import CardinalityRule
from detectors.stateful.change import ChangeRule
from detectors.stateful.flatline import FlatlineRule
from detectors.stateful.frequency import FrequencyRule
from detectors.stateful.listmatch import BlacklistRule, WhitelistRule
from detectors.stateful.metric_aggregation import MetricAggregationRule
from detectors.stateful.new_term import NewTermRule
from detectors.stateful.percentage_match import PercentageMatchRule
from detectors.stateful.ruletype import RuleType
from detectors.stateful.spike import SpikeRule

RULE_TYPES: dict[str, type[RuleType]] = {
    cls.name: cls
    for cls in (
        FrequencyRule,
        SpikeRule,
        FlatlineRule,
        NewTermRule,
        CardinalityRule,
        ChangeRule,
        MetricAggregationRule,
        PercentageMatchRule,
        BlacklistRule,
        WhitelistRule,
    )
}
