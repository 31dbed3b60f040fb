"""The alert model: what every detector's matches become, as stored and served."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass(slots=True)
class Alert:
    """One alert. Times are ISO 8601 UTC strings (``...Z``) as stored.

    Triage and classification (read by routing and notification): ``risk_score``
    (0..100, :func:`soc.alerts.classify.risk_score`), ``security_level`` (1..5, the
    information system's level under Decree 85/2016) and ``criticality`` of the asset,
    ``system`` (information system name), ``incident_type`` (one of
    :data:`soc.alerts.classify.INCIDENT_TYPES`; ``incident_type_overridden`` when an
    analyst set it), ``mitre_tactics`` / ``mitre_techniques`` (from the rule's tags),
    ``entities`` (``hosts``, ``users``, ``ips``, ``domains`` of the evidence),
    ``assignee``, ``resolution`` (of a closed alert) and ``analyst_tags``.

    ``group_key`` is the canonical JSON of the values the alert is about (the rule's
    group-by values, or the entities of a single-event rule); the same rule and group
    key inside the deduplication window update one alert (``count``, ``last_seen``)
    instead of creating another. ``evidence`` lists the ids of the events behind it
    (newest last, capped), ``excerpts`` short texts of the newest of them.
    """

    id: str
    rule_id: str
    rule_title: str
    rule_type: str
    severity: str
    status: str
    group_key: str
    first_seen: str
    last_seen: str
    count: int
    created: str
    updated: str
    rule_author: str = ""
    rule_version: str = ""
    rule_description: str = ""
    host: str | None = None
    user: str | None = None
    source_ip: str | None = None
    agency_id: str | None = None
    agency_name: str | None = None
    tags: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    excerpts: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    risk_score: int = 0
    security_level: int | None = None
    criticality: str | None = None
    system: str | None = None
    incident_type: str = "other"
    incident_type_overridden: bool = False
    mitre_tactics: list[str] = field(default_factory=list)
    mitre_techniques: list[str] = field(default_factory=list)
    entities: dict[str, list[str]] = field(default_factory=dict)
    assignee: str | None = None
    resolution: str | None = None
    analyst_tags: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The alert as plain JSON-able data (lists and dicts copied one level deep;
        ``dataclasses.asdict`` costs several times more on the hot queue path)."""
        out: dict[str, Any] = {}
        for name in _FIELD_NAMES:
            value = getattr(self, name)
            if isinstance(value, list):
                value = list(value)
            elif isinstance(value, dict):
                value = {k: list(v) if isinstance(v, list) else v for k, v in value.items()}
            out[name] = value
        return out

    def to_ecs(self) -> dict[str, Any]:
        """The alert as an ECS document (``event.kind: alert``) for an index Kibana browses."""
        doc: dict[str, Any] = {
            "@timestamp": self.last_seen,
            "event": {
                "kind": "alert",
                "severity": self.severity,
                "start": self.first_seen,
                "end": self.last_seen,
            },
            "rule": {
                "id": self.rule_id,
                "name": self.rule_title,
                "author": self.rule_author,
                "description": self.rule_description,
                "version": self.rule_version,
            },
            "alert": self.to_dict(),
            "tags": list(self.tags),
            "threat": {
                "framework": "MITRE ATT&CK",
                "tactic": {"name": list(self.mitre_tactics)},
                "technique": {"id": list(self.mitre_techniques)},
            },
            "labels": {
                "incident_type": self.incident_type,
                "risk_score": str(self.risk_score),
                **({"security_level": str(self.security_level)} if self.security_level else {}),
            },
        }
        if self.host:
            doc["host"] = {"name": self.host}
        if self.user:
            doc["user"] = {"name": self.user}
        if self.source_ip:
            doc["source"] = {"ip": self.source_ip}
        if self.agency_id:
            doc["organization"] = {"id": self.agency_id, "name": self.agency_name}
        return doc


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Alert))
