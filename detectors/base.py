"""What every detector produces: matches, which the alert stage turns into alerts.

A streaming detector has ``observe(event) -> list[Match]`` (called for every event at
ingest, after enrichment) and ``tick(now) -> list[Match]`` (called about once a second
for time-driven results). Detectors never write alerts or open stores themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from soc.event import Event

Severity = Literal["informational", "low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("informational", "low", "medium", "high", "critical")

SIGMA_LEVEL_TO_SEVERITY: dict[str, Severity] = {
    "informational": "informational",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What an alert must say of the rule that produced it."""

    id: str
    title: str
    type: str  # "sigma", "sigma_correlation", "frequency", ...
    severity: Severity
    description: str = ""
    author: str = ""
    status: str = ""
    version: str = ""
    tags: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    falsepositives: tuple[str, ...] = ()
    source_path: str = ""


@dataclass(slots=True)
class Match:
    """One detection: the rule, the events behind it, and the group it is about.

    ``group`` holds the group-by values (``{"source.ip": "1.2.3.4"}``) for
    aggregating rules, empty for single-event rules; the alert stage deduplicates on
    ``(rule.id, group)``. ``events`` are the evidence (full ECS events, newest last).
    """

    rule: RuleInfo
    events: list[Event]
    timestamp: datetime
    group: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class StreamingDetector(Protocol):
    name: str

    def observe(self, event: Event) -> list[Match]: ...

    def tick(self, now: datetime) -> list[Match]: ...


class ScheduledRule(Protocol):
    """A rule evaluated as queries over the store, one time window at a time.

    The scheduler calls :meth:`evaluate` for consecutive half-open windows
    ``[start, end)`` of event time, strictly in order and never twice for the same
    window once it has succeeded; it records every run (window, duration, hits,
    errors), catches up missed windows in order after downtime, and turns the
    returned matches into alerts. A rule that keeps state across windows (a spike's
    reference window, a new-term baseline, a flatline's last seen) exposes it through
    :meth:`snapshot` / :meth:`restore`, which the scheduler persists with the window
    it belongs to, so a restart resumes exactly where the last committed window ended.
    ``evaluate`` raises :class:`soc.store.base.StoreError` when the store cannot
    answer; the window is then retried later, not skipped.
    """

    rule: RuleInfo
    run_every: timedelta
    buffer_time: timedelta  # how far back each window reaches (its length)
    query_delay: timedelta  # how long after real time a window is evaluated (late events)

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def restore(self, state: dict[str, Any]) -> None: ...
