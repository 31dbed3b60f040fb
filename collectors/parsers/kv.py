"""Splitting ``key=value`` lines (FortiGate, and other ``k=v`` firewall formats).

:func:`split_kv` scans the text once, left to right, with no regular expression:
its cost is linear in the line length. Values are bare (up to the next space) or
double-quoted (``msg="a b"``, with ``\\"`` and ``\\\\`` escapes inside). Words before
the first ``key=`` (a syslog header) are skipped; a later word without ``=`` is
appended to the previous bare value (an unquoted value containing spaces), as
Filebeat's ``kv`` processor, which splits only before ``key=``, does.
"""

from __future__ import annotations


class KVError(ValueError):
    """A ``key=value`` line that cannot be split; ``column`` is where it went wrong."""

    def __init__(self, reason: str, column: int) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"{reason} at column {column}")


def split_kv(text: str) -> tuple[dict[str, str], int]:
    """``(pairs, index of the first key)``; raises :class:`KVError` on an unterminated quote.

    Later duplicates of a key win. Keys are the characters before ``=`` of a word.
    """
    pairs: dict[str, str] = {}
    n = len(text)
    i = 0
    first = -1
    last_key: str | None = None
    last_quoted = True
    while i < n:
        while i < n and text[i] == " ":
            i += 1
        if i >= n:
            break
        sp = text.find(" ", i)
        end = n if sp < 0 else sp
        eq = text.find("=", i, end)
        if eq <= i:
            # A word without '=' (or starting with '='): header before the first key, or
            # the continuation of an unquoted value with spaces.
            if last_key is not None and not last_quoted:
                pairs[last_key] += " " + text[i:end]
            i = end
            continue
        key = text[i:eq]
        if first < 0:
            first = i
        v = eq + 1
        if v < n and text[v] == '"':
            j = v + 1
            chunks: list[str] = []
            start = j
            while True:
                k = j
                while k < n and text[k] != '"' and text[k] != "\\":
                    k += 1
                if k >= n:
                    raise KVError(f"unterminated quoted value of {key[:40]!r}", v)
                if text[k] == "\\":
                    chunks.append(text[start:k])
                    chunks.append(text[k + 1 : k + 2])
                    j = start = k + 2
                    continue
                chunks.append(text[start:k])
                i = k + 1
                break
            pairs[key] = "".join(chunks)
            last_quoted = True
        else:
            pairs[key] = text[v:end]
            i = end
            last_quoted = False
        last_key = key
    return pairs, first
