"""Robust per-feature baselines: median and spread of each feature, for the whole
population of an entity class, per agency, and per entity that has enough windows of
its own. Scores are robust z-scores ``(value - median) / scale`` of transformed values,
and they explain themselves: the value, the median, the spread and the percentile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from detectors.ml.features.common import AGENCY, ENTITY, NO_AGENCY

MAD_TO_SIGMA = 1.4826
MIN_SCALE_LOG = 0.5  # on log1p values: a factor of ~1.65 is one unit
MIN_SCALE_SHARE = 0.1  # on shares in [0, 1]


def transform(name: str, values: np.ndarray) -> np.ndarray:
    """Counts and amounts on a log scale; shares, ratios and entropies as they are."""
    if is_linear(name):
        return values.astype(float)
    return np.log1p(np.clip(values.astype(float), 0, None))


def is_linear(name: str) -> bool:
    return name.endswith(("_share", "_ratio", "_entropy"))


@dataclass(slots=True)
class FeatureStats:
    """Baseline of one feature over one group of windows (raw-value quantiles for
    people, transformed median and scale for the score)."""

    median: float
    scale: float
    raw_median: float
    raw_p99: float
    windows: int

    def to_dict(self) -> dict[str, float]:
        return {"median": self.median, "scale": self.scale, "raw_median": self.raw_median,
                "raw_p99": self.raw_p99, "windows": self.windows}  # fmt: skip


def fit_stats(name: str, raw: np.ndarray) -> FeatureStats:
    values = transform(name, raw)
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med))) * MAD_TO_SIGMA
    spread = float(np.quantile(values, 0.95) - np.quantile(values, 0.05)) / 3.29
    floor = MIN_SCALE_SHARE if is_linear(name) else MIN_SCALE_LOG
    return FeatureStats(
        median=med,
        scale=max(mad, spread, floor),
        raw_median=float(np.median(raw)),
        raw_p99=float(np.quantile(raw, 0.99)),
        windows=len(raw),
    )


@dataclass(slots=True)
class RobustBaseline:
    """Baselines of ``features``: ``population[agency]`` (``"*"``: every agency) and
    ``entities[entity]`` for entities with at least ``min_entity_windows`` windows."""

    features: tuple[str, ...]
    min_entity_windows: int = 12
    min_agency_windows: int = 50
    population: dict[str, dict[str, FeatureStats]] = field(default_factory=dict)
    entities: dict[str, dict[str, FeatureStats]] = field(default_factory=dict)

    def fit(self, table: pd.DataFrame, *, per_entity: bool = True) -> RobustBaseline:
        self.population = {NO_AGENCY: self._fit_group(table)}
        for agency, rows in table.groupby(AGENCY):
            if agency != NO_AGENCY and len(rows) >= self.min_agency_windows:
                self.population[str(agency)] = self._fit_group(rows)
        self.entities = {}
        if per_entity:
            counts = table[ENTITY].value_counts()
            keep = counts[counts >= self.min_entity_windows].index
            for entity, rows in table[table[ENTITY].isin(keep)].groupby(ENTITY):
                self.entities[str(entity)] = self._fit_group(rows)
        return self

    def _fit_group(self, rows: pd.DataFrame) -> dict[str, FeatureStats]:
        return {name: fit_stats(name, rows[name].to_numpy(dtype=float)) for name in self.features}

    def stats_for(self, entity: str, agency: str) -> tuple[str, dict[str, FeatureStats]]:
        """The baseline an entity is compared with: its own, its agency's, everyone's."""
        if entity in self.entities:
            return "entity", self.entities[entity]
        if agency != NO_AGENCY and agency in self.population:
            return "agency", self.population[agency]
        return "population", self.population[NO_AGENCY]

    def zscores(self, table: pd.DataFrame, *, use_entity: bool = True) -> pd.DataFrame:
        """Robust z of every feature of every row (positive: above the baseline)."""
        out = np.zeros((len(table), len(self.features)))
        entities = table[ENTITY].astype(str).to_numpy()
        agencies = table[AGENCY].astype(str).to_numpy()
        raw = table[list(self.features)].to_numpy(dtype=float)
        cols = {n: transform(n, raw[:, j]) for j, n in enumerate(self.features)}
        groups: dict[tuple[str, str], list[int]] = {}
        for i, (entity, agency) in enumerate(zip(entities, agencies, strict=True)):
            key = (entity if use_entity and entity in self.entities else "", agency)
            groups.setdefault(key, []).append(i)
        for (entity, agency), rows in groups.items():
            _, stats = self.stats_for(entity, agency) if entity else self.stats_for("\0", agency)
            idx = np.asarray(rows)
            for j, name in enumerate(self.features):
                s = stats[name]
                out[idx, j] = (cols[name][idx] - s.median) / s.scale
        return pd.DataFrame(out, columns=list(self.features), index=table.index)

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "population": {a: {n: s.to_dict() for n, s in st.items()} for a, st in self.population.items()},
            "entities": len(self.entities),
        }


def contributions(
    baseline: RobustBaseline,
    row: pd.Series,
    z: pd.Series,
    names: tuple[str, ...],
    *,
    use_entity: bool = True,
    top: int = 3,
) -> list[dict[str, Any]]:
    """The features that drove a score, strongest first: value, baseline median and
    99th percentile (raw units), robust z, and which baseline it was measured against."""
    entity, agency = str(row[ENTITY]), str(row[AGENCY])
    kind, stats = baseline.stats_for(entity if use_entity else "\0", agency)
    ranked = sorted(names, key=lambda n: -float(z[n]))[:top]
    ranked = [n for n in ranked if float(z[n]) > 0] or ranked[:1]  # only what pushed the score up
    return [
        {
            "feature": n,
            "value": round(float(row[n]), 4),
            "baseline": kind,
            "baseline_median": round(stats[n].raw_median, 4),
            "baseline_p99": round(stats[n].raw_p99, 4),
            "baseline_windows": stats[n].windows,
            "z": round(float(z[n]), 2),
        }
        for n in ranked
    ]
