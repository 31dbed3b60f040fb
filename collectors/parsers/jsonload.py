"""JSON decoding for the JSON-to-ECS parsers: ``json.loads`` results, at orjson speed."""

from __future__ import annotations

import json
from typing import Any

import orjson

# orjson reads an integer beyond 64 bits as a float where json keeps an int: texts with
# a run of 19+ digits go to json (19 digits: below -2**63 too). Found by mapping digits
# to "0" and the rest to "x" (bytes.translate: ten times faster than a regex search).
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_RUN = b"0" * 19


def loads_json(raw: bytes) -> Any:
    """``json.loads(raw)``, via orjson when that gives the same result (several times
    faster); what orjson refuses (a BOM, NaN, lone surrogates, ...) or may read
    differently (integers beyond 64 bits) goes to ``json``, so that results and errors
    stay exactly those of ``json.loads``."""
    if _LONG_RUN not in raw.translate(_DIGIT_MAP):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    return json.loads(raw)
