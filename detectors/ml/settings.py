"""The ML lifecycle's settings (``detection.ml`` of the config), as a plain dataclass
so detectors need nothing of ``soc.config``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any


@dataclass(frozen=True, slots=True)
class MLSettings:
    enabled: bool = True
    window_minutes: int = 10
    baseline_windows: int = 1008  # training reads this many windows back (7 days of 10 minutes)
    min_baseline_windows: int = 144  # cold start: no alerts before the baseline holds this many
    retrain_hours: float = 24.0
    query_delay_minutes: int = 2
    detectors: tuple[str, ...] = ()  # empty: every registered detector
    thresholds: dict[str, float] = field(default_factory=dict)
    evidence_events: int = 20
    timezone: str = "Asia/Ho_Chi_Minh"

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def window_seconds(self) -> int:
        return self.window_minutes * 60

    @classmethod
    def from_config(cls, ml: Any, timezone: str) -> MLSettings:
        return cls(
            enabled=ml.enabled,
            window_minutes=ml.window_minutes,
            baseline_windows=ml.baseline_windows,
            min_baseline_windows=ml.min_baseline_windows,
            retrain_hours=ml.retrain_hours,
            query_delay_minutes=ml.query_delay_minutes,
            detectors=tuple(ml.detectors),
            thresholds=dict(ml.thresholds),
            evidence_events=ml.evidence_events,
            timezone=timezone,
        )
