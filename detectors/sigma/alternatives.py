"""What the indexes know of alternatives (an OR, a value list, a regex branch): each
needs one of its own set (event codes, literals), so together they need the union, and
nothing is known as soon as one alternative is unknown (``None``: anything may match)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

X = TypeVar("X")
T = TypeVar("T")


def union_of_alternatives(
    alternatives: Iterable[X], need: Callable[[X], frozenset[T] | None]
) -> frozenset[T] | None:
    """The union of ``need(a)`` over ``alternatives``, or ``None`` at the first unknown."""
    out: set[T] = set()
    for alternative in alternatives:
        part = need(alternative)
        if part is None:
            return None
        out |= part
    return frozenset(out)
