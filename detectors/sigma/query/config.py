"""What query conversion shares with the streaming matcher: the Sigma config.

:class:`QueryConfig` reads the same structure as ``configs/sigma.yaml`` (``fields``,
``keyword_fields``, ``logsources``, ``unmapped_logsource``) through the streaming
detector's own :class:`~detectors.sigma.fieldmap.FieldMap` and
:class:`~detectors.sigma.logsource.LogsourceMap`, so both modes map a rule identically.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sigma.rule import SigmaLogSource

from detectors.sigma.compiler import DEFAULT_KEYWORD_FIELDS
from detectors.sigma.engine import load_config
from detectors.sigma.fieldmap import FieldMap
from detectors.sigma.logsource import LogsourceMap


class ConversionError(Exception):
    """A rule cannot be converted to a query; names the rule and the reason."""

    def __init__(self, rule_id: str | None, reason: str) -> None:
        super().__init__(f"rule {rule_id or '<unknown id>'}: {reason}")
        self.rule_id = rule_id
        self.reason = reason


LogsourceConditions = list[dict[str, list[Any]]]
"""Alternatives (any must hold) of ECS path -> allowed values (every path must have one)."""


@dataclass(frozen=True, slots=True)
class RuleLogsource:
    """How a rule's log source restricts events: ``active`` False means the streaming
    detector never tests the rule (unmapped, policy ``none``); ``conditions`` empty with
    ``active`` True means every event."""

    active: bool
    conditions: LogsourceConditions
    label: str


class QueryConfig:
    """Field maps, keyword fields, placeholders and log sources from a Sigma config mapping,
    read as :class:`~detectors.sigma.engine.SigmaDetector` reads them."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        cfg = dict(load_config() if config is None else config)
        self.raw = cfg
        common = dict(cfg.get("fields") or {})
        self.fields = FieldMap(common)
        fallbacks = dict(cfg.get("field_fallback") or {})
        self._fieldmaps: dict[str, FieldMap] = {}
        for product, extra in (cfg.get("product_fields") or {}).items():
            self._fieldmaps[str(product)] = FieldMap({**common, **(extra or {})}, fallbacks.get(product))
        for product, prefix in fallbacks.items():
            self._fieldmaps.setdefault(str(product), FieldMap(common, prefix))
        self.keyword_fields: tuple[str, ...] = tuple(cfg.get("keyword_fields") or DEFAULT_KEYWORD_FIELDS)
        self.placeholders: dict[str, list[str]] = {
            str(k): [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in (cfg.get("placeholders") or {}).items()
        }
        self._entries = list(cfg.get("logsources") or ())
        self.logsources = LogsourceMap(self._entries)
        self.unmapped = str(cfg.get("unmapped_logsource", "none"))

    def fields_for(self, logsource: SigmaLogSource) -> FieldMap:
        """The field map of a rule: its product's, else its category's, else the common one."""
        fm = self._fieldmaps.get(logsource.product) if logsource.product else None
        if fm is None and logsource.category:
            fm = self._fieldmaps.get(logsource.category)
        return fm or self.fields

    def logsource(self, logsource: SigmaLogSource) -> RuleLogsource:
        """The log source restriction of a rule, exactly as the streaming index applies it."""
        entry = self.logsources.lookup(logsource)
        if entry is None:
            return RuleLogsource(self.unmapped == "all", {}, "*unmapped*")
        raw = self._entries[self.logsources.entries.index(entry)].get("conditions") or {}
        alternatives = raw if isinstance(raw, list) else [raw]
        conditions = [
            {
                str(path): list(wanted) if isinstance(wanted, list) else [wanted]
                for path, wanted in alt.items()
            }
            for alt in alternatives
        ]
        return RuleLogsource(True, conditions, entry.label)
