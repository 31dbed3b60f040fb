"""Windows event log records (JSON) to ECS, the way Winlogbeat and its ingest pipelines do.

:class:`WindowsParser` (registry name ``windows``) takes one event per record in any of
the shapes :mod:`.shapes` knows (evtx-rs JSON from :mod:`collectors.inputs.evtx`,
Winlogbeat documents, NXLog/HELK flat JSON, Sentinel ``SecurityEvent`` rows), builds the
Winlogbeat fields (:mod:`.common`) and applies the channel mapping: Security
(:mod:`.security`), Sysmon (:mod:`.sysmon`), System 7045. Other channels keep the
common fields only.
"""

from __future__ import annotations

import json

from collectors.parsers.base import ParseError
from collectors.parsers.jsonload import loads_json
from collectors.parsers.windows.common import base_event
from collectors.parsers.windows.security import map_security, map_system
from collectors.parsers.windows.shapes import PARSER_NAME, WinEvent, normalise, shape_of
from collectors.parsers.windows.sysmon import map_sysmon
from soc.event import Event, RawRecord

__all__ = ["WinEvent", "WindowsParser", "normalise", "shape_of", "to_ecs"]

_SYSMON = "microsoft-windows-sysmon/operational"
_SECURITY_PROVIDERS = frozenset({"Microsoft-Windows-Eventlog", "Microsoft-Windows-Security-Auditing"})
# Byte markers of the four shapes, looked for in the head of a record by detect().
_MARKERS = (b'"System"', b'"winlog"', b'"EventID"')
_NX_KEYS = (b'"Channel"', b'"SourceName"', b'"EventSourceName"', b'"Hostname"', b'"Computer"')
_DETECT_HEAD = 8192


def to_ecs(w: WinEvent) -> Event:
    """The ECS event of a normalised Windows event."""
    channel = w.channel.lower()
    if channel == _SYSMON or w.provider == "Microsoft-Windows-Sysmon":
        ev = base_event(w, "sysmon")
        map_sysmon(w, ev)
    elif channel == "security" and w.provider in _SECURITY_PROVIDERS:
        ev = base_event(w, "security")
        map_security(w, ev)
    elif channel == "system":
        ev = base_event(w, "system")
        map_system(w, ev)
    else:
        ev = base_event(w, None)
        if w.user_sid:
            ev["user"] = {"id": w.user_sid}
    return ev


class WindowsParser:
    """One Windows event (JSON, any known shape) per record -> one ECS event."""

    name = PARSER_NAME

    def __init__(self, timezone: str | None = None) -> None:
        self.timezone = timezone  # unused: Windows event times carry their zone (or are UTC)

    def detect(self, raw: bytes) -> bool:
        """Cheap: a JSON object whose head has the keys of one of the Windows shapes."""
        head = raw[:_DETECT_HEAD].lstrip()
        if not head.startswith(b"{"):
            return False
        if b'"Event"' in head and b'"System"' in head:
            return True
        if b'"winlog"' in head:
            return True
        return b'"EventID"' in head and any(k in head for k in _NX_KEYS)

    def parse(self, record: RawRecord) -> list[Event]:
        """Parse ``record.raw`` (UTF-8 JSON); :class:`ParseError` names what was wrong."""
        try:
            doc = loads_json(record.raw)
        except UnicodeDecodeError as exc:
            raise ParseError(f"not UTF-8 at byte {exc.start}", parser=self.name, field="json") from None
        except json.JSONDecodeError as exc:
            raise ParseError(
                f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", parser=self.name, field="json"
            ) from None
        except RecursionError:
            raise ParseError("JSON nested too deeply", parser=self.name, field="json") from None
        w = normalise(doc)
        try:
            return [to_ecs(w)]
        except (TypeError, AttributeError, KeyError, ValueError) as exc:
            raise ParseError(
                f"cannot map {w.shape} event {w.event_id}: {type(exc).__name__}: {exc}",
                parser=self.name,
                field="event",
            ) from None
