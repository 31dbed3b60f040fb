"""Convert a Sigma rule into a Lucene query string for the Elasticsearch store.

pysigma-backend-elasticsearch's ``LuceneBackend`` writes the detection; a processing
pipeline first renames Sigma fields to our ECS paths with the same field map the
streaming matcher uses (a field mapped to several paths becomes an OR). The rule's log
source becomes the configured ECS equalities, AND-ed in front, escaped here.

The query runs through ``ElasticsearchStore.search_lucene`` (``query_string``), so string
matching follows the index mapping of each field (keyword fields compare case-sensitively)
and field-less keywords search every field: close to, not identical with, the streaming
semantics. The backend refuses a rule with a reason (e.g. a field reference), which
becomes a :class:`~detectors.sigma.query.config.ConversionError`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sigma.backends.elasticsearch import LuceneBackend
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldMappingTransformation, ValueListPlaceholderTransformation
from sigma.rule import SigmaRule
from sigma.types import SigmaFieldReference

from detectors.sigma.fieldmap import FieldMap
from detectors.sigma.query.config import ConversionError, QueryConfig

_SPECIAL = set('+-=&|><!(){}[]^"~*?:\\/ ')


@dataclass(frozen=True, slots=True)
class LuceneQuery:
    """A rule as one Lucene query string; ``active`` as in :class:`.duckdb_sql.SqlQuery`."""

    rule_id: str
    query: str
    active: bool = True
    logsource: str = ""


def lucene_escape(value: Any) -> str:
    """A value as one Lucene term, every query-syntax character escaped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "".join("\\" + c if c in _SPECIAL else c for c in str(value))


def rule_fields(rule: SigmaRule) -> set[str]:
    """Every field name the rule's detection items use (including field references)."""
    names: set[str] = set()

    def walk(item: Any) -> None:
        for sub in getattr(item, "detection_items", ()):
            walk(sub)
        name = getattr(item, "field", None)
        if isinstance(name, str):
            names.add(name)
        for value in getattr(item, "value", ()) or ():
            if isinstance(value, SigmaFieldReference):
                names.add(value.field)

    for detection in rule.detection.detections.values():
        walk(detection)
    return names


def field_pipeline(
    fields: FieldMap, names: set[str], placeholders: dict[str, list[str]]
) -> ProcessingPipeline:
    """A pySigma pipeline renaming the rule's Sigma fields to ECS paths (the configured field
    map, with its product fallback prefix) and filling ``%name%`` placeholders."""
    mapping: dict[str, str | list[str]] = {}
    for name in names:
        paths = list(fields.paths(name))
        if paths != [name]:
            mapping[name] = paths[0] if len(paths) == 1 else paths
    return ProcessingPipeline(
        name="soc ECS field mapping",
        priority=20,
        vars=placeholders,
        items=[
            ProcessingItem(ValueListPlaceholderTransformation(), identifier="soc_placeholders"),
            ProcessingItem(FieldMappingTransformation(mapping), identifier="soc_ecs_fields"),
        ],
    )


def logsource_lucene(conditions: list[dict[str, list[Any]]]) -> str:
    """Lucene for the configured log source equalities (``""`` when there are none)."""
    alternatives = []
    for alt in conditions:
        parts = []
        for path, wanted in alt.items():
            terms = " OR ".join(lucene_escape(v) for v in wanted)
            parts.append(f"{lucene_escape(path)}:({terms})")
        if not parts:
            return ""
        alternatives.append(" AND ".join(parts))
    if len(alternatives) <= 1:
        return alternatives[0] if alternatives else ""
    return " OR ".join(f"({a})" for a in alternatives)


class LuceneConverter:
    """Converts rules with one backend instance built for a :class:`QueryConfig`."""

    def __init__(self, config: QueryConfig) -> None:
        self.config = config

    def convert(self, rule: SigmaRule) -> LuceneQuery:
        """The rule (log source AND detection); raises ConversionError with the reason."""
        rule_id = str(rule.id) if rule.id else (rule.name or "")
        source = self.config.logsource(rule.logsource)
        if not source.active:
            return LuceneQuery(rule_id, "", active=False, logsource=source.label)
        try:
            # the pipeline rewrites the rule in place: convert a copy
            rule = copy.deepcopy(rule)
            rule._output = True  # a correlation with generate: false silences it; a hunt wants it
            fields = self.config.fields_for(rule.logsource)
            backend = LuceneBackend(field_pipeline(fields, rule_fields(rule), self.config.placeholders))
            queries = backend.convert_rule(rule)
        except SigmaError as e:
            raise ConversionError(rule_id, str(e.args[0]) if e.args else type(e).__name__) from None
        except RecursionError:
            raise ConversionError(rule_id, "condition nests too deeply") from None
        except Exception as e:  # the backend may raise anything on odd input: report it
            raise ConversionError(rule_id, f"{type(e).__name__}: {e}") from None
        texts = [str(q) for q in queries if str(q).strip()]
        if not texts:
            raise ConversionError(rule_id, "the Lucene backend produced no query")
        detection = texts[0] if len(texts) == 1 else " OR ".join(f"({t})" for t in texts)
        ls = logsource_lucene(source.conditions)
        query = f"({ls}) AND ({detection})" if ls else detection
        return LuceneQuery(rule_id, query, active=True, logsource=source.label)


def rule_to_lucene(rule: SigmaRule, config: QueryConfig) -> LuceneQuery:
    """One-off conversion; use :class:`LuceneConverter` for many rules."""
    return LuceneConverter(config).convert(rule)


__all__ = [
    "LuceneConverter",
    "LuceneQuery",
    "field_pipeline",
    "logsource_lucene",
    "lucene_escape",
    "rule_to_lucene",
]
