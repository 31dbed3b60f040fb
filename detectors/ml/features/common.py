"""What every feature pipeline shares: the event tests (authentication, failure, deny,
DNS query, process start, ...) as vectorised masks over a frame, and the shape of a
feature set."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from soc.store.base import FieldFilter

ENTITY = "entity"
AGENCY = "agency"
WINDOW = "window"
KEYS = (ENTITY, WINDOW)
NO_AGENCY = "*"

SERVICE_INSTALL_CODES = frozenset({"7045", "4697"})
PRIVILEGE_CODES = frozenset({"4672", "4673", "4674"})
PROCESS_START_CODES = frozenset({"4688"})


@dataclass(frozen=True, slots=True)
class FeatureSet:
    """A feature pipeline: the fields it reads, the features it yields per
    (entity, window), and how to find the events behind an entity (``evidence``:
    store filters on the entity's value)."""

    name: str
    entity_field: str
    fields: tuple[str, ...]
    features: tuple[str, ...]
    compute: Callable[[pd.DataFrame, int, str], pd.DataFrame]
    evidence: Callable[[str], list[list[FieldFilter]]]
    description: str = ""


def has(frame: pd.DataFrame, field: str, value: str) -> pd.Series:
    """Rows whose list field (``event.category``, ``event.type``) holds ``value``."""
    if field not in frame:
        return pd.Series(False, index=frame.index)
    return frame[field].map(lambda values: value in values).astype(bool)


def text(frame: pd.DataFrame, field: str) -> pd.Series:
    if field not in frame:
        return pd.Series(None, index=frame.index, dtype=object)
    return frame[field]


def is_auth(frame: pd.DataFrame) -> pd.Series:
    return has(frame, "event.category", "authentication")


def is_failure(frame: pd.DataFrame) -> pd.Series:
    return (text(frame, "event.outcome") == "failure").fillna(False)


def is_success(frame: pd.DataFrame) -> pd.Series:
    return (text(frame, "event.outcome") == "success").fillna(False)


def is_denied(frame: pd.DataFrame) -> pd.Series:
    return has(frame, "event.type", "denied")


def is_dns_query(frame: pd.DataFrame) -> pd.Series:
    return (text(frame, "event.action") == "dns_query").fillna(False) | (
        (text(frame, "dns.type") == "query").fillna(False)
    )


def is_dns_answer(frame: pd.DataFrame) -> pd.Series:
    return (text(frame, "event.action") == "dns_answer").fillna(False) | (
        (text(frame, "dns.type") == "answer").fillna(False)
    )


def is_connection(frame: pd.DataFrame) -> pd.Series:
    """Network connections and flows (not DNS messages, which the DNS features read)."""
    return has(frame, "event.category", "network") & ~is_dns_query(frame) & ~is_dns_answer(frame)


def code(frame: pd.DataFrame) -> pd.Series:
    values = text(frame, "event.code")
    return values.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(int(v))
                      if isinstance(v, float) else str(v))  # fmt: skip


def is_process_start(frame: pd.DataFrame) -> pd.Series:
    return (has(frame, "event.category", "process") & has(frame, "event.type", "start")) | code(frame).isin(
        PROCESS_START_CODES
    )


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` (0 for an empty string)."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def agency_of(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """The agency (``organization.id``) of each group: its first non-empty value."""
    if "organization.id" not in frame:
        return pd.Series(NO_AGENCY, index=frame.groupby(keys).size().index)
    return frame.groupby(keys)["organization.id"].first().fillna(NO_AGENCY)


def finish(table: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
    """Index (entity, window) turned into columns, features as float, in order."""
    table = table.reset_index()
    for name in features:
        table[name] = table[name].astype(float).fillna(0.0) if name in table else 0.0
    if AGENCY not in table:
        table[AGENCY] = NO_AGENCY
    table[AGENCY] = table[AGENCY].fillna(NO_AGENCY)
    return table[[ENTITY, AGENCY, WINDOW, *features]]


def empty(features: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({ENTITY: pd.Series(dtype=object), AGENCY: pd.Series(dtype=object),
                         WINDOW: pd.Series(dtype="datetime64[ns, UTC]"),
                         **{f: pd.Series(dtype=float) for f in features}})  # fmt: skip


def local_hour(ts: pd.Series, zone: str) -> pd.Series:
    return ts.dt.tz_convert(zone).dt.hour


def off_hours(ts: pd.Series, zone: str, start: int = 7, end: int = 19) -> pd.Series:
    """Outside ``start``..``end`` local time, or at a weekend."""
    local = ts.dt.tz_convert(zone)
    return (local.dt.hour < start) | (local.dt.hour >= end) | (local.dt.day_of_week >= 5)


def nunique_by(frame: pd.DataFrame, keys: list[str], column: str) -> pd.Series:
    return frame.dropna(subset=[column]).groupby(keys)[column].nunique()


def as_float(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def log1p(frame: pd.DataFrame) -> np.ndarray:
    return np.log1p(np.clip(frame.to_numpy(dtype=float), 0, None))
