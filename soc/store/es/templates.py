"""Index design: ECS mappings in composable templates, index names, retention.

Events go to daily index families, one per security level, dataset and agency:
``<prefix>-events-l<level>-<dataset>-<agency>-<yyyy.mm.dd>`` (level ``0`` when the
event carries none in ``labels.security_level``). One index template per level
(``<prefix>-events-l<level>``) composes the shared ECS mappings and, where the
cluster has ILM, names the level's delete policy (``<prefix>-retention-l<level>``,
index age parsed from the date in the name). Without ILM, :func:`expired_indices`
lists the indices past their retention for the store to delete. Alerts go to
``<prefix>-alerts`` (one index, Kibana-browsable). Installing is idempotent: a
``PUT`` of the same body is a no-op upgrade.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from soc.event import Event, get_field, parse_ts
from soc.store.es.shadow import SHADOW

LEVELS = (0, 1, 2, 3, 4, 5)
"""Security levels of information systems (Decree 85/2016: 1..5); 0 = not classified."""
LEVEL_FIELD = "labels.security_level"
TEMPLATE_VERSION = 1

_KW = {"type": "keyword", "ignore_above": 1024}
_TEXT = {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 8191}}}
_IP = {"type": "ip", "ignore_malformed": True}
_DATE = {"type": "date", "ignore_malformed": True}
_LONG = {"type": "long", "ignore_malformed": True}
_GEO = {"type": "geo_point", "ignore_malformed": True}


def _props(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Nest a ``{"a.b": mapping}`` spec into ``properties``."""
    root: dict[str, Any] = {}
    for path, mapping in spec.items():
        node = root
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = mapping
    return root


_ECS: dict[str, Any] = {
    "@timestamp": {"type": "date"},
    "message": _TEXT,
    "ecs.version": _KW,
    "event.id": _KW,
    "event.ingested": _DATE,
    "event.created": _DATE,
    "event.dataset": _KW,
    "event.action": _KW,
    "event.category": _KW,
    "event.type": _KW,
    "event.outcome": _KW,
    "event.kind": _KW,
    "event.module": _KW,
    "event.severity": _LONG,
    "event.original": {"type": "keyword", "index": False, "doc_values": False},
    "host.name": _KW,
    "host.hostname": _KW,
    "host.ip": _IP,
    "source.ip": _IP,
    "source.port": _LONG,
    "source.address": _KW,
    "source.geo.location": _GEO,
    "destination.ip": _IP,
    "destination.port": _LONG,
    "destination.address": _KW,
    "destination.geo.location": _GEO,
    "client.ip": _IP,
    "server.ip": _IP,
    "observer.ip": _IP,
    "observer.hostname": _KW,
    "related.ip": _IP,
    "related.user": _KW,
    "related.hosts": _KW,
    "user.name": _KW,
    "user.id": _KW,
    "user.domain": _KW,
    "user.effective.name": _KW,
    "process.name": _KW,
    "process.pid": _LONG,
    "process.executable": _KW,
    "process.command_line": _TEXT,
    "process.args": _KW,
    "organization.id": _KW,
    "organization.name": _TEXT,
    "log.file.path": _KW,
    "log.offset": _LONG,
    "log.level": _KW,
    "input.type": _KW,
    "labels.security_level": _KW,
    "rule.id": _KW,
    "rule.name": _TEXT,
}

_SHADOW_TEMPLATES = [
    {
        "soc_q_s": {
            "path_match": f"{SHADOW}.s.*",
            "match_mapping_type": "string",
            "mapping": {
                "type": "keyword",
                "ignore_above": 8191,
                "fields": {"lower": {"type": "keyword", "normalizer": "soc_lower", "ignore_above": 8191}},
            },
        }
    },
    {
        "soc_q_i": {
            "path_match": f"{SHADOW}.i.*",
            "match_mapping_type": "string",
            "mapping": {"type": "keyword"},
        }
    },
    {
        "soc_q_n_long": {
            "path_match": f"{SHADOW}.n.*",
            "match_mapping_type": "long",
            "mapping": {"type": "double"},
        }
    },
    {
        "soc_q_n_double": {
            "path_match": f"{SHADOW}.n.*",
            "match_mapping_type": "double",
            "mapping": {"type": "double"},
        }
    },
    {
        "soc_q_t": {
            "path_match": f"{SHADOW}.t.*",
            "match_mapping_type": "string",
            "mapping": {"type": "date_nanos", "ignore_malformed": True},
        }
    },
    {
        "soc_q_b": {
            "path_match": f"{SHADOW}.b.*",
            "match_mapping_type": "boolean",
            "mapping": {"type": "boolean"},
        }
    },
    # Anything else ECS does not name: strings as keywords, every number as double
    # (a field holding both 2 and 0.5 must not truncate), no date guessing.
    {"strings": {"match_mapping_type": "string", "mapping": _KW}},
    {"longs": {"match_mapping_type": "long", "mapping": {"type": "double"}}},
]


def ecs_component(prefix: str) -> dict[str, Any]:
    """The component template body shared by the event indices."""
    return {
        "version": TEMPLATE_VERSION,
        "template": {
            "settings": {
                "analysis": {"normalizer": {"soc_lower": {"type": "custom", "filter": ["lowercase"]}}},
                "index.mapping.total_fields.limit": 5000,
            },
            "mappings": {
                "date_detection": False,
                "numeric_detection": False,
                "_source": {"excludes": [SHADOW]},
                "dynamic_templates": _SHADOW_TEMPLATES,
                "properties": {**_props(_ECS), SHADOW: {"properties": {"x": {"type": "keyword"}}}},
            },
        },
        "_meta": {"managed_by": "soc", "description": "ECS mappings and query fields of SOC events"},
    }


def events_template(prefix: str, level: int, *, ilm: bool) -> dict[str, Any]:
    settings: dict[str, Any] = {"number_of_shards": 1}
    if ilm:
        settings["index.lifecycle.name"] = policy_name(prefix, level)
        settings["index.lifecycle.parse_origination_date"] = True
    return {
        "index_patterns": [f"{prefix}-events-l{level}-*"],
        "composed_of": [f"{prefix}-ecs"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "template": {"settings": settings},
        "_meta": {"managed_by": "soc", "security_level": level},
    }


def alerts_template(prefix: str) -> dict[str, Any]:
    alert = _props(
        {
            "@timestamp": {"type": "date"},
            "alert.id": _KW,
            "alert.status": _KW,
            "alert.count": _LONG,
            "alert.first_seen": _DATE,
            "alert.last_seen": _DATE,
            "rule.id": _KW,
            "rule.name": _TEXT,
            "rule.severity": _KW,
            "rule.tags": _KW,
            "host.name": _KW,
            "user.name": _KW,
            "source.ip": _IP,
            "organization.id": _KW,
            "event.ids": _KW,
        }
    )
    return {
        "index_patterns": [f"{prefix}-alerts"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "template": {
            "settings": {"number_of_shards": 1},
            "mappings": {
                "date_detection": False,
                "dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": _KW}}],
                "properties": alert,
            },
        },
        "_meta": {"managed_by": "soc"},
    }


def policy_name(prefix: str, level: int) -> str:
    return f"{prefix}-retention-l{level}"


def ilm_policy(days: int) -> dict[str, Any]:
    return {
        "phases": {"hot": {"actions": {}}, "delete": {"min_age": f"{days}d", "actions": {"delete": {}}}},
        "_meta": {"managed_by": "soc"},
    }


_UNSAFE = re.compile(r"[^a-z0-9_.]+")


def _part(value: Any, default: str) -> str:
    text = _UNSAFE.sub("_", str(value).lower()).strip("_.") if value is not None else ""
    return text[:60] or default


def event_level(event: Event) -> int:
    value = get_field(event, LEVEL_FIELD)
    try:
        level = int(value)
    except (TypeError, ValueError):
        return 0
    return level if level in LEVELS else 0


def index_name(prefix: str, event: Event) -> str:
    """The daily index an event belongs to."""
    day = parse_ts(event["@timestamp"]).strftime("%Y.%m.%d")
    dataset = _part(get_field(event, "event.dataset"), "unknown")
    agency = _part(get_field(event, "organization.id"), "none")
    return f"{prefix}-events-l{event_level(event)}-{dataset}-{agency}-{day}"


_DAY = re.compile(r"-l(\d)-.*-(\d{4}\.\d{2}\.\d{2})$")


def expired_indices(names: list[str], retention_days: Mapping[int, int], now: datetime) -> list[str]:
    """Event indices whose whole day is older than their level's retention."""
    out = []
    for name in names:
        m = _DAY.search(name)
        if not m:
            continue
        days = retention_days.get(int(m.group(1)))
        if days is None:
            continue
        day = datetime.strptime(m.group(2), "%Y.%m.%d").replace(tzinfo=UTC)
        if day + timedelta(days=1) <= now - timedelta(days=days):
            out.append(name)
    return out
