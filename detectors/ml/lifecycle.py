"""Training on a baseline window, scoring new windows, and the schedule of both.

* :func:`train` reads the last ``baseline_windows`` windows from the store, builds each
  detector's feature table and saves its model with metadata in the registry.
* :func:`score_window` scores one window ``[start, end)`` with the saved models and
  returns :class:`detectors.base.Match` objects for scores at or above the threshold,
  each with its explanation and evidence events. A model whose baseline holds fewer
  than ``min_baseline_windows`` windows raises nothing (cold start).
* :class:`MLScoringRule` is the scoring as a :class:`detectors.base.ScheduledRule` for
  the engine's rule scheduler; :func:`build_scheduler` runs training (every
  ``retrain_hours``) and scoring (every window) with APScheduler on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from detectors.base import Match, RuleInfo
from detectors.ml.detectors import DETECTORS, MLDetector
from detectors.ml.detectors.base import Finding
from detectors.ml.features.common import WINDOW
from detectors.ml.frames import load_frame
from detectors.ml.registry import ModelMeta, ModelRegistry, data_hash
from detectors.ml.settings import MLSettings
from soc.event import format_ts, utcnow
from soc.store.base import Query

log = logging.getLogger(__name__)
Progress = Callable[[str], None]


def chosen(settings: MLSettings, names: Sequence[str] | None = None) -> list[MLDetector]:
    wanted = list(names or settings.detectors or DETECTORS)
    unknown = [n for n in wanted if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown ML detector(s) {', '.join(unknown)}; known: {', '.join(DETECTORS)}")
    return [DETECTORS[n]() for n in wanted]


def align(ts: datetime, seconds: int) -> datetime:
    epoch = int(ts.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


class FeatureCache:
    """Feature tables of one frame, computed once per (feature set, span)."""

    def __init__(self, frame: pd.DataFrame, settings: MLSettings) -> None:
        self.frame = frame
        self.settings = settings
        self._tables: dict[tuple[str, int], pd.DataFrame] = {}

    def table(self, detector: MLDetector) -> pd.DataFrame:
        span = self.settings.window_seconds * detector.window_multiple
        key = (detector.feature_set, span)
        if key not in self._tables:
            self._tables[key] = detector.features(self.frame, span, self.settings.timezone)
        return self._tables[key]


@dataclass(slots=True)
class TrainReport:
    detector: str
    meta: ModelMeta | None
    rows: int
    baseline_windows: int
    cold: bool
    seconds: float
    error: str | None = None


def train(
    store: Any,
    registry: ModelRegistry,
    settings: MLSettings,
    *,
    end: datetime | None = None,
    detectors: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> list[TrainReport]:
    """Fit every chosen detector on ``[end - baseline_windows * window, end)``."""
    import time

    say = progress or (lambda _msg: None)
    end = align(end or utcnow(), settings.window_seconds)
    start = end - settings.window * settings.baseline_windows
    chosen_detectors = chosen(settings, detectors)
    fields = sorted({f for d in chosen_detectors for f in d.fields})
    say(f"reading events {format_ts(start)} .. {format_ts(end)}")
    frame = load_frame(store, Query(start=start, end=end), fields)
    say(f"{len(frame):,} events read")
    cache = FeatureCache(frame, settings)
    reports = []
    for detector in chosen_detectors:
        began = time.perf_counter()
        table = cache.table(detector)
        windows = _covered_windows(table, detector)
        say(f"{detector.name}: {len(table):,} entity-windows over {windows} windows")
        if table.empty:
            reports.append(TrainReport(detector.name, None, 0, 0, True, time.perf_counter() - began,
                                       "no events for its features in the baseline"))  # fmt: skip
            continue
        model = detector.fit(table)
        meta = ModelMeta(
            detector=detector.name, version=0, created=format_ts(utcnow()), train_start=format_ts(start),
            train_end=format_ts(end), window_seconds=settings.window_seconds * detector.window_multiple,
            features=list(detector.model_features), data_hash=data_hash(table), rows=len(table),
            baseline_windows=windows, entities=int(table["entity"].nunique()),
            agencies=sorted(str(a) for a in table["agency"].unique()),
        )  # fmt: skip
        meta = registry.save(model, meta)
        cold = windows < settings.min_baseline_windows
        reports.append(
            TrainReport(detector.name, meta, len(table), windows, cold, time.perf_counter() - began)
        )
    return reports


def _covered_windows(table: pd.DataFrame, detector: MLDetector) -> int:
    """Scoring windows the baseline covers (a span counts for all the windows in it)."""
    if table.empty:
        return 0
    return int(table[WINDOW].nunique()) * detector.window_multiple


@dataclass(slots=True)
class ScoreResult:
    matches: list[Match] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    cold: dict[str, str] = field(default_factory=dict)
    scored: dict[str, int] = field(default_factory=dict)


class LoadedModels:
    """The newest model of each detector, reloaded when a newer version is saved."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._models: dict[str, tuple[Any, ModelMeta]] = {}

    def get(self, name: str) -> tuple[Any, ModelMeta] | None:
        meta = self.registry.meta(name)
        if meta is None:
            return None
        held = self._models.get(name)
        if held is None or held[1].version != meta.version:
            loaded = self.registry.load(name, meta.version)
            if loaded is None:
                return None
            self._models[name] = loaded
        return self._models[name]


def score_window(
    store: Any,
    models: LoadedModels,
    settings: MLSettings,
    start: datetime,
    end: datetime,
    *,
    detectors: Sequence[str] | None = None,
) -> ScoreResult:
    """Score the window ``[start, end)``; detectors spanning several windows score the
    span ending at ``end`` when ``end`` is aligned to it."""
    result = ScoreResult()
    active: list[tuple[MLDetector, Any, ModelMeta]] = []
    for detector in chosen(settings, detectors):
        loaded = models.get(detector.name)
        if loaded is None:
            result.cold[detector.name] = "no model trained yet"
            continue
        model, meta = loaded
        if meta.baseline_windows < settings.min_baseline_windows:
            result.cold[detector.name] = (f"cold start: baseline holds {meta.baseline_windows} of "
                                          f"{settings.min_baseline_windows} windows")  # fmt: skip
            continue
        span = settings.window_seconds * detector.window_multiple
        if detector.window_multiple > 1 and int(end.timestamp()) % span:
            continue
        active.append((detector, model, meta))
    if not active:
        return result
    reach = max(settings.window * d.window_multiple for d, _, _ in active)
    fields = sorted({f for d, _, _ in active for f in d.fields})
    frame = load_frame(store, Query(start=end - max(reach, end - start), end=end), fields)
    cache = FeatureCache(frame, settings)
    for detector, model, _meta in active:
        span = settings.window * detector.window_multiple
        table = cache.table(detector)
        table = table[table[WINDOW] >= pd.Timestamp(end - span)] if not table.empty else table
        table = table.reset_index(drop=True)
        scores = detector.score(model, table)
        result.scored[detector.name] = len(table)
        threshold = settings.thresholds.get(detector.name, detector.default_threshold)
        for position in np.flatnonzero(scores >= threshold):
            finding = detector.finding(model, table, int(position), float(scores[position]))
            result.findings.append(finding)
            result.matches.append(
                to_match(store, detector, finding, threshold, span, settings.evidence_events)
            )
    return result


def to_match(
    store: Any,
    detector: MLDetector,
    finding: Finding,
    threshold: float,
    span: timedelta,
    evidence_events: int,
) -> Match:
    start = finding.window
    end = start + span
    events: list[dict[str, Any]] = []
    for filters in detector.evidence_filters(finding.entity, finding.extra):
        page = store.search(Query(filters=tuple(filters), start=start, end=end), size=evidence_events)
        if page.events:
            events = list(reversed(page.events))  # newest last
            break
    group = {detector.group_field: finding.entity, **{k: v for k, v in finding.extra.items() if "." in k}}
    return Match(
        rule=detector.rule,
        events=events,
        timestamp=end,
        group=group,
        details={
            "detector": detector.name,
            "score": round(finding.score, 4),
            "threshold": threshold,
            "entity": finding.entity,
            "agency": finding.agency,
            "window": {"start": format_ts(start), "end": format_ts(end)},
            "top_features": finding.top_features,
            "explanation": detector.explanation(finding),
            **{k: v for k, v in finding.extra.items() if "." not in k},
        },
    )


class MLScoringRule:
    """The ML scoring as a :class:`detectors.base.ScheduledRule`: each window the
    scheduler hands it is scored with the newest saved models."""

    def __init__(self, registry: ModelRegistry, settings: MLSettings) -> None:
        self.settings = settings
        self.models = LoadedModels(registry)
        self.rule = RuleInfo(id="ml.score", title="ML detectors / Bộ phát hiện học máy", type="ml",
                             severity="medium", author="soc detectors.ml")  # fmt: skip
        self.run_every = settings.window
        self.buffer_time = settings.window
        self.query_delay = timedelta(minutes=settings.query_delay_minutes)
        self.last_end: datetime | None = None
        self.last_cold: dict[str, str] = {}

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        result = score_window(store, self.models, self.settings, start, end)
        self.last_end = end
        self.last_cold = result.cold
        return result.matches

    def snapshot(self) -> dict[str, Any]:
        return {"last_end": format_ts(self.last_end) if self.last_end else None, "cold": self.last_cold}

    def restore(self, state: dict[str, Any]) -> None:
        from soc.event import parse_ts

        self.last_end = parse_ts(state["last_end"]) if state.get("last_end") else None
        self.last_cold = dict(state.get("cold") or {})


class MLTrainingRule:
    """Retraining as a :class:`detectors.base.ScheduledRule`: every ``retrain_hours`` the
    scheduler hands it a window and the chosen detectors are fitted on the baseline that
    ends there (the first run, at start, trains on the newest complete window's baseline)."""

    def __init__(self, registry: ModelRegistry, settings: MLSettings) -> None:
        self.settings = settings
        self.registry = registry
        self.rule = RuleInfo(id="ml.train", title="ML training / Huấn luyện học máy", type="ml",
                             severity="informational", author="soc detectors.ml")  # fmt: skip
        self.run_every = timedelta(hours=settings.retrain_hours)
        self.buffer_time = self.run_every
        self.query_delay = timedelta(minutes=settings.query_delay_minutes)
        self.last_trained: str | None = None

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        train(store, self.registry, self.settings, end=end)
        self.last_trained = format_ts(end)
        return []

    def snapshot(self) -> dict[str, Any]:
        return {"last_trained": self.last_trained}

    def restore(self, state: dict[str, Any]) -> None:
        self.last_trained = state.get("last_trained")


def engine_rules(data_dir: Path, settings: MLSettings) -> list[Any]:
    """The scheduled rules the engine runs for ML: retraining and window scoring."""
    registry = ModelRegistry.in_data_dir(data_dir)
    return [MLTrainingRule(registry, settings), MLScoringRule(registry, settings)]


def build_scheduler(
    open_store: Callable[[], Any],
    registry: ModelRegistry,
    settings: MLSettings,
    on_matches: Callable[[list[Match]], None],
    *,
    progress: Progress | None = None,
) -> Any:
    """An APScheduler ``BackgroundScheduler`` (not started) with two jobs: ``ml-train``
    every ``retrain_hours`` (first run now) and ``ml-score`` every window, each window
    scored ``query_delay_minutes`` after it closes."""
    from apscheduler.schedulers.background import BackgroundScheduler

    rule = MLScoringRule(registry, settings)

    def train_job() -> None:
        store = open_store()
        try:
            train(store, registry, settings, progress=progress)
        finally:
            store.close()

    def score_job() -> None:
        end = align(utcnow() - rule.query_delay, settings.window_seconds)
        if rule.last_end is not None and end <= rule.last_end:
            return
        store = open_store()
        try:
            on_matches(rule.evaluate(store, end - settings.window, end))
        finally:
            store.close()

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(train_job, "interval", hours=settings.retrain_hours, id="ml-train",
                      next_run_time=utcnow(), max_instances=1, coalesce=True)  # fmt: skip
    scheduler.add_job(score_job, "interval", seconds=min(60, settings.window_seconds), id="ml-score",
                      max_instances=1, coalesce=True)  # fmt: skip
    return scheduler


def status(registry: ModelRegistry, settings: MLSettings) -> list[dict[str, Any]]:
    """Per detector: its model's version, training window, baseline size, and whether it
    may alert yet (cold start) or is due for retraining."""
    rows = []
    now = utcnow()
    for name in settings.detectors or DETECTORS:
        meta = registry.meta(name)
        if meta is None:
            rows.append({"detector": name, "state": "untrained", "reason": "no model trained yet"})
            continue
        cold = meta.baseline_windows < settings.min_baseline_windows
        due = now - meta.trained_at >= timedelta(hours=settings.retrain_hours)
        rows.append({
            "detector": name,
            "state": "cold_start" if cold else "active",
            "reason": (f"baseline holds {meta.baseline_windows} of {settings.min_baseline_windows} windows; "
                       "no alerts until it holds enough") if cold else "",
            "version": meta.version,
            "trained": meta.created,
            "train_start": meta.train_start,
            "train_end": meta.train_end,
            "baseline_windows": meta.baseline_windows,
            "entity_windows": meta.rows,
            "entities": meta.entities,
            "agencies": meta.agencies,
            "features": meta.features,
            "data_hash": meta.data_hash,
            "retrain_due": due,
            "threshold": settings.thresholds.get(name, DETECTORS[name]().default_threshold),
        })  # fmt: skip
    return rows
