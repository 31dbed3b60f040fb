"""L4: alerts meeting the national policy become reports in the forwarding outbox.

:class:`NationalForwarder` is the forwarding service's policy
(``ForwardingService.policy``): for each alert it asks
:meth:`RoutingPolicy.route_national` which targets get a report, builds the report
(``soc.report/v1`` with an ``incident`` section: type, agency, system, security level,
times in UTC and local time, a Vietnamese summary) and writes it to the outbox:
``pending`` when approval is ``auto``, ``pending_approval`` when a SOC lead must
approve. Every approval, automatic or by a person, and every rejection is an entry in
the audit log, written in the same transaction as the outbox change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from soc.audit import AuditLog
from soc.event import parse_ts
from soc.forwarding.outbox import Outbox, OutboxRecord
from soc.forwarding.report import SEVERITY_VI, build_report
from soc.routing.facts import AlertFacts, alert_facts
from soc.routing.policy import RoutingPolicy
from soc.state import StateStore

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "soc-routing"
"""The actor of automatic approvals in the audit log."""

INCIDENT_TYPE_VI: dict[str, str] = {
    "denial_of_service": "Tấn công từ chối dịch vụ",
    "spoofing": "Tấn công giả mạo",
    "malware": "Tấn công sử dụng mã độc",
    "unauthorized_access": "Tấn công truy cập trái phép, chiếm quyền điều khiển",
    "defacement": "Tấn công thay đổi giao diện",
    "ransomware": "Tấn công mã hóa phần mềm, dữ liệu, thiết bị",
    "destruction": "Tấn công phá hoại thông tin, dữ liệu, phần mềm",
    "espionage_data_theft": "Tấn công nghe trộm, gián điệp, lấy cắp thông tin, dữ liệu",
    "combined": "Tấn công tổng hợp sử dụng kết hợp nhiều hình thức",
    "other": "Các hình thức tấn công khác",
}
INCIDENT_TYPE_EN: dict[str, str] = {
    "denial_of_service": "Denial of service",
    "spoofing": "Spoofing",
    "malware": "Malware",
    "unauthorized_access": "Unauthorized access / takeover",
    "defacement": "Defacement",
    "ransomware": "Ransomware",
    "destruction": "Destruction of data or software",
    "espionage_data_theft": "Espionage / data theft",
    "combined": "Combined attack",
    "other": "Other",
}


def local_iso(utc: str, zone: str) -> str:
    """An ISO 8601 UTC string in ``zone``, with its offset (``2024-05-01T17:00:00+07:00``)."""
    return parse_ts(utc).astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")


def incident_section(facts: AlertFacts, zone: str) -> dict[str, Any]:
    """What a national center needs beyond the alert: the incident in its terms."""
    where = facts.system or facts.host or "?"
    agency = facts.agency_name or facts.agency_id or "chưa xác định"
    level = "chưa phân loại" if facts.security_level is None else f"cấp độ {facts.security_level}"
    summary_vi = (
        f"{INCIDENT_TYPE_VI.get(facts.incident_type, facts.incident_type)} "
        f"(mức {SEVERITY_VI.get(facts.severity, facts.severity)}) vào hệ thống {where} "
        f"({level}) của {agency}, phát hiện lúc {local_iso(facts.first_seen, zone)}: {facts.rule_title}"
    )
    return {
        "type": facts.incident_type,
        "type_vi": INCIDENT_TYPE_VI.get(facts.incident_type, facts.incident_type),
        "type_en": INCIDENT_TYPE_EN.get(facts.incident_type, facts.incident_type),
        "agency": {"id": facts.agency_id, "name": facts.agency_name},
        "system": facts.system,
        "host": facts.host,
        "security_level": facts.security_level,
        "criticality": facts.criticality,
        "severity": facts.severity,
        "risk_score": facts.risk_score,
        "mitre": {"tactics": list(facts.mitre_tactics), "techniques": list(facts.mitre_techniques)},
        "first_seen_utc": facts.first_seen,
        "last_seen_utc": facts.last_seen,
        "first_seen_local": local_iso(facts.first_seen, zone),
        "last_seen_local": local_iso(facts.last_seen, zone),
        "timezone": zone,
        "summary_vi": summary_vi,
    }


def build_national_report(alert: Any, *, reporter: dict[str, Any], zone: str) -> dict[str, Any]:
    """The ``soc.report/v1`` report of ``alert`` with its ``incident`` section."""
    report = build_report(alert, reporter=reporter)
    report["incident"] = incident_section(alert_facts(alert), zone)
    return report


@dataclass(frozen=True, slots=True)
class Decision:
    """What an approver did to one outbox record."""

    record: OutboxRecord
    action: str


class NationalForwarder:
    """The L4 policy of the forwarding service (see the module docstring)."""

    def __init__(
        self,
        policy: RoutingPolicy,
        state: StateStore,
        outbox: Outbox,
        *,
        reporter: dict[str, Any],
        zone: str = "Asia/Ho_Chi_Minh",
    ) -> None:
        self.policy = policy
        self.min_severity = policy.national.min_severity
        self._state = state
        self._outbox = outbox
        self._audit = AuditLog(state)
        self.reporter = dict(reporter)
        self.zone = zone

    def enqueue(self, alert: Any) -> list[int]:
        """Outbox records of ``alert`` for every national target it qualifies for;
        returns the ids of records created now (none when they already exist)."""
        deliveries = [
            d
            for d in self.policy.route_national(alert_facts(alert))
            if not self._outbox.exists(d.recipient, alert.id)  # alert updates: reported once
        ]
        if not deliveries:
            return []
        report = build_national_report(alert, reporter=self.reporter, zone=self.zone)
        ids = []
        for delivery in deliveries:
            status = "pending" if delivery.approval == "auto" else "pending_approval"
            with self._state.transaction() as conn:
                record_id = self._outbox.enqueue(
                    delivery.recipient, alert.id, report, status=status, conn=conn
                )
                if record_id is None:
                    continue
                action = "forwarding.auto_approve" if status == "pending" else "forwarding.await_approval"
                self._audit.record(
                    actor=SYSTEM_ACTOR,
                    role="service",
                    action=action,
                    target_type="forwarding",
                    target_id=str(record_id),
                    after={
                        "status": status,
                        "target": delivery.recipient,
                        "alert_id": alert.id,
                        "report_id": report["report_id"],
                        "reason": delivery.reason,
                    },
                    conn=conn,
                )
            ids.append(record_id)
            log.info(
                "alert %s: national report to %s is %s (%s)",
                alert.id,
                delivery.recipient,
                status,
                delivery.reason,
            )
        return ids


def decide(
    state: StateStore,
    record_id: int,
    *,
    approve: bool,
    actor: str,
    role: str = "",
    source: str = "",
    note: str = "",
    now: datetime | None = None,
) -> Decision:
    """Approve or reject a report waiting as ``pending_approval``, with its audit entry
    in the same transaction. Raises ``KeyError`` / ``ValueError`` like :meth:`Outbox.decide`."""
    outbox = Outbox(state)
    audit = AuditLog(state)
    action = "forwarding.approve" if approve else "forwarding.reject"
    with state.transaction() as conn:
        record = outbox.decide(record_id, approve, conn, now=now)
        audit.record(
            actor=actor,
            role=role,
            source=source,
            action=action,
            target_type="forwarding",
            target_id=str(record_id),
            before={"status": "pending_approval"},
            after={
                "status": record.status,
                "target": record.target,
                "alert_id": record.alert_id,
                "note": note,
            },
            conn=conn,
        )
    return Decision(record, action)
