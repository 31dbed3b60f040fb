"""The small search language of ``soc search QUERY`` and the API's ``q`` parameter.

:func:`parse_query` turns a query string into a :class:`soc.store.base.Query`, so
every store answers it the same way. Syntax (terms are separated by whitespace and
AND-ed; an optional ``AND`` between terms is ignored):

=============================  ==============================================
``field:value``                exact match (``eq``), case-sensitive
``field:"quoted value"``       exact match of a value with spaces; ``\\"`` and
                               ``\\\\`` escape inside quotes; ``*`` is literal
``field:val*``                 prefix (case-insensitive)
``field:*val*``                contains (case-insensitive)
``field:*``                    the field exists
``-field:value``               negation (``ne``); ``NOT field:value`` is the same
``field:>N`` ``>=`` ``<`` ``<=``  numeric comparison; ``N`` is an integer, a float,
                               or an ISO 8601 time (``@timestamp:>=2024-05-01T00:00:00Z``)
``field:(a OR b OR c)``        one of several values (``in``); negated, none of them
``_exists_:field``             the field exists (``-_exists_:`` is not supported)
``word`` / ``"a phrase"``      full-text: case-insensitive substring of ``message``
=============================  ==============================================

Several bare words and phrases are joined with single spaces into **one** phrase
(``failed password`` finds messages containing ``failed password``), because a
:class:`~soc.store.base.Query` has a single ``text``.

``eq``/``in`` values stay strings, except for the known numeric ECS fields in
:data:`NUMERIC_FIELDS` (``source.port:22`` compares the number 22). Values of
comparison operators are always numbers or times. A suffix wildcard (``*.exe``),
a wildcard in the middle (``a*b``), a top-level ``OR`` and a negated full-text or
wildcard term cannot be expressed and are refused.

Examples::

    event.action:ssh_login event.outcome:failure source.ip:10.0.*
    host.name:"web 01" -user.name:root destination.port:(22 OR 3389)
    _exists_:user.name network.bytes:>=1000000 "authentication failure"

Errors raise :class:`QuerySyntaxError` naming the offending term and its character
position (0-based). :func:`parse_since` reads the ``since``/``until`` forms
(``15m``, ``2h``, ``7d``, ``1w`` ago, or an ISO 8601 time).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from soc.store.base import FieldFilter, FilterOp, Query

NUMERIC_FIELDS: frozenset[str] = frozenset(
    {
        "source.port",
        "destination.port",
        "client.port",
        "server.port",
        "process.pid",
        "process.parent.pid",
        "log.offset",
        "network.bytes",
        "network.packets",
        "source.bytes",
        "destination.bytes",
        "source.packets",
        "destination.packets",
        "http.response.status_code",
        "http.response.bytes",
        "event.severity",
        "event.duration",
        "event.sequence",
        "winlog.event_id",
    }
)
"""ECS fields whose ``eq``/``in`` values are converted to numbers."""

_COMPARISONS: tuple[tuple[str, FilterOp], ...] = ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt"))
_NEGATABLE: frozenset[str] = frozenset({"eq", "in"})


class QuerySyntaxError(ValueError):
    """A query could not be parsed; ``position`` is the 0-based character index of
    the offending term, ``term`` its text."""

    def __init__(self, message: str, position: int, term: str = "") -> None:
        super().__init__(f"{message} (at position {position})")
        self.message = message
        self.position = position
        self.term = term


class _Scanner:
    """Character-level reader over the query text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def read_word(self, stops: str = "") -> str:
        """Characters up to whitespace or one of ``stops``."""
        start = self.pos
        while (
            self.pos < len(self.text)
            and not self.text[self.pos].isspace()
            and self.text[self.pos] not in stops
        ):
            self.pos += 1
        return self.text[start : self.pos]

    def read_quoted(self) -> str:
        """A ``"..."`` string starting at the current position, with ``\\`` escapes."""
        start = self.pos
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == '"':
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise QuerySyntaxError(f"unterminated quote in {self.text[start:]!r}", start, self.text[start:])


def parse_query(text: str) -> Query:
    """Parse a query string (see the module docstring) into a :class:`Query`.

    An empty or blank string matches every event.
    """
    sc = _Scanner(text)
    filters: list[FieldFilter] = []
    words: list[str] = []
    while True:
        sc.skip_space()
        if sc.at_end():
            break
        start = sc.pos
        negate = False
        if sc.peek() == "-":
            negate = True
            sc.pos += 1
        elif text.startswith("NOT", sc.pos) and sc.pos + 3 < len(text) and text[sc.pos + 3].isspace():
            negate = True
            sc.pos += 3
            sc.skip_space()
        if sc.peek() == '"':
            phrase = sc.read_quoted()
            _refuse_negated_text(negate, text, start, sc.pos)
            if phrase:
                words.append(phrase)
            continue
        word = sc.read_word(stops=':"(')
        if sc.peek() != ":":
            rest = sc.read_word()
            term = word + rest
            if not term:
                raise QuerySyntaxError(f"unexpected {sc.peek()!r}", sc.pos, sc.peek())
            if not negate and term in ("AND",):
                continue
            if term in ("OR", "NOT"):
                raise QuerySyntaxError(
                    f"{term!r} is only supported inside field:(a OR b) or before a field term", start, term
                )
            _refuse_negated_text(negate, text, start, sc.pos)
            words.append(term)
            continue
        sc.pos += 1  # the colon
        if not word:
            raise QuerySyntaxError(f"missing field name before ':' in {_term_at(text, start)!r}", start)
        filters.extend(_field_term(sc, word, negate, start))
    return Query(filters=tuple(filters), text=" ".join(words) if words else None)


def _term_at(text: str, start: int) -> str:
    end = start
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _refuse_negated_text(negate: bool, text: str, start: int, end: int) -> None:
    if negate:
        term = text[start:end]
        raise QuerySyntaxError(f"negated full-text term {term!r} is not supported", start, term)


def _field_term(sc: _Scanner, field: str, negate: bool, start: int) -> list[FieldFilter]:
    """The filters of one ``field:...`` term; the scanner is just after the colon."""
    text = sc.text

    def fail(message: str) -> QuerySyntaxError:
        term = text[start : max(sc.pos, start + 1)] if sc.pos > start else _term_at(text, start)
        return QuerySyntaxError(message, start, term)

    if field == "_exists_":
        name = sc.read_word()
        if not name:
            raise fail("_exists_: needs a field name")
        if negate:
            raise fail(f"negated _exists_:{name} is not supported")
        return [FieldFilter(name, "exists")]
    ch = sc.peek()
    if ch == "" or ch.isspace():
        raise fail(f"missing value after '{field}:'")
    if ch == '"':
        value = sc.read_quoted()
        return [FieldFilter(field, "ne" if negate else "eq", _eq_value(field, value, fail))]
    if ch == "(":
        values = _read_group(sc, fail)
        converted = tuple(_eq_value(field, v, fail) for v in values)
        if negate:
            return [FieldFilter(field, "ne", v) for v in converted]
        return [FieldFilter(field, "in", converted)]
    for symbol, op in _COMPARISONS:
        if text.startswith(symbol, sc.pos):
            sc.pos += len(symbol)
            raw = sc.read_quoted() if sc.peek() == '"' else sc.read_word()
            if not raw:
                raise fail(f"missing value after '{field}:{symbol}'")
            if negate:
                raise fail(f"negated comparison {field}:{symbol}{raw} is not supported; invert the operator")
            return [FieldFilter(field, op, _comparison_value(raw, fail))]
    raw = sc.read_word()
    op, value = _wildcard(raw, fail)
    if negate and op not in _NEGATABLE:
        raise fail(f"negated wildcard {field}:{raw} is not supported")
    if op == "eq":
        return [FieldFilter(field, "ne" if negate else "eq", _eq_value(field, value, fail))]
    return [FieldFilter(field, op, value)]


def _read_group(sc: _Scanner, fail: Any) -> list[str]:
    """``(a OR b OR "c d")`` starting at ``(``; returns the values."""
    sc.pos += 1
    values: list[str] = []
    expect_value = True
    while True:
        sc.skip_space()
        ch = sc.peek()
        if ch == "":
            raise fail("missing ')' closing the value list")
        if ch == ")":
            sc.pos += 1
            if expect_value:
                raise fail("empty value or dangling OR in (...) list")
            return values
        if expect_value:
            values.append(sc.read_quoted() if ch == '"' else sc.read_word(stops=")"))
            expect_value = False
            continue
        word = sc.read_word(stops=")")
        if word != "OR":
            raise fail(f"expected OR or ')' in value list, found {word!r}")
        expect_value = True


def _wildcard(raw: str, fail: Any) -> tuple[FilterOp, Any]:
    """Classify an unquoted value by its ``*`` wildcards."""
    if "*" not in raw:
        return "eq", raw
    if raw == "*":
        return "exists", None
    inner = raw.strip("*")
    if "*" in inner:
        raise fail(f"wildcard inside value {raw!r} is not supported (use val*, *val* or quotes)")
    if raw.startswith("*") and raw.endswith("*"):
        return "contains", inner
    if raw.endswith("*") and not raw.startswith("*"):
        return "prefix", inner
    raise fail(f"suffix wildcard {raw!r} is not supported (use *{inner}* for contains)")


_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def _number(raw: str) -> int | float | None:
    if _INT_RE.fullmatch(raw):
        return int(raw)
    if _FLOAT_RE.fullmatch(raw):
        return float(raw)
    return None


def _eq_value(field: str, value: str, fail: Any) -> Any:
    if field not in NUMERIC_FIELDS:
        return value
    number = _number(value)
    if number is None:
        raise fail(f"{field} is numeric, {value!r} is not a number")
    return number


def _comparison_value(raw: str, fail: Any) -> int | float | datetime:
    number = _number(raw)
    if number is not None:
        return number
    try:
        return _parse_iso(raw)
    except ValueError:
        raise fail(f"comparison value {raw!r} is neither a number nor an ISO 8601 time") from None


_RELATIVE_RE = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _parse_iso(text: str) -> datetime:
    ts = datetime.fromisoformat(text.strip())
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time: ``"15m"``, ``"2h"``, ``"7d"``, ``"1w"`` (or ``"30s"``) before
    ``now``, ``"now"``, or an ISO 8601 time (a time without a zone is taken as UTC).

    Returns an aware UTC datetime; raises :class:`QuerySyntaxError` on anything else.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    stripped = text.strip()
    if stripped == "now":
        return now
    match = _RELATIVE_RE.fullmatch(stripped)
    if match:
        amount, unit = match.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        return _parse_iso(stripped)
    except ValueError:
        raise QuerySyntaxError(
            f"invalid time {text!r}: use 15m, 2h, 7d, 1w or an ISO 8601 time like 2024-05-01T00:00:00Z",
            0,
            text,
        ) from None
