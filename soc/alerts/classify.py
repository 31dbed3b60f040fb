"""What an alert is about, derived from its rule and evidence: MITRE ATT&CK tactics and
techniques from the rule's tags, the national incident type, the entities, and the
risk score.

National incident types (the ten kinds of Circular 20/2017/TT-BTTTT reporting, keys in
English snake_case, labels in Vietnamese and English): :data:`INCIDENT_TYPES`.

The incident type is mapped from the rule's tags (:data:`TECHNIQUE_INCIDENT_TYPES`,
a technique's sub-techniques map like their parent): no mapped technique gives
``other``, techniques of one type give that type, techniques of two or more types give
``combined``. Tags ``attack.sNNNN`` (ATT&CK software) and ``malware``/``malware.*``
give ``malware``. An analyst can override it (audited, see :mod:`soc.alerts.triage`).

Risk score (0..100, monotone in each input)::

    risk = SEVERITY_POINTS[severity] + LEVEL_POINTS[security_level] + CRITICALITY_POINTS[criticality]

=============  ======  =====  ======  ====  ========
severity       info 5  low 15  medium 35  high 55  critical 70
security level none 0  1: 0   2: 4    3: 8  4: 12  5: 16
criticality    none 0  low 0  medium 4  high 8  critical 14
=============  ======  =====  ======  ====  ========

so a critical alert on a level-5 system of critical importance scores 100, a low one on
an unknown asset 15.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from soc.event import Event, get_field

INCIDENT_TYPES: dict[str, tuple[str, str]] = {
    "denial_of_service": ("Tấn công từ chối dịch vụ", "Denial of service"),
    "spoofing": ("Tấn công giả mạo", "Spoofing"),
    "malware": ("Tấn công sử dụng mã độc", "Malware"),
    "unauthorized_access": (
        "Tấn công truy cập trái phép, chiếm quyền điều khiển",
        "Unauthorized access, takeover",
    ),
    "defacement": ("Tấn công thay đổi giao diện", "Defacement"),
    "ransomware": ("Tấn công mã hóa phần mềm, dữ liệu, thiết bị", "Ransomware / encryption"),
    "destruction": ("Tấn công phá hoại thông tin, dữ liệu, phần mềm", "Destruction"),
    "espionage_data_theft": (
        "Tấn công nghe trộm, gián điệp, lấy cắp thông tin, dữ liệu",
        "Espionage, data theft",
    ),
    "combined": ("Tấn công tổng hợp sử dụng kết hợp nhiều hình thức", "Combined attack"),
    "other": ("Các hình thức tấn công mạng khác", "Other"),
}
"""Key -> (Vietnamese label, English label)."""

TECHNIQUE_INCIDENT_TYPES: dict[str, str] = {
    "T1498": "denial_of_service",  # network denial of service
    "T1499": "denial_of_service",  # endpoint denial of service
    "T1566": "spoofing",  # phishing
    "T1557": "spoofing",  # adversary-in-the-middle (ARP/DNS spoofing)
    "T1656": "spoofing",  # impersonation
    "T1204": "malware",  # user execution (of a malicious file)
    "T1105": "malware",  # ingress tool transfer
    "T1055": "malware",  # process injection
    "T1110": "unauthorized_access",  # brute force
    "T1078": "unauthorized_access",  # valid accounts
    "T1133": "unauthorized_access",  # external remote services
    "T1190": "unauthorized_access",  # exploit public-facing application
    "T1021": "unauthorized_access",  # remote services
    "T1136": "unauthorized_access",  # create account (on a taken-over host)
    "T1098": "unauthorized_access",  # account manipulation
    "T1491": "defacement",  # defacement
    "T1486": "ransomware",  # data encrypted for impact
    "T1490": "ransomware",  # inhibit system recovery
    "T1485": "destruction",  # data destruction
    "T1561": "destruction",  # disk wipe
    "T1041": "espionage_data_theft",  # exfiltration over C2 channel
    "T1048": "espionage_data_theft",  # exfiltration over alternative protocol
    "T1567": "espionage_data_theft",  # exfiltration over web service
    "T1005": "espionage_data_theft",  # data from local system
    "T1114": "espionage_data_theft",  # email collection
    "T1040": "espionage_data_theft",  # network sniffing
}
"""ATT&CK technique (parent id) -> national incident type."""

TACTICS = (
    "reconnaissance",
    "resource_development",
    "initial_access",
    "execution",
    "persistence",
    "privilege_escalation",
    "defense_evasion",
    "credential_access",
    "discovery",
    "lateral_movement",
    "collection",
    "command_and_control",
    "exfiltration",
    "impact",
)

SEVERITY_POINTS = {"informational": 5, "low": 15, "medium": 35, "high": 55, "critical": 70}
LEVEL_POINTS = {None: 0, 1: 0, 2: 4, 3: 8, 4: 12, 5: 16}
CRITICALITY_POINTS = {None: 0, "low": 0, "medium": 4, "high": 8, "critical": 14}
CRITICALITIES = ("low", "medium", "high", "critical")

ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "hosts": ("host.name", "host.hostname"),
    "users": ("user.name",),
    "ips": ("source.ip", "destination.ip"),
    "domains": ("dns.question.name", "url.domain", "destination.domain"),
}
"""Entity kind -> the ECS fields of the evidence events it is read from."""
MAX_ENTITIES = 20

_TECHNIQUE_RE = re.compile(r"^attack\.(t\d{4})(?:\.(\d{3}))?$", re.IGNORECASE)
_SOFTWARE_RE = re.compile(r"^attack\.s\d{4}$", re.IGNORECASE)


def incident_type_label(key: str) -> str:
    """``"Tấn công từ chối dịch vụ / Denial of service"`` for a type key."""
    vi, en = INCIDENT_TYPES.get(key, INCIDENT_TYPES["other"])
    return f"{vi} / {en}"


def mitre_from_tags(tags: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(tactics, techniques)`` named by Sigma-style tags (``attack.credential_access``,
    ``attack.t1110.001`` -> ``T1110.001``), in tag order without repeats."""
    tactics: list[str] = []
    techniques: list[str] = []
    for tag in tags:
        lowered = tag.lower()
        if m := _TECHNIQUE_RE.match(lowered):
            technique = m.group(1).upper() + (f".{m.group(2)}" if m.group(2) else "")
            if technique not in techniques:
                techniques.append(technique)
        elif lowered.startswith("attack."):
            tactic = lowered[len("attack.") :].replace("-", "_")
            if tactic in TACTICS and tactic not in tactics:
                tactics.append(tactic)
    return tactics, techniques


def incident_type_from_tags(tags: Iterable[str]) -> str:
    """The national incident type of a rule's tags (see the module docstring)."""
    tags = list(tags)
    kinds: set[str] = set()
    _, techniques = mitre_from_tags(tags)
    for technique in techniques:
        if kind := TECHNIQUE_INCIDENT_TYPES.get(technique.split(".")[0]):
            kinds.add(kind)
    for tag in tags:
        lowered = tag.lower()
        if _SOFTWARE_RE.match(lowered) or lowered == "malware" or lowered.startswith("malware."):
            kinds.add("malware")
    if not kinds:
        return "other"
    return kinds.pop() if len(kinds) == 1 else "combined"


def risk_score(severity: str, security_level: int | None, criticality: str | None) -> int:
    """0..100, monotone in severity, security level and criticality (module docstring)."""
    score = (
        SEVERITY_POINTS.get(severity, 0)
        + LEVEL_POINTS.get(security_level, 0)
        + CRITICALITY_POINTS.get(criticality, 0)
    )
    return max(0, min(100, score))


def entities_of(events: Sequence[Event], known: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """Hosts, users, IPs and domains of the evidence events, merged into ``known``
    (first seen first, at most :data:`MAX_ENTITIES` of each kind)."""
    entities: dict[str, list[str]] = {kind: list((known or {}).get(kind, [])) for kind in ENTITY_FIELDS}
    for event in events:
        for kind, fields in ENTITY_FIELDS.items():
            values = entities[kind]
            for name in fields:
                value = get_field(event, name)
                for item in value if isinstance(value, list) else [value]:
                    if item is None or item == "" or isinstance(item, dict | list):
                        continue
                    text = str(item)
                    if kind == "domains":
                        text = text.rstrip(".").lower()
                    if text not in values and len(values) < MAX_ENTITIES:
                        values.append(text)
    return {kind: values for kind, values in entities.items() if values}


def asset_facts(event: Event) -> dict[str, Any]:
    """The asset facts enrichment put on an event (``soc.asset.*``): system, security
    level and criticality (``None`` where unknown)."""
    level = get_field(event, "soc.asset.security_level")
    try:
        level = int(level) if level is not None else None
    except (TypeError, ValueError):
        level = None
    criticality = get_field(event, "soc.asset.criticality")
    return {
        "system": get_field(event, "soc.asset.system"),
        "security_level": level if level in (1, 2, 3, 4, 5) else None,
        "criticality": criticality if criticality in CRITICALITIES else None,
    }
