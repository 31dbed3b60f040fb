"""A rule's ``filter``: which events it looks at.

Three forms, all AND-ed when combined:

* a query string in the search language of ``soc search`` (:mod:`soc.query`)::

      filter: 'event.action:ssh_login event.outcome:failure'

* a list in ElastAlert's style, each item AND-ed: a query string, ``{term: {field: value}}``,
  ``{terms: {field: [a, b]}}`` or ``{query: {query_string: {query: "..."}}}``;
* a mapping with ``query:`` (a query string) and/or a Sigma ``detection:`` block (with its
  ``condition``; optional ``logsource`` is ignored), compiled by the Sigma compiler::

      filter:
        detection:
          selection: {event.code: '4672'}
          condition: selection

Query strings and ``term``/``terms`` become store filters (:class:`soc.store.base.Query`),
tested in memory with the stores' own semantics (:mod:`soc.store.match`) and pushed down
to the store by the scheduled adapter. A Sigma detection is tested in memory only (the
scheduled adapter reads the window's pushed-down events and tests the rest).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from detectors.sigma.compiler import CompileError, Matcher, compile_rule
from detectors.sigma.fieldmap import FieldMap, make_getter
from detectors.stateful.params import RuleParamError
from soc.event import Event
from soc.query import QuerySyntaxError, parse_query
from soc.store.base import FieldFilter, Query
from soc.store.match import check_query, element_eq, element_matches, elements, query_matches


def compile_field_filter(f: FieldFilter) -> Callable[[Event], bool]:
    """One store filter as a closure with exactly :func:`soc.store.match.filter_matches`'
    meaning, reading the field with a compiled getter (the streaming hot path)."""
    get = make_getter(f.field)
    if f.op == "exists":
        return lambda e: (v := get(e)) is not None and v != [] and v != {}
    if f.op == "ne":
        value = f.value
        return lambda e: not any(element_eq(x, value) for x in elements(get(e)))
    if f.op == "eq" and isinstance(f.value, str):
        wanted = f.value

        def eq(e: Event) -> bool:
            v = get(e)
            if v == wanted:
                return True
            if isinstance(v, list):
                return any(element_eq(x, wanted) for x in v)
            return isinstance(v, int) and not isinstance(v, bool) and str(v) == wanted

        return eq
    return lambda e: any(element_matches(x, f) for x in elements(get(e)))


@dataclass(frozen=True, slots=True)
class EventFilter:
    """``query`` (store filters, pushed down) AND ``detection`` (a compiled Sigma matcher)."""

    query: Query
    detection: Matcher | None = None
    _tests: tuple[Callable[[Event], bool], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tests", tuple(compile_field_filter(f) for f in self.query.filters))

    def __call__(self, event: Event) -> bool:
        for test in self._tests:
            if not test(event):
                return False
        if self.query.text is not None and not query_matches(event, Query(text=self.query.text)):
            return False
        return self.detection is None or self.detection(event)


MATCH_ALL = EventFilter(Query())


def _query_string(text: Any, key: str) -> Query:
    if not isinstance(text, str):
        raise RuleParamError(key, f"a query must be a string, not {type(text).__name__}")
    try:
        return check_query(parse_query(text))
    except QuerySyntaxError as e:
        raise RuleParamError(key, f"query {text!r}: {e}") from None
    except (TypeError, ValueError) as e:
        raise RuleParamError(key, f"query {text!r}: {e}") from None


def _item(item: Any, key: str) -> Query:
    if isinstance(item, str):
        return _query_string(item, key)
    if not isinstance(item, Mapping) or len(item) != 1:
        raise RuleParamError(
            key, "each item must be a query string or one of {term: ...}, {terms: ...}, {query: ...}"
        )
    ((kind, body),) = item.items()
    if kind == "query":
        if isinstance(body, Mapping) and isinstance(body.get("query_string"), Mapping):
            return _query_string(body["query_string"].get("query"), f"{key}.query.query_string.query")
        return _query_string(body, f"{key}.query")
    if kind in ("term", "terms"):
        if not isinstance(body, Mapping) or len(body) != 1:
            raise RuleParamError(f"{key}.{kind}", "must map one field to its value")
        ((field, value),) = body.items()
        if kind == "terms":
            if not isinstance(value, list) or not value:
                raise RuleParamError(f"{key}.terms.{field}", "must be a non-empty list of values")
            flt = FieldFilter(str(field), "in", tuple(value))
        else:
            flt = FieldFilter(str(field), "eq", value)
        try:
            return check_query(Query(filters=(flt,)))
        except (TypeError, ValueError) as e:
            raise RuleParamError(f"{key}.{kind}.{field}", str(e)) from None
    raise RuleParamError(key, f"unknown filter item {kind!r} (use term, terms or query)")


def _merge(queries: list[Query]) -> Query:
    filters = tuple(f for q in queries for f in q.filters)
    texts = [q.text for q in queries if q.text is not None]
    if len(texts) > 1:
        raise RuleParamError("filter", "only one full-text phrase is supported (bare words are one phrase)")
    return Query(filters=filters, text=texts[0] if texts else None)


def _detection(body: Any, name: str, fields: FieldMap) -> Matcher:
    if not isinstance(body, Mapping) or "condition" not in body:
        raise RuleParamError("filter.detection", "must be a Sigma detection mapping with a 'condition'")
    doc = {"title": name or "stateful filter", "logsource": {"product": "any"}, "detection": dict(body)}
    try:
        rule = SigmaRule.from_dict(doc)
        return compile_rule(rule, fields)
    except CompileError as e:
        raise RuleParamError("filter.detection", e.reason) from None
    except SigmaError as e:
        raise RuleParamError("filter.detection", str(e.args[0]) if e.args else type(e).__name__) from None
    except Exception as e:  # pySigma raises assorted errors on malformed input
        raise RuleParamError("filter.detection", f"{type(e).__name__}: {e}") from None


def build_filter(
    value: Any, name: str = "", fields: FieldMap | None = None, key: str = "filter"
) -> EventFilter:
    """The :class:`EventFilter` of a rule's ``filter`` value (``None``: every event)."""
    fields = fields or FieldMap()
    if value is None:
        return MATCH_ALL
    if isinstance(value, str):
        return EventFilter(_query_string(value, key))
    if isinstance(value, list):
        return EventFilter(_merge([_item(item, f"{key}[{i}]") for i, item in enumerate(value)]))
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in ("query", "detection", "logsource")]
        if unknown:
            raise RuleParamError(f"{key}.{unknown[0]}", "unknown filter key (use query, detection)")
        query = Query()
        if value.get("query") is not None:
            q = value["query"]
            query = (
                _merge([_item(i, f"{key}.query[{n}]") for n, i in enumerate(q)])
                if isinstance(q, list)
                else _query_string(q, f"{key}.query")
            )
        matcher = _detection(value["detection"], name, fields) if value.get("detection") is not None else None
        if not query.filters and query.text is None and matcher is None:
            raise RuleParamError(key, "needs a 'query' or a 'detection'")
        return EventFilter(query, matcher)
    raise RuleParamError(key, f"must be a query string, a list or a mapping, not {type(value).__name__}")
