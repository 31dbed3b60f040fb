"""Normalise the JSON shapes a Windows event arrives in to one :class:`WinEvent`.

Shapes recognised (:func:`shape_of`):

* ``evtx``: evtx-rs / ``PyEvtxParser`` JSON, ``{"Event": {"System": .., "EventData"|"UserData": ..}}``
  (what :mod:`collectors.inputs.evtx` produces). Typed values are rendered as Windows renders
  them for Winlogbeat: numbers and booleans as text, bare GUIDs as ``{lower-case}``.
* ``winlogbeat``: a Winlogbeat document with a ``winlog`` object (``winlog.event_data`` ...).
* ``nxlog``: NXLog / HELK flat JSON (OTRF Security-Datasets): ``EventID``, ``Channel``,
  ``Hostname``, ``SourceName``, ``TimeCreated`` and the event data as top-level keys.
* ``sentinel``: Microsoft Sentinel / Log Analytics ``SecurityEvent`` rows: ``TimeGenerated``,
  ``Computer``, ``EventSourceName`` and ``EventData`` as an XML string.

Times without a zone (NXLog ``TimeCreated``) are taken as UTC.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from collectors.parsers.base import ParseError

PARSER_NAME = "windows"

_BARE_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_LEVELS = {0: "information", 1: "critical", 2: "error", 3: "warning", 4: "information", 5: "verbose"}
_LEVEL_NAMES = {
    "information": "information",
    "info": "information",
    "critical": "critical",
    "error": "error",
    "warning": "warning",
    "verbose": "verbose",
}
_OPCODES = {0: "Info", 1: "Start", 2: "Stop", 3: "DCStart", 4: "DCStop", 7: "Resume", 8: "Suspend"}
_KEYWORDS = ((0x10000000000000, "Audit Failure"), (0x20000000000000, "Audit Success"))
_NX_EVENT_TYPES = {
    "AUDIT_SUCCESS": "Audit Success",
    "AUDIT_FAILURE": "Audit Failure",
}
_NX_LEVEL_TYPES = {"INFO": "information", "WARNING": "warning", "ERROR": "error", "CRITICAL": "critical"}
# NXLog/HELK keys that describe the record, not its event data.
_NX_SYSTEM = frozenset(
    {
        "SourceName",
        "ProviderGuid",
        "TimeCreated",
        "EventTime",
        "EventReceivedTime",
        "Hostname",
        "Task",
        "Channel",
        "Message",
        "EventID",
        "Keywords",
        "Severity",
        "SeverityValue",
        "RecordNumber",
        "Version",
        "Opcode",
        "OpcodeValue",
        "ExecutionProcessID",
        "ExecutionThreadID",
        "Category",
        "AccountName",
        "AccountType",
        "Domain",
        "UserID",
        "SourceModuleName",
        "SourceModuleType",
        "@timestamp",
        "@version",
        "host",
        "port",
        "tags",
        "log_name",
        "beat",
        "ActivityID",
        "RelatedActivityID",
        "Level",
    }
)
# Sentinel SecurityEvent columns that are not event data (or are derived from it).
_SENTINEL_SYSTEM = frozenset(
    {
        "TenantId",
        "TimeGenerated",
        "SourceSystem",
        "Computer",
        "EventSourceName",
        "Channel",
        "Task",
        "Level",
        "EventData",
        "EventID",
        "Activity",
        "SourceComputerId",
        "EventOriginId",
        "MG",
        "TimeCollected",
        "ManagementGroupName",
        "Type",
        "_ResourceId",
        "Account",
        "AccountType",
        "SubjectAccount",
        "TargetAccount",
        "Process",
        "UserData",
        "EventRecordId",
        "EventLevelName",
        "EventLevel",
        "Keywords",
        "Opcode",
        "RenderedDescription",
        "Message",
    }
)


@dataclass(slots=True)
class WinEvent:
    """One Windows event, whatever shape it came in, with event data as Winlogbeat renders it."""

    event_id: int
    channel: str
    provider: str
    time: datetime
    computer: str = ""
    provider_guid: str | None = None
    record_id: int | None = None
    version: int | None = None
    level: str | None = None
    task: int | str | None = None
    opcode: str | None = None
    keywords: list[str] = field(default_factory=list)
    pid: int | None = None
    tid: int | None = None
    user_sid: str | None = None
    activity_id: str | None = None
    event_data: dict[str, str] = field(default_factory=dict)
    user_data: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    shape: str = ""


def _fail(reason: str, fld: str | None = None) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def shape_of(doc: Any) -> str | None:
    """The shape name of a decoded JSON document, or ``None`` when it is no Windows event."""
    if not isinstance(doc, dict):
        return None
    ev = doc.get("Event")
    if isinstance(ev, dict) and isinstance(ev.get("System"), dict):
        return "evtx"
    if isinstance(doc.get("winlog"), dict):
        return "winlogbeat"
    if "EventID" in doc:
        if "TimeGenerated" in doc and ("Computer" in doc or "EventSourceName" in doc):
            return "sentinel"
        if "Channel" in doc or "SourceName" in doc or "Hostname" in doc:
            return "nxlog"
    return None


def render(value: Any) -> str | None:
    """A typed value as Winlogbeat's text: ``None``/empty -> ``None``, GUIDs braced lower-case."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return render(value.get("#text"))
    if isinstance(value, list):
        parts = [p for p in (render(v) for v in value) if p is not None]
        return "\n".join(parts) if parts else None
    text = str(value)
    if not text:
        return None
    if len(text) == 36 and _BARE_GUID.match(text):
        return "{" + text.lower() + "}"
    return text


def guid(text: Any) -> str | None:
    """``{lower-case}`` form of a GUID written with or without braces."""
    if not text or not isinstance(text, str):
        return None
    return "{" + text.strip("{}").lower() + "}"


def _int(value: Any, what: str, *, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise _fail(f"missing {what}", what)
        return None
    if isinstance(value, bool):
        raise _fail(f"{what} is not a number: {value!r}", what)
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        return _int(value.get("#text"), what, required=required)
    try:
        return int(str(value).strip(), 0)
    except ValueError:
        try:
            return int(str(value).strip())
        except ValueError:
            raise _fail(f"{what} is not a number: {str(value)[:40]!r}", what) from None


def _time(text: Any, what: str) -> datetime:
    """Parse an ISO-ish timestamp (``T`` or space, ``Z``/offset/none = UTC, up to 9 digits)."""
    if not isinstance(text, str) or not text:
        raise _fail(f"missing {what}", what)
    if len(text) == 27 and text[10] == "T" and text[-1] == "Z":  # evtx-rs: 2019-03-29T21:10:39.786832Z
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    s = text.strip().replace(" ", "T", 1)
    if s.endswith(" UTC"):
        s = s[:-4]
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$", s)
    if m:
        frac = (m.group(2) or "")[:6]
        s = m.group(1) + (f".{frac.ljust(6, '0')}" if frac else "") + m.group(3)
    try:
        ts = datetime.fromisoformat(s)
    except ValueError:
        raise _fail(f"bad {what}: {text[:40]!r}", what) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _keywords(mask: Any) -> list[str]:
    try:
        value = int(mask, 16) if isinstance(mask, str) else int(mask)
    except (TypeError, ValueError):
        return []
    return [name for bit, name in _KEYWORDS if value & bit]


def _data_dict(block: Any) -> dict[str, str]:
    """evtx-rs ``EventData``/``UserData`` content -> ``{name: text}`` (unnamed data -> ``paramN``)."""
    out: dict[str, str] = {}
    if not isinstance(block, dict):
        return out
    for key, value in block.items():
        if key == "#attributes":
            continue
        if key == "Data":
            texts = value.get("#text") if isinstance(value, dict) else value
            items = texts if isinstance(texts, list) else [texts]
            for i, item in enumerate(items, 1):
                text = render(item)
                if text is not None:
                    out[f"param{i}"] = text.replace("\r\n", "\n")
            continue
        text = render(value)
        if text is not None:
            out[key] = text.replace("\r\n", "\n")  # XML end-of-line normalisation, as Winlogbeat sees it
    return out


def _from_evtx(doc: dict[str, Any]) -> WinEvent:
    ev = doc["Event"]
    system = ev["System"]
    provider = system.get("Provider") or {}
    pattrs = provider.get("#attributes", {}) if isinstance(provider, dict) else {}
    tc = system.get("TimeCreated") or {}
    when = tc.get("#attributes", {}).get("SystemTime") if isinstance(tc, dict) else None
    execution = system.get("Execution") or {}
    eattrs = execution.get("#attributes", {}) if isinstance(execution, dict) else {}
    security = system.get("Security") or {}
    sattrs = security.get("#attributes", {}) if isinstance(security, dict) else {}
    corr = system.get("Correlation") or {}
    cattrs = corr.get("#attributes", {}) if isinstance(corr, dict) else {}
    level = _int(system.get("Level"), "Level")
    opcode = _int(system.get("Opcode"), "Opcode")
    user_data: dict[str, str] = {}
    ud = ev.get("UserData")
    if isinstance(ud, dict):
        for value in ud.values():  # one wrapper element, e.g. LogFileCleared
            user_data.update(_data_dict(value))
    event_id = system.get("EventID")
    if isinstance(event_id, dict):
        event_id = event_id.get("#text")
    task = system.get("Task")
    return WinEvent(
        event_id=_int(event_id, "EventID", required=True) or 0,
        channel=str(system.get("Channel") or ""),
        provider=str(pattrs.get("Name") or pattrs.get("EventSourceName") or ""),
        provider_guid=guid(pattrs.get("Guid")),
        time=_time(when, "TimeCreated"),
        computer=str(system.get("Computer") or ""),
        record_id=_int(system.get("EventRecordID"), "EventRecordID"),
        version=_int(system.get("Version"), "Version"),
        level=_LEVELS.get(level) if level is not None else None,
        task=_int(task, "Task") if not isinstance(task, str) or task.strip().lstrip("-").isdigit() else task,
        opcode=_OPCODES.get(opcode, str(opcode)) if opcode is not None else None,
        keywords=_keywords(system.get("Keywords")),
        pid=_int(eattrs.get("ProcessID"), "ProcessID"),
        tid=_int(eattrs.get("ThreadID"), "ThreadID"),
        user_sid=_text(sattrs.get("UserID")),
        activity_id=guid(cattrs.get("ActivityID")),
        event_data=_data_dict(ev.get("EventData")),
        user_data=user_data,
        shape="evtx",
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _from_winlogbeat(doc: dict[str, Any]) -> WinEvent:
    w = doc["winlog"]
    ts = doc.get("@timestamp") or w.get("time_created")
    proc = w.get("process") or {}
    thread = proc.get("thread") or {} if isinstance(proc, dict) else {}
    user = w.get("user") or {}
    evt = doc.get("event") or {}
    log = doc.get("log") or {}
    data = w.get("event_data") or {}
    udata = w.get("user_data") or {}
    return WinEvent(
        event_id=_int(
            w.get("event_id", evt.get("code") if isinstance(evt, dict) else None), "event_id", required=True
        )
        or 0,
        channel=str(w.get("channel") or ""),
        provider=str(w.get("provider_name") or (evt.get("provider") if isinstance(evt, dict) else "") or ""),
        provider_guid=guid(w.get("provider_guid")),
        time=_time(ts, "@timestamp"),
        computer=str(w.get("computer_name") or (doc.get("host") or {}).get("name") or ""),
        record_id=_int(w.get("record_id"), "record_id"),
        version=_int(w.get("version"), "version"),
        level=_text((log.get("level") if isinstance(log, dict) else None) or w.get("level")),
        task=_text(w.get("task")),
        opcode=_text(w.get("opcode")),
        keywords=[k for k in (w.get("keywords") or []) if isinstance(k, str)]
        if isinstance(w.get("keywords"), list)
        else [],
        pid=_int(proc.get("pid") if isinstance(proc, dict) else None, "process.pid"),
        tid=_int(thread.get("id") if isinstance(thread, dict) else None, "process.thread.id"),
        user_sid=_text(user.get("identifier") if isinstance(user, dict) else None),
        activity_id=guid(w.get("activity_id")),
        event_data={k: t for k, v in data.items() if (t := render(v)) is not None}
        if isinstance(data, dict)
        else {},
        user_data={k: t for k, v in udata.items() if k != "xml_name" and (t := render(v)) is not None}
        if isinstance(udata, dict)
        else {},
        message=doc.get("message") if isinstance(doc.get("message"), str) else None,
        shape="winlogbeat",
    )


def _from_nxlog(doc: dict[str, Any]) -> WinEvent:
    data: dict[str, str] = {}
    keywords: list[str] = []
    level = None
    for key, value in doc.items():
        if key == "EventType" and isinstance(value, str):
            if value in _NX_EVENT_TYPES:
                keywords.append(_NX_EVENT_TYPES[value])
                continue
            if value in _NX_LEVEL_TYPES:
                level = _NX_LEVEL_TYPES[value]
                continue
        if key in _NX_SYSTEM:
            continue
        text = render(value)
        if text is not None:
            data[key] = text
    if not keywords and "Keywords" in doc:
        keywords = _keywords(doc["Keywords"])
    sev = doc.get("Severity")
    if isinstance(sev, str) and sev.lower() in _LEVEL_NAMES:
        level = _LEVEL_NAMES[sev.lower()]
    opcode = doc.get("Opcode")
    return WinEvent(
        event_id=_int(doc.get("EventID"), "EventID", required=True) or 0,
        channel=str(doc.get("Channel") or ""),
        provider=str(doc.get("SourceName") or ""),
        provider_guid=guid(doc.get("ProviderGuid")),
        time=_time(doc.get("TimeCreated") or doc.get("@timestamp") or doc.get("EventTime"), "TimeCreated"),
        computer=str(doc.get("Hostname") or ""),
        record_id=_int(doc.get("RecordNumber"), "RecordNumber"),
        version=_int(doc.get("Version"), "Version"),
        level=level,
        task=_int(doc.get("Task"), "Task") if str(doc.get("Task", "")).isdigit() else doc.get("Task"),
        opcode=_text(opcode),
        keywords=keywords,
        pid=_int(doc.get("ExecutionProcessID"), "ExecutionProcessID"),
        tid=_int(doc.get("ExecutionThreadID"), "ExecutionThreadID"),
        user_sid=_text(doc.get("UserID")),
        activity_id=guid(doc.get("ActivityID")),
        event_data=data,
        message=doc.get("Message") if isinstance(doc.get("Message"), str) else None,
        shape="nxlog",
    )


def _xml_data(text: str, fld: str) -> dict[str, str]:
    """``<EventData><Data Name="X">v</Data>..`` (or a UserData element) -> ``{X: v}``."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise _fail(f"{fld} is not well-formed XML: {exc}", fld) from None
    out: dict[str, str] = {}
    elems = list(root)
    if len(elems) == 1 and not elems[0].attrib.get("Name") and len(elems[0]):
        elems = list(elems[0])  # UserData wrapper element
    for i, el in enumerate(elems, 1):
        name = el.attrib.get("Name") or (
            el.tag.rsplit("}", 1)[-1] if el.tag.rsplit("}", 1)[-1] != "Data" else f"param{i}"
        )
        if el.text:
            out[name] = el.text
    return out


def _from_sentinel(doc: dict[str, Any]) -> WinEvent:
    xml = doc.get("EventData")
    if isinstance(xml, str) and xml.lstrip().startswith("<"):
        data = _xml_data(xml, "EventData")
    else:
        data = {k: t for k, v in doc.items() if k not in _SENTINEL_SYSTEM and (t := render(v)) is not None}
    udata = doc.get("UserData")
    user_data = _xml_data(udata, "UserData") if isinstance(udata, str) and udata.startswith("<") else {}
    keywords = _keywords(doc["Keywords"]) if "Keywords" in doc else []
    lvl = _int(doc.get("Level"), "Level") if str(doc.get("Level", "")).isdigit() else None
    return WinEvent(
        event_id=_int(doc.get("EventID"), "EventID", required=True) or 0,
        channel=str(doc.get("Channel") or ""),
        provider=str(doc.get("EventSourceName") or ""),
        time=_time(doc.get("TimeGenerated"), "TimeGenerated"),
        computer=str(doc.get("Computer") or ""),
        record_id=_int(doc.get("EventRecordId"), "EventRecordId"),
        level=_LEVELS.get(lvl) if lvl is not None else None,
        task=_int(doc.get("Task"), "Task") if str(doc.get("Task", "")).isdigit() else None,
        keywords=keywords,
        event_data=data,
        user_data=user_data,
        message=doc.get("Message") if isinstance(doc.get("Message"), str) else None,
        shape="sentinel",
    )


_BUILDERS = {
    "evtx": _from_evtx,
    "winlogbeat": _from_winlogbeat,
    "nxlog": _from_nxlog,
    "sentinel": _from_sentinel,
}


def normalise(doc: Any) -> WinEvent:
    """Turn a decoded JSON document into a :class:`WinEvent`; :class:`ParseError` if it is none."""
    shape = shape_of(doc)
    if shape is None:
        raise _fail("not a Windows event: no Event.System, winlog or EventID/Channel keys", "shape")
    try:
        return _BUILDERS[shape](doc)
    except ParseError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, OverflowError) as exc:
        raise _fail(f"malformed {shape} event: {type(exc).__name__}: {exc}", "shape") from None
