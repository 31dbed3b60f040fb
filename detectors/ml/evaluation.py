"""Measuring detectors: score every entity-window of a range and compare with labels
(precision, recall, ROC-AUC, false alerts per 100,000 benign entity-windows)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from detectors.ml.features.common import ENTITY
from detectors.ml.frames import load_frame
from detectors.ml.lifecycle import FeatureCache, LoadedModels, chosen
from detectors.ml.registry import ModelRegistry
from detectors.ml.settings import MLSettings
from soc.store.base import Query


def metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> dict[str, Any]:
    alert = scores >= threshold
    tp = int((alert & labels).sum())
    fp = int((alert & ~labels).sum())
    fn = int((~alert & labels).sum())
    benign = int((~labels).sum())
    out: dict[str, Any] = {
        "positives": int(labels.sum()),
        "benign": benign,
        "alerts": int(alert.sum()),
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "false_per_100k": round(fp / benign * 100_000, 2) if benign else None,
        "roc_auc": None,
    }
    if 0 < labels.sum() < len(labels):
        out["roc_auc"] = round(float(roc_auc_score(labels, scores)), 4)
    return out


def evaluate_range(
    store: Any,
    registry: ModelRegistry,
    settings: MLSettings,
    start: datetime,
    end: datetime,
    *,
    positives: set[str] = frozenset(),  # type: ignore[assignment]
    detectors: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    models = LoadedModels(registry)
    active = [(d, models.get(d.name)) for d in chosen(settings, detectors)]
    active = [(d, m) for d, m in active if m is not None]
    if not active:
        return []
    frame = load_frame(store, Query(start=start, end=end), sorted({f for d, _ in active for f in d.fields}))
    cache = FeatureCache(frame, settings)
    rows = []
    for detector, (model, _meta) in active:
        table = cache.table(detector).reset_index(drop=True)
        scores = detector.score(model, table) if len(table) else np.zeros(0)
        threshold = settings.thresholds.get(detector.name, detector.default_threshold)
        labels = (
            np.array([_positive(e, positives) for e in table[ENTITY]], dtype=bool)
            if len(table)
            else (np.zeros(0, dtype=bool))
        )
        row = {
            "detector": detector.name,
            "scored": len(table),
            "threshold": threshold,
            **metrics(scores, labels, threshold),
        }
        if len(scores):
            row.update(
                p50=round(float(np.median(scores)), 3),
                p99=round(float(np.quantile(scores, 0.99)), 3),
                max=round(float(scores.max()), 3),
            )
        rows.append(row)
    return rows


def _positive(entity: str, positives: set[str]) -> bool:
    return entity in positives or entity.split(" -> ")[0] in positives
