"""The interface of an ML detector, and the robust z-score detector most of them are.

A detector reads ``fields`` of the events, turns a frame of them into a feature table
(one row per entity and window: :meth:`MLDetector.features`), learns a model from the
baseline's table (:meth:`fit`, a picklable payload) and scores new tables
(:meth:`score`) into :class:`Finding` rows. Alerting (threshold, cold start, evidence)
is the lifecycle's job (:mod:`detectors.ml.lifecycle`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from detectors.base import RuleInfo, Severity
from detectors.ml.baseline import RobustBaseline, contributions
from detectors.ml.explain import describe
from detectors.ml.features import FEATURE_SETS
from detectors.ml.features.common import AGENCY, ENTITY, WINDOW
from soc.store.base import FieldFilter


@dataclass(slots=True)
class Finding:
    """One scored entity-window, with what drove its score."""

    detector: str
    entity: str
    agency: str
    window: datetime
    score: float
    top_features: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class MLDetector(ABC):
    name: str
    title_vi: str
    title_en: str
    severity: Severity = "medium"
    tags: tuple[str, ...] = ()
    feature_set: str  # a FEATURE_SETS name, or the detector's own
    default_threshold: float
    group_field: str  # the ECS field the entity is (the alert's group)
    window_multiple: int = 1  # how many scoring windows one of its windows spans

    @property
    def rule(self) -> RuleInfo:
        return RuleInfo(
            id=f"ml.{self.name}",
            title=f"{self.title_en} / {self.title_vi}",
            type="ml",
            severity=self.severity,
            description=self.title_en,
            author="soc detectors.ml",
            tags=self.tags,
        )

    @property
    def fields(self) -> tuple[str, ...]:
        return FEATURE_SETS[self.feature_set].fields

    @property
    def feature_names(self) -> tuple[str, ...]:
        return FEATURE_SETS[self.feature_set].features

    @property
    def model_features(self) -> tuple[str, ...]:
        """The features the model is fitted on (recorded with the saved model)."""
        return self.feature_names

    def features(self, frame: pd.DataFrame, window_seconds: int, zone: str) -> pd.DataFrame:
        return FEATURE_SETS[self.feature_set].compute(frame, window_seconds, zone)

    def evidence_filters(self, entity: str, extra: dict[str, Any]) -> list[list[FieldFilter]]:
        return FEATURE_SETS[self.feature_set].evidence(entity)

    @abstractmethod
    def fit(self, table: pd.DataFrame) -> Any: ...

    @abstractmethod
    def score(self, model: Any, table: pd.DataFrame) -> np.ndarray:
        """One score per row of ``table`` (higher: more suspicious)."""

    @abstractmethod
    def explain(self, model: Any, table: pd.DataFrame, position: int) -> list[dict[str, Any]]:
        """The features that drove the score of the row at ``position``."""

    def details(self, model: Any, table: pd.DataFrame, position: int) -> dict[str, Any]:
        """Facts beside the features (a beacon's period, the domains asked, ...)."""
        return {}

    def finding(self, model: Any, table: pd.DataFrame, position: int, score: float) -> Finding:
        row = table.iloc[position]
        return Finding(
            detector=self.name,
            entity=str(row[ENTITY]),
            agency=str(row[AGENCY]),
            window=row[WINDOW].to_pydatetime(),
            score=float(score),
            top_features=self.explain(model, table, position),
            extra=self.details(model, table, position),
        )

    def explanation(self, finding: Finding) -> dict[str, str]:
        return describe(self.title_vi, self.title_en, finding.entity, finding.top_features)


class OwnTableDetector(MLDetector):
    """A detector with its own feature table instead of a shared feature set: it reads
    ``table_fields`` and ``build_table(frame, window_seconds)`` gives one row per entity
    and window with the ``table_features``."""

    table_fields: tuple[str, ...]
    table_features: tuple[str, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return self.table_fields

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.table_features

    def features(self, frame: pd.DataFrame, window_seconds: int, zone: str) -> pd.DataFrame:
        return self.build_table(frame, window_seconds)

    @abstractmethod
    def build_table(self, frame: pd.DataFrame, window_seconds: int) -> pd.DataFrame: ...


class ZScoreDetector(MLDetector):
    """Scores each row by the mean of its ``top_k`` largest robust z-scores among
    ``key_features`` (only excesses count), against the entity's own baseline when it
    has one (``use_entity``) or its agency's / everyone's. ``gate`` holds minimum raw
    values of which at least one must be met for a non-zero score: a quiet entity is
    never alerted however unusual its small numbers are."""

    key_features: tuple[str, ...]
    top_k: int = 2
    use_entity: bool = False
    gate: dict[str, float] = {}  # noqa: RUF012  (read-only class default)

    @property
    def model_features(self) -> tuple[str, ...]:
        return self.key_features

    def fit(self, table: pd.DataFrame) -> RobustBaseline:
        return RobustBaseline(self.key_features).fit(table, per_entity=self.use_entity)

    def score(self, model: RobustBaseline, table: pd.DataFrame) -> np.ndarray:
        if table.empty:
            return np.zeros(0)
        pos = np.clip(model.zscores(table, use_entity=self.use_entity).to_numpy(), 0, None)
        k = min(self.top_k, pos.shape[1])
        top = -np.sort(-pos, axis=1)[:, :k].mean(axis=1)
        if self.gate:
            ok = np.zeros(len(table), dtype=bool)
            for name, minimum in self.gate.items():
                ok |= table[name].to_numpy(dtype=float) >= minimum
            top = np.where(ok, top, 0.0)
        return top

    def explain(self, model: RobustBaseline, table: pd.DataFrame, position: int) -> list[dict[str, Any]]:
        rows = table.iloc[[position]]
        z = model.zscores(rows, use_entity=self.use_entity).iloc[0]
        return contributions(model, rows.iloc[0], z, self.key_features, use_entity=self.use_entity)
