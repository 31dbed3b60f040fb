"""Literals a regular expression needs: what lets the prefilter skip ``|re`` rules.

``required_literals(pattern, flags)`` walks the parsed pattern (``re._parser``) and
returns a set of literals one of which occurs in every text the pattern can match
(``None``: no such set is known). A run of consecutive literal characters that is not
optional is needed; a group or a repeat of at least one is needed when its content is; an
alternation needs one literal from each branch. Under ``IGNORECASE`` a run stops at
``i``/``s`` (Python matches them with ``ı``/``ſ``, which ``str.lower`` keeps apart) and at
non-ASCII characters, so "the lowercased literal occurs in the lowercased text" stays a
necessary condition, which is how the prefilter tests it.
"""

from __future__ import annotations

import re
from typing import Any

from detectors.sigma.alternatives import union_of_alternatives

try:
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

LITERAL = sre_constants.LITERAL
SUBPATTERN = sre_constants.SUBPATTERN
BRANCH = sre_constants.BRANCH
REPEATS = (
    sre_constants.MAX_REPEAT,
    sre_constants.MIN_REPEAT,
    getattr(sre_constants, "POSSESSIVE_REPEAT", None),
)
ATOMIC = getattr(sre_constants, "ATOMIC_GROUP", None)

Lits = frozenset[str]


def _ok_char(ch: str, icase: bool) -> bool:
    if not ch.isascii():
        return False
    return not (icase and ch in "iIsS")


def _better(a: Lits | None, b: Lits | None) -> Lits | None:
    """The more selective of two needs (longest shortest literal, then fewest literals)."""
    if a is None:
        return b
    if b is None:
        return a
    qa = (min(map(len, a)), -len(a))
    qb = (min(map(len, b)), -len(b))
    return a if qa >= qb else b


def _seq(items: Any, icase: bool) -> Lits | None:
    """The best need of a sequence of parsed items (all of them must match)."""
    best: Lits | None = None
    run: list[str] = []

    def flush() -> None:
        nonlocal best
        if run:
            best = _better(best, frozenset(["".join(run).lower()]))
            run.clear()

    for op, av in items:
        if op is LITERAL:
            ch = chr(av)
            if _ok_char(ch, icase):
                run.append(ch)
                continue
            flush()
            continue
        flush()
        best = _better(best, _item(op, av, icase))
    flush()
    return best


def _item(op: Any, av: Any, icase: bool) -> Lits | None:
    if op is SUBPATTERN:
        _group, add_flags, del_flags, pattern = av
        inner = (icase or bool(add_flags & re.IGNORECASE)) and not (del_flags & re.IGNORECASE)
        return _seq(pattern, inner)
    if op is ATOMIC:
        return _seq(av, icase)
    if op in REPEATS:
        low, _high, pattern = av
        return _seq(pattern, icase) if low >= 1 else None
    if op is BRANCH:
        return union_of_alternatives(av[1], lambda alternative: _seq(alternative, icase))
    return None


def required_literals(pattern: str, flags: int = 0) -> Lits | None:
    """Lowercased literals one of which every match of ``pattern`` contains, or ``None``."""
    try:
        parsed = sre_parse.parse(pattern, flags)
    except (re.error, RecursionError, OverflowError):
        return None
    icase = bool(parsed.state.flags & re.IGNORECASE)
    need = _seq(list(parsed), icase)
    if need is None or not all(need):
        return None
    return need


__all__ = ["required_literals"]
