"""What every detector produces: matches, which the alert stage turns into alerts.

A streaming detector has ``observe(event) -> list[Match]`` (called for every event at
ingest, after enrichment) and ``tick(now) -> list[Match]`` (called about once a second
for time-driven results). Detectors never write alerts or open stores themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
