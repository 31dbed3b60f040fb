"""What routing, notifications and national reports read of an alert, in one place.

:func:`alert_facts` is the only code that reads alert attributes the triage stage
adds (``risk_score``, ``security_level``, ``incident_type``, ...): it reads them with
defaults, so routing works on alerts with or without them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from detectors.base import severity_rank


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """The alert as routing and templates see it (times are ISO 8601 UTC strings)."""

    id: str
    rule_id: str
    rule_title: str
    severity: str
    status: str
    first_seen: str
    last_seen: str
    count: int
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    agency_id: str | None = None
    agency_name: str | None = None
    risk_score: int = 0
    security_level: int | None = None
    criticality: str | None = None
    incident_type: str = "other"
    system: str | None = None
    assignee: str | None = None
    mitre_tactics: tuple[str, ...] = ()
    mitre_techniques: tuple[str, ...] = ()
    entities: tuple[Any, ...] = ()
    tags: tuple[str, ...] = ()
    excerpts: tuple[str, ...] = field(default=())

    @property
    def severity_rank(self) -> int:
        return severity_rank(self.severity)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _sequence(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(value)
    if isinstance(value, dict):
        return tuple(value.items())
    return (value,)


def _level(value: Any) -> int | None:
    try:
        level = int(value)
    except (TypeError, ValueError):
        return None
    return level if 1 <= level <= 5 else None


def alert_facts(alert: Any) -> AlertFacts:
    """The :class:`AlertFacts` of a ``soc.alerts.Alert`` (attributes the triage stage
    adds are read with defaults)."""
    return AlertFacts(
        id=alert.id,
        rule_id=alert.rule_id,
        rule_title=alert.rule_title,
        severity=alert.severity,
        status=alert.status,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        count=int(alert.count),
        host=alert.host,
        user=alert.user,
        source_ip=alert.source_ip,
        agency_id=alert.agency_id,
        agency_name=alert.agency_name,
        risk_score=int(getattr(alert, "risk_score", 0) or 0),
        security_level=_level(getattr(alert, "security_level", None)),
        criticality=getattr(alert, "criticality", None),
        incident_type=str(getattr(alert, "incident_type", None) or "other"),
        system=getattr(alert, "system", None),
        assignee=getattr(alert, "assignee", None),
        mitre_tactics=_sequence(getattr(alert, "mitre_tactics", None)),
        mitre_techniques=_sequence(getattr(alert, "mitre_techniques", None)),
        entities=_sequence(getattr(alert, "entities", None)),
        tags=tuple(alert.tags or ()),
        excerpts=tuple(alert.excerpts or ()),
    )
