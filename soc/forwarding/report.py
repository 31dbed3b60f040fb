"""The report an alert becomes when it is forwarded: versioned JSON, schema ``soc.report/v1``.

Shape (every time is ISO 8601 UTC)::

    {
      "schema": "soc.report/v1",
      "report_id": "<uuid, stable for one reporter and alert>",
      "created": "2024-05-01T10:00:00.000Z",
      "reporter": {"id": "soc-province", "name": "..."},
      "summary_vi": "Cảnh báo mức cao: SSH brute force trên máy web01 từ 203.0.113.9",
      "summary_en": "High severity alert: SSH brute force on host web01 from 203.0.113.9",
      "alert": {
        "id", "rule": {"id", "title", "author", "version", "type", "description"},
        "severity", "severity_vi", "status", "first_seen", "last_seen", "count",
        "host", "user", "source_ip", "agency": {"id", "name"} | null,
        "tags", "references", "evidence_ids", "excerpts"
      }
    }

The ``report_id`` is derived from the reporter id and the alert id, so a report
re-built after a crash has the same id and a receiver can de-duplicate on it.
"""

from __future__ import annotations

import uuid
from typing import Any

from soc.alerts.model import Alert
from soc.event import format_ts, utcnow

SCHEMA = "soc.report/v1"
_REPORT_NS = uuid.UUID("5b0e3f8c-6f7e-4d55-9a4a-2f1d6c0c9e11")

SEVERITY_VI: dict[str, str] = {
    "informational": "thông tin",
    "low": "thấp",
    "medium": "trung bình",
    "high": "cao",
    "critical": "nghiêm trọng",
}
SEVERITY_EN: dict[str, str] = {
    "informational": "Informational",
    "low": "Low severity",
    "medium": "Medium severity",
    "high": "High severity",
    "critical": "Critical severity",
}


def report_id_for(reporter_id: str, alert_id: str) -> str:
    """The stable report id of one alert from one reporter."""
    return str(uuid.uuid5(_REPORT_NS, f"{reporter_id}:{alert_id}"))


def summaries(alert: Alert) -> tuple[str, str]:
    """The one-line Vietnamese and English summaries a person reads first."""
    vi = f"Cảnh báo mức {SEVERITY_VI.get(alert.severity, alert.severity)}: {alert.rule_title}"
    en = f"{SEVERITY_EN.get(alert.severity, alert.severity)} alert: {alert.rule_title}"
    if alert.host:
        vi += f" trên máy {alert.host}"
        en += f" on host {alert.host}"
    if alert.source_ip:
        vi += f" từ {alert.source_ip}"
        en += f" from {alert.source_ip}"
    if alert.user:
        vi += f" (tài khoản {alert.user})"
        en += f" (user {alert.user})"
    if alert.agency_name:
        vi += f", đơn vị {alert.agency_name}"
        en += f", agency {alert.agency_name}"
    return vi, en


def build_report(alert: Alert, *, reporter: dict[str, Any]) -> dict[str, Any]:
    """The ``soc.report/v1`` document of ``alert``; ``reporter`` is ``{"id", "name"}``."""
    reporter_id = str(reporter.get("id") or "")
    if not reporter_id:
        raise ValueError("reporter: an 'id' naming the reporting organisation is required")
    summary_vi, summary_en = summaries(alert)
    agency = (
        {"id": alert.agency_id, "name": alert.agency_name} if alert.agency_id or alert.agency_name else None
    )
    return {
        "schema": SCHEMA,
        "report_id": report_id_for(reporter_id, alert.id),
        "created": format_ts(utcnow()),
        "reporter": {"id": reporter_id, "name": str(reporter.get("name") or "")},
        "summary_vi": summary_vi,
        "summary_en": summary_en,
        "alert": {
            "id": alert.id,
            "rule": {
                "id": alert.rule_id,
                "title": alert.rule_title,
                "author": alert.rule_author,
                "version": alert.rule_version,
                "type": alert.rule_type,
                "description": alert.rule_description,
            },
            "severity": alert.severity,
            "severity_vi": SEVERITY_VI.get(alert.severity, alert.severity),
            "status": alert.status,
            "first_seen": alert.first_seen,
            "last_seen": alert.last_seen,
            "count": alert.count,
            "host": alert.host,
            "user": alert.user,
            "source_ip": alert.source_ip,
            "agency": agency,
            "tags": list(alert.tags),
            "references": list(alert.references),
            "evidence_ids": list(alert.evidence),
            "excerpts": list(alert.excerpts),
        },
    }
