"""What every Windows event gets, the way Winlogbeat writes it: ``@timestamp``, ``event.*``,
``host.name``, ``log.level`` and the ``winlog.*`` object; plus small helpers the
channel mappings share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collectors.parsers.syslog import format_ts_cached
from collectors.parsers.windows.shapes import WinEvent
from soc.event import Event

_MISSING = object()
# Dotted path -> (its parts, its parents, its leaf): the mappings use a few hundred
# constant paths, so each is split once.
_PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {}


def _parts(path: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    split = _PARTS.get(path)
    if split is None:
        parts = tuple(path.split("."))
        split = (parts, parts[:-1], parts[-1])
        if len(_PARTS) < 4096:
            _PARTS[path] = split
    return split


def get_field(event: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """:func:`soc.event.get_field` (same semantics) with the path split cached."""
    value = event.get(path, _MISSING)
    if value is not _MISSING:
        return value
    node: Any = event
    for part in _parts(path)[0]:
        if not isinstance(node, Mapping):
            return default
        node = node.get(part, _MISSING)
        if node is _MISSING:
            return default
    return node


def set_field(event: Event, path: str, value: Any) -> None:
    """:func:`soc.event.set_field` (same semantics) with the path split cached."""
    _, parents, leaf = _parts(path)
    node = event
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


# Security-Auditing task (subcategory) names, from msobjs.dll via Winlogbeat's security pipeline.
SECURITY_TASKS = {
    12288: "Security State Change",
    12289: "Security System Extension",
    12290: "System Integrity",
    12291: "IPsec Driver",
    12292: "Other System Events",
    12544: "Logon",
    12545: "Logoff",
    12546: "Account Lockout",
    12547: "IPsec Main Mode",
    12548: "Special Logon",
    12549: "IPsec Quick Mode",
    12550: "IPsec Extended Mode",
    12551: "Other Logon/Logoff Events",
    12552: "Network Policy Server",
    12553: "User / Device Claims",
    12554: "Group Membership",
    12800: "File System",
    12801: "Registry",
    12802: "Kernel Object",
    12803: "SAM",
    12804: "Other Object Access Events",
    12805: "Certification Services",
    12806: "Application Generated",
    12807: "Handle Manipulation",
    12808: "File Share",
    12809: "Filtering Platform Packet Drop",
    12810: "Filtering Platform Connection",
    12811: "Detailed File Share",
    12812: "Removable Storage",
    12813: "Central Policy Staging",
    13056: "Sensitive Privilege Use",
    13057: "Non Sensitive Privilege Use",
    13058: "Other Privilege Use Events",
    13312: "Process Creation",
    13313: "Process Termination",
    13314: "DPAPI Activity",
    13315: "RPC Events",
    13316: "Plug and Play Events",
    13317: "Token Right Adjusted Events",
    13568: "Audit Policy Change",
    13569: "Authentication Policy Change",
    13570: "Authorization Policy Change",
    13571: "MPSSVC Rule-Level Policy Change",
    13572: "Filtering Platform Policy Change",
    13573: "Other Policy Change Events",
    13824: "User Account Management",
    13825: "Computer Account Management",
    13826: "Security Group Management",
    13827: "Distribution Group Management",
    13828: "Application Group Management",
    13829: "Other Account Management Events",
    14080: "Directory Service Access",
    14081: "Directory Service Changes",
    14082: "Directory Service Replication",
    14083: "Detailed Directory Service Replication",
    14336: "Credential Validation",
    14337: "Kerberos Service Ticket Operations",
    14338: "Other Account Logon Events",
    14339: "Kerberos Authentication Service",
}
EVENTLOG_TASKS = {104: "Log clear", 105: "Log full", 103: "Service shutdown"}


def task_name(w: WinEvent) -> str | None:
    """The task as Winlogbeat renders it (a name where we know it)."""
    if isinstance(w.task, str):
        return w.task
    if w.task is None:
        return None
    if w.provider == "Microsoft-Windows-Security-Auditing":
        return SECURITY_TASKS.get(w.task)
    if w.provider == "Microsoft-Windows-Eventlog":
        return EVENTLOG_TASKS.get(w.task)
    return None


def base_event(w: WinEvent, module: str | None) -> Event:
    """The fields Winlogbeat itself sets, before any module pipeline."""
    winlog: dict[str, Any] = {
        "api": "wineventlog",
        "channel": w.channel,
        "computer_name": w.computer,
        "event_id": str(w.event_id),
        "provider_name": w.provider,
    }
    if w.provider_guid:
        winlog["provider_guid"] = w.provider_guid
    if w.record_id is not None:
        winlog["record_id"] = str(w.record_id)
    if w.version is not None:
        winlog["version"] = w.version
    if w.opcode:
        winlog["opcode"] = w.opcode
    if w.keywords:
        winlog["keywords"] = list(w.keywords)
    task = task_name(w)
    if task:
        winlog["task"] = task
    if w.pid is not None:
        winlog["process"] = {"pid": w.pid, "thread": {"id": w.tid}} if w.tid is not None else {"pid": w.pid}
    if w.user_sid:
        winlog["user"] = {"identifier": w.user_sid}
    if w.activity_id:
        winlog["activity_id"] = w.activity_id
    if w.event_data:
        winlog["event_data"] = dict(w.event_data)
    if w.user_data:
        winlog["user_data"] = dict(w.user_data)
    event: dict[str, Any] = {"kind": "event", "code": str(w.event_id), "provider": w.provider}
    if module:
        event["module"] = module
    if task:
        event["action"] = task
    if "Audit Failure" in w.keywords:
        event["outcome"] = "failure"
    elif "Audit Success" in w.keywords:
        event["outcome"] = "success"
    ev: Event = {"@timestamp": format_ts_cached(w.time), "event": event, "winlog": winlog}
    if w.computer:
        ev["host"] = {"name": w.computer}
    if w.level:
        ev["log"] = {"level": w.level}
    if w.message:
        ev["message"] = w.message
    return ev


def append_related(ev: Event, kind: str, value: Any) -> None:
    """Add ``value`` to ``related.<kind>`` once (Elasticsearch ``append`` without duplicates)."""
    if value is None or value == "" or value == "-":
        return
    lst = get_field(ev, f"related.{kind}")
    if lst is None:
        set_field(ev, f"related.{kind}", [value])
    elif value not in lst:
        lst.append(value)


def to_long(text: str | None) -> int | None:
    """Java ``Long.decode``: decimal, ``0x`` hex or ``#`` hex; ``None`` when it is no number."""
    if text is None:
        return None
    s = text.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    try:
        if s[:2].lower() == "0x":
            n = int(s[2:], 16)
        elif s.startswith("#"):
            n = int(s[1:], 16)
        else:
            n = int(s, 10)
    except ValueError:
        return None
    return -n if neg else n


def basename(path: str) -> str:
    """The part after the last backslash (Winlogbeat ``splitOnToken("\\\\")[-1]``)."""
    return path.rsplit("\\", 1)[-1]


def split_args(cmd: str) -> list[str]:
    """Windows ``CommandLineToArgvW`` splitting, as Winlogbeat's Sysmon pipeline does it."""
    args: list[str] = []
    i, n = 0, len(cmd)
    while i < n:
        if cmd[i] in " \t":
            i += 1
            continue
        buf: list[str] = []
        inquote = False
        nslash = 0
        while i < n:
            c = cmd[i]
            if c in " \t" and not inquote:
                i += 1
                break
            if c == '"':
                buf.append("\\" * (nslash // 2))
                if nslash % 2 == 0:
                    if inquote and i + 1 < n and cmd[i + 1] == '"':
                        buf.append(c)
                        i += 1
                    inquote = not inquote
                else:
                    buf.append(c)
                nslash = 0
                i += 1
                continue
            if c == "\\":
                nslash += 1
                i += 1
                continue
            buf.append("\\" * nslash)
            nslash = 0
            buf.append(c)
            i += 1
        buf.append("\\" * nslash)
        args.append("".join(buf))
    return args
