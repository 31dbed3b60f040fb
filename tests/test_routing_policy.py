"""The 4-layer routing policy: pure decisions per layer, and its config."""

from __future__ import annotations

from dataclasses import replace

import pytest

from soc.alerts import AlertChange
from soc.alerts.model import Alert
from soc.config import ConfigError, RoutingConfig, load_config
from soc.routing import ConfigContacts, MergedContacts, Recipients, RoutingPolicy, alert_facts
from soc.routing.policy import NationalPolicy


def make_alert(severity: str = "high", agency: str | None = "so-tttt") -> Alert:
    return Alert(
        id="a1", rule_id="r1", rule_title="SSH brute force", rule_type="sigma", severity=severity,
        status="new", group_key="{}", first_seen="2024-05-01T10:00:00.000Z",
        last_seen="2024-05-01T10:05:00.000Z", count=3, created="2024-05-01T10:00:00.000Z",
        updated="2024-05-01T10:05:00.000Z", host="web01", source_ip="203.0.113.9", agency_id=agency,
        agency_name="Sở Thông tin và Truyền thông" if agency else None,
    )  # fmt: skip


class TriagedAlert(Alert):
    """An alert with the triage stage's attributes (as the ``triage`` branch adds them)."""

    __slots__ = ("incident_type", "risk_score", "security_level", "system")


def triaged(severity: str = "high", level: int | None = 3, incident: str = "unauthorized_access") -> Alert:
    base = make_alert(severity)
    alert = TriagedAlert(**base.to_dict())
    alert.security_level = level
    alert.incident_type = incident
    alert.risk_score = 70
    alert.system = "Cổng thông tin điện tử"
    return alert


POLICY = RoutingPolicy(
    agency_min_severity="high",
    contacts=ConfigContacts(
        {
            "so-tttt": Recipients(("ops@so-tttt.gov.vn",), ("so-tttt-chat",)),
            "ubnd-tinh": Recipients(("it@ubnd.gov.vn",), (), "medium"),
        }
    ),
    soc=Recipients(("soc@tinh.gov.vn",), ("soc-chat",), "medium"),
    national=NationalPolicy(
        min_severity="high",
        min_security_level=3,
        incident_types=frozenset({"unauthorized_access", "malware"}),
    ),
    forwarding_targets=("national-cert",),
)


def layers(deliveries: list) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = {}
    for d in deliveries:
        out.setdefault(d.layer, []).append((d.channel, d.recipient))
    return out


def test_l1_agency_match_and_severity_threshold() -> None:
    high = POLICY.route_agency(alert_facts(make_alert("high")))
    assert [(d.channel, d.recipient) for d in high] == [
        ("email", "ops@so-tttt.gov.vn"),
        ("webhook", "so-tttt-chat"),
    ]
    assert all(d.layer == "L1" and "so-tttt" in d.reason for d in high)
    assert POLICY.route_agency(alert_facts(make_alert("medium"))) == []  # below the default high
    assert POLICY.route_agency(alert_facts(make_alert("critical", agency="other"))) == []  # no contacts
    assert POLICY.route_agency(alert_facts(make_alert("critical", agency=None))) == []  # no agency
    # an agency's own threshold overrides the default
    ubnd = POLICY.route_agency(alert_facts(make_alert("medium", agency="ubnd-tinh")))
    assert [(d.channel, d.recipient) for d in ubnd] == [("email", "it@ubnd.gov.vn")]
    # only the owning agency's team: so-tttt's alert never reaches ubnd-tinh
    assert "it@ubnd.gov.vn" not in [d.recipient for d in POLICY.route(make_alert("critical"))]


def test_l2_soc_every_alert_at_threshold() -> None:
    assert layers(POLICY.route(make_alert("medium", agency=None)))["L2"] == [
        ("email", "soc@tinh.gov.vn"), ("webhook", "soc-chat"),
    ]  # fmt: skip
    assert "L2" not in layers(POLICY.route(make_alert("low")))


def test_l4_by_severity_level_and_incident_type() -> None:
    ok = POLICY.route_national(alert_facts(triaged()))
    assert [(d.layer, d.channel, d.recipient, d.approval) for d in ok] == [
        ("L4", "forwarding", "national-cert", "auto")
    ]
    assert "security level 3" in ok[0].reason
    assert POLICY.route_national(alert_facts(triaged(severity="medium"))) == []
    assert POLICY.route_national(alert_facts(triaged(level=2))) == []
    assert POLICY.route_national(alert_facts(triaged(incident="defacement"))) == []
    assert POLICY.route_national(alert_facts(make_alert("critical"))) == []  # level unknown
    unknown_ok = replace(POLICY, national=replace(POLICY.national, include_unknown_level=True))
    assert POLICY.route_national(alert_facts(triaged(level=None))) == []
    assert len(unknown_ok.route_national(alert_facts(triaged(level=None)))) == 1
    assert unknown_ok.route_national(alert_facts(make_alert("critical"))) == []  # type "other": not listed
    lead = replace(POLICY, national=replace(POLICY.national, approval="soc_lead", targets=("a", "b")))
    assert [(d.recipient, d.approval) for d in lead.route_national(alert_facts(triaged(level=5)))] == [
        ("a", "soc_lead"), ("b", "soc_lead"),
    ]  # fmt: skip
    off = replace(POLICY, national=replace(POLICY.national, enabled=False))
    assert off.route_national(alert_facts(triaged())) == []
    assert off.national.why_not(alert_facts(triaged())) == "national reporting is off"


def test_route_is_pure_and_covers_every_layer() -> None:
    alert = triaged("critical")
    first, second = POLICY.route(alert), POLICY.route(alert)
    assert first == second
    assert set(layers(first)) == {"L1", "L2", "L4"}  # L3 is never routed to
    updated = POLICY.route(alert, AlertChange(alert, created=False))
    assert {d.created for d in updated} == {False}
    assert [d.recipient for d in updated] == [d.recipient for d in first]


def test_facts_adapter_defaults_without_triage_attributes() -> None:
    facts = alert_facts(make_alert())
    assert facts.security_level is None and facts.incident_type == "other" and facts.risk_score == 0
    facts = alert_facts(triaged(level=4))
    assert (facts.security_level, facts.incident_type, facts.system) == (
        4,
        "unauthorized_access",
        "Cổng thông tin điện tử",
    )


def test_contacts_from_inventory_merge_with_config() -> None:
    class Inventory:
        def agency_contacts(self, agency_id: str) -> Recipients | None:
            return (
                Recipients(("duty@so-tttt.gov.vn", "ops@so-tttt.gov.vn"), ())
                if agency_id == "so-tttt"
                else None
            )

    policy = RoutingPolicy.from_settings(
        RoutingConfig.model_validate(
            {"agency": {"contacts": [{"agency_id": "so-tttt", "emails": ["ops@so-tttt.gov.vn"]}]}}
        ),
        extra_contacts=[Inventory()],
    )
    assert isinstance(policy.contacts, MergedContacts)
    assert [d.recipient for d in policy.route_agency(alert_facts(make_alert("high")))] == [
        "ops@so-tttt.gov.vn", "duty@so-tttt.gov.vn",
    ]  # fmt: skip


def test_policy_from_shipped_config_defaults() -> None:
    settings = load_config().settings
    policy = RoutingPolicy.from_settings(settings.routing, forwarding_targets=["cert"])
    assert policy.agency_min_severity == "high"
    n = policy.national
    assert (n.enabled, n.min_severity, n.min_security_level, n.approval) == (True, "high", 3, "auto")
    assert len(n.incident_types) == 10
    assert settings.notifications.email.security == "starttls"


def test_config_refuses_l3_same_as_l2_and_unknown_webhooks(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("routing: {assessor: {organization_id: soc-province}}\n")
    with pytest.raises(ConfigError, match="independent assessor"):
        load_config(bad, environ={})
    bad.write_text("routing: {soc: {webhooks: [nope]}}\n")
    with pytest.raises(ConfigError, match="nope"):
        load_config(bad, environ={})
    bad.write_text("routing: {national: {incident_types: [phishing]}}\n")
    with pytest.raises(ConfigError, match="incident_types"):
        load_config(bad, environ={})
    bad.write_text("routing: {soc: {emails: [not-an-address]}}\n")
    with pytest.raises(ConfigError, match="e-mail"):
        load_config(bad, environ={})
