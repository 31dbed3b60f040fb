"""Notification templates: the sandbox, bilingual defaults in local time, user
overrides and their fallback with the file and line of the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from soc.notify.content import MessageBuilder
from soc.notify.templates import TEMPLATE_NAMES, TemplateRenderer
from soc.routing.facts import AlertFacts

FACTS = AlertFacts(
    id="a1",
    rule_id="r1",
    rule_title="SSH brute force <script>alert(1)</script>",
    severity="high",
    status="new",
    first_seen="2024-05-01T10:00:00.000Z",
    last_seen="2024-05-01T10:05:00.000Z",
    count=3,
    host="web01",
    source_ip="203.0.113.9",
    agency_id="so-tttt",
    agency_name="Sở Thông tin và Truyền thông",
    security_level=3,
    incident_type="unauthorized_access",
)


def builder(**overrides: Path) -> MessageBuilder:
    return MessageBuilder(
        TemplateRenderer({k: str(v) for k, v in overrides.items()}),
        zone="Asia/Ho_Chi_Minh",
        soc_name="SOC tỉnh",
    )


def test_default_templates_are_bilingual_in_local_time_and_html_escaped() -> None:
    msg = builder().alert_message(FACTS, layer="L1", created=True, reason="r")
    assert msg.problems == []
    assert msg.subject.startswith("[SOC][CAO] Cảnh báo mới: SSH brute force")
    assert "New alert [HIGH]" in msg.subject and "\n" not in msg.subject
    assert "Cảnh báo mức cao: SSH brute force" in msg.text and "High severity alert" in msg.text
    assert "2024-05-01 17:00:00 +07" in msg.text  # 10:00 UTC shown in Asia/Ho_Chi_Minh
    assert "Tấn công truy cập trái phép" in msg.text and "Unauthorized access" in msg.text
    assert "<script>" not in msg.html and "&lt;script&gt;" in msg.html  # autoescaped
    assert "<script>" in msg.text  # plain text is not HTML-escaped
    assert msg.payload["alert"]["first_seen_local"] == "2024-05-01 17:00:00 +07"
    assert msg.payload["schema"] == "soc.notification/v1" and msg.payload["text"]
    updated = builder().alert_message(FACTS, layer="L2", created=False, reason="r")
    assert "Cảnh báo cập nhật" in updated.subject and "Updated alert" in updated.subject


def test_digest_template() -> None:
    b = builder()
    items = [b.alert_message(FACTS, layer="L2", created=True, reason="r").payload for _ in range(3)]
    msg = b.digest_message(items)
    assert msg.subject.startswith("[SOC] 3 cảnh báo (cao nhất: cao) / 3 alerts (highest: high)")
    assert (
        msg.text.count("(a1)") == 3
        and msg.text.count("203.0.113.9") == 6
        and msg.payload["digest"]
        and msg.payload["count"] == 3
    )


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ alert.__class__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{% set x = alert.update({'id': 'pwned'}) %}{{ x }}",
    ],
)
def test_sandbox_escape_is_refused_and_default_used(tmp_path: Path, attack: str, caplog) -> None:
    path = tmp_path / "evil.txt.j2"
    path.write_text("line one\n" + attack + "\n")
    msg = builder(email_text=path).alert_message(FACTS, layer="L1", created=True, reason="r")
    assert len(msg.problems) == 1
    problem = msg.problems[0]
    assert problem.slot == "email_text" and problem.path == str(path)
    assert "SecurityError" in problem.message or "UndefinedError" in problem.message
    assert problem.line == 2
    assert "Cảnh báo mức cao" in msg.text  # the shipped template, the notification is not lost
    assert "uid=" not in msg.text and "pwned" not in msg.text and "mro" not in msg.text
    assert f"{path}:2" in caplog.text


def test_user_template_override_and_syntax_error_line(tmp_path: Path) -> None:
    good = tmp_path / "subject.txt.j2"
    good.write_text("ALERT {{ alert.severity_en }} {{ alert.host }} {{ alert.last_seen_local }}\n")
    msg = builder(email_subject=good).alert_message(FACTS, layer="L1", created=True, reason="r")
    assert msg.subject == "ALERT High severity web01 2024-05-01 17:05:00 +07" and not msg.problems
    broken = tmp_path / "broken.html.j2"
    broken.write_text("<p>ok</p>\n<p>{{ alert.host </p>\n{% for %}\n")
    msg = builder(email_html=broken).alert_message(FACTS, layer="L1", created=True, reason="r")
    assert msg.problems[0].line == 2 and "TemplateSyntaxError" in msg.problems[0].message
    assert "<h2>" in msg.html  # shipped HTML
    typo = tmp_path / "typo.txt.j2"
    typo.write_text("a\nb\n{{ alert.hots.name }}\n")
    msg = builder(webhook_text=typo).alert_message(FACTS, layer="L1", created=True, reason="r")
    assert msg.problems[0].line == 3 and "hots" in msg.problems[0].message
    missing = tmp_path / "missing.txt.j2"
    msg = builder(email_text=missing).alert_message(FACTS, layer="L1", created=True, reason="r")
    assert msg.problems[0].path == str(missing) and "Cảnh báo" in msg.text


def test_unknown_slot_refused() -> None:
    with pytest.raises(ValueError, match="unknown template slots"):
        TemplateRenderer({"sms": "/x"})
    assert "email_subject" in TEMPLATE_NAMES
