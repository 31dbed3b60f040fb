"""Splitting one comma-separated line (PAN-OS, pfSense ``filterlog``).

:func:`split_csv` handles RFC 4180 quoting (``"a, b"``, ``""`` for a quote inside) in
one pass, using the C ``csv`` module; an unbalanced quote is an error, not a silent
merge of the rest of the line.
"""

from __future__ import annotations

import csv


class CSVError(ValueError):
    """A line whose quoting is broken."""


def split_csv(text: str) -> list[str]:
    """The fields of one CSV line; raises :class:`CSVError` on broken quoting."""
    if '"' not in text:
        return text.split(",")
    try:
        return next(csv.reader((text,), strict=True))
    except (csv.Error, StopIteration) as exc:
        raise CSVError(f"bad CSV quoting: {exc}") from None
