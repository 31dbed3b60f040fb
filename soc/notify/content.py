"""What a notification says: the template context of an alert and the rendered message.

Times are shown in the configured zone (default ``Asia/Ho_Chi_Minh``); the context
carries both languages (``summary_vi`` / ``summary_en``, ``severity_vi`` ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from detectors.base import severity_rank
from soc.event import parse_ts
from soc.forwarding.report import SEVERITY_EN, SEVERITY_VI, summaries
from soc.notify.templates import TemplateProblem, TemplateRenderer
from soc.routing.facts import AlertFacts
from soc.routing.national import INCIDENT_TYPE_EN, INCIDENT_TYPE_VI

LAYER_VI = {
    "L1": "Thông báo cho đội ứng cứu tại chỗ của đơn vị (lớp 1)",
    "L2": "Thông báo cho Trung tâm Giám sát (lớp 2)",
    "L4": "Báo cáo Trung tâm Giám sát quốc gia (lớp 4)",
    "test": "Thông báo thử",
}
LAYER_EN = {
    "L1": "Notification to the agency's on-site team (layer 1)",
    "L2": "Notification to the SOC (layer 2)",
    "L4": "Report to the national monitoring center (layer 4)",
    "test": "Test notification",
}
NOTIFICATION_SCHEMA = "soc.notification/v1"


def shown_time(utc: str, zone: str) -> str:
    """``2024-05-01 17:00:00 +07`` from an ISO 8601 UTC string."""
    ts = parse_ts(utc).astimezone(ZoneInfo(zone))
    offset = ts.strftime("%z")
    offset = offset[:3] if offset.endswith("00") else f"{offset[:3]}:{offset[3:]}"
    return f"{ts:%Y-%m-%d %H:%M:%S} {offset}"


def alert_context(facts: AlertFacts, zone: str) -> dict[str, Any]:
    """The ``alert`` a template sees: the facts plus both languages and local times."""
    summary_vi, summary_en = summaries(facts)  # type: ignore[arg-type]  # reads the same attributes
    ctx = facts.to_dict()
    ctx.update(
        severity_vi=SEVERITY_VI.get(facts.severity, facts.severity),
        severity_en=SEVERITY_EN.get(facts.severity, facts.severity),
        incident_type_vi=INCIDENT_TYPE_VI.get(facts.incident_type, facts.incident_type),
        incident_type_en=INCIDENT_TYPE_EN.get(facts.incident_type, facts.incident_type),
        summary_vi=summary_vi,
        summary_en=summary_en,
        first_seen_local=shown_time(facts.first_seen, zone),
        last_seen_local=shown_time(facts.last_seen, zone),
        mitre_tactics=list(facts.mitre_tactics),
        mitre_techniques=list(facts.mitre_techniques),
        entities=[list(e) if isinstance(e, tuple) else e for e in facts.entities],
        tags=list(facts.tags),
        excerpts=list(facts.excerpts),
    )
    return ctx


@dataclass(slots=True)
class Message:
    """A rendered notification: e-mail subject, text and HTML bodies, and the JSON a
    webhook receives. ``problems`` are user templates that failed (defaults used)."""

    subject: str
    text: str
    html: str
    payload: dict[str, Any]
    problems: list[TemplateProblem] = field(default_factory=list)


class MessageBuilder:
    """Renders messages of alerts and digests with a :class:`TemplateRenderer`."""

    def __init__(self, renderer: TemplateRenderer, *, zone: str, soc_name: str) -> None:
        self.renderer = renderer
        self.zone = zone
        self.soc_name = soc_name

    def _render(self, slot: str, ctx: dict[str, Any], problems: list[TemplateProblem]) -> str:
        text, problem = self.renderer.render(slot, ctx)
        if problem is not None:
            problems.append(problem)
        return text

    def alert_message(self, facts: AlertFacts, *, layer: str, created: bool, reason: str) -> Message:
        alert = alert_context(facts, self.zone)
        ctx = {
            "alert": alert,
            "layer": layer,
            "layer_vi": LAYER_VI.get(layer, layer),
            "layer_en": LAYER_EN.get(layer, layer),
            "created": created,
            "reason": reason,
            "timezone": self.zone,
            "soc_name": self.soc_name,
        }
        problems: list[TemplateProblem] = []
        subject = " ".join(self._render("email_subject", ctx, problems).split())
        text = self._render("email_text", ctx, problems)
        html = self._render("email_html", ctx, problems)
        webhook_text = self._render("webhook_text", ctx, problems)
        payload = {
            "schema": NOTIFICATION_SCHEMA,
            "layer": layer,
            "created": created,
            "subject": subject,
            "text": webhook_text,
            "alert": alert,
        }
        return Message(subject, text, html, payload, problems)

    def digest_message(self, items: Sequence[dict[str, Any]]) -> Message:
        """One message for several queued notifications (their stored payloads)."""
        alerts = [item["alert"] for item in items]
        top = max(alerts, key=lambda a: severity_rank(a.get("severity", "low")))["severity"]
        ctx = {
            "items": [
                {"alert": a, "subject": item.get("subject", "")}
                for a, item in zip(alerts, items, strict=True)
            ],
            "count": len(items),
            "top_severity": top,
            "top_severity_vi": SEVERITY_VI.get(top, top),
            "timezone": self.zone,
            "soc_name": self.soc_name,
        }
        problems: list[TemplateProblem] = []
        subject = " ".join(self._render("digest_subject", ctx, problems).split())
        text = self._render("digest_text", ctx, problems)
        html = self._render("digest_html", ctx, problems)
        payload = {
            "schema": NOTIFICATION_SCHEMA,
            "digest": True,
            "count": len(items),
            "subject": subject,
            "text": text,
            "items": [{"layer": i.get("layer"), "text": i.get("text"), "alert": i["alert"]} for i in items],
        }
        return Message(subject, text, html, payload, problems)
