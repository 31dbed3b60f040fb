"""Sysmon (Microsoft-Windows-Sysmon/Operational) to ECS, after Winlogbeat's ``sysmon``
ingest pipeline (x-pack/winlogbeat/module/sysmon/ingest/sysmon.yml, 8.x): process,
file, network, DNS, registry and user fields, hashes and ``related.*``.

Not done (needs data we do not have offline): ``network.community_id``, the
registered-domain split of ``dns.question.name`` and SID-to-name lookups.
"""

from __future__ import annotations

import re

from collectors.parsers.syslog import format_ts_cached
from collectors.parsers.windows.common import (
    append_related,
    basename,
    get_field,
    set_field,
    split_args,
    to_long,
)
from collectors.parsers.windows.shapes import WinEvent
from soc.event import Event

_P, _F, _N, _C, _R = "process", "file", "network", "configuration", "registry"
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "1": ((_P,), ("start",), "Process creation"),
    "2": ((_F,), ("change",), "A process changed a file creation time"),
    "3": ((_N,), ("start", "connection", "protocol"), "Network connection"),
    "4": ((_P,), ("change",), "Sysmon service state changed"),
    "5": ((_P,), ("end",), "Process terminated"),
    "6": (("driver",), ("start",), "Driver loaded"),
    "7": ((_P,), ("change",), "Image loaded"),
    "8": ((_P,), ("change",), "CreateRemoteThread"),
    "9": ((_P,), ("access",), "RawAccessRead"),
    "10": ((_P,), ("access",), "ProcessAccess"),
    "11": ((_F,), ("creation",), "FileCreate"),
    "12": ((_C, _R), ("change",), "RegistryEvent (Object create and delete)"),
    "13": ((_C, _R), ("change",), "RegistryEvent (Value Set)"),
    "14": ((_C, _R), ("change",), "RegistryEvent (Key and Value Rename)"),
    "15": ((_F,), ("access",), "FileCreateStreamHash"),
    "16": ((_C,), ("change",), "ServiceConfigurationChange"),
    "17": ((_F,), ("creation",), "PipeEvent (Pipe Created)"),
    "18": ((_F,), ("access",), "PipeEvent (Pipe Connected)"),
    "19": ((_P,), ("info",), "WmiEvent (WmiEventFilter activity detected)"),
    "20": ((_P,), ("change",), "WmiEvent (WmiEventConsumer activity detected)"),
    "21": ((_P,), ("access",), "WmiEvent (WmiEventConsumerToFilter activity detected)"),
    "22": ((_N,), ("connection", "protocol", "info"), "DNSEvent (DNS query)"),
    "23": ((_F,), ("deletion",), "FileDelete (File Delete archived)"),
    "24": ((), ("change",), "ClipboardChange (New content in the clipboard)"),
    "25": ((_P,), ("change",), "ProcessTampering (Process image change)"),
    "26": ((_F,), ("deletion",), "FileDeleteDetected (File Delete logged)"),
    "27": ((_F,), ("creation",), "FileBlockExecutable"),
    "28": ((_F,), ("deletion",), "FileBlockShredding"),
    "29": ((_F,), ("creation",), "FileExecutableDetected"),
    "255": ((_P,), (), "Error"),
}
_PROCESS_HASH_CODES = frozenset({"1", "23", "24", "25", "26"})
_FILE_HASH_CODES = frozenset({"6", "7", "15", "26", "29"})
_HIVES = {
    "HKEY_CLASSES_ROOT": "HKCR",
    "HKCR": "HKCR",
    "HKEY_CURRENT_CONFIG": "HKCC",
    "HKCC": "HKCC",
    "HKEY_CURRENT_USER": "HKCU",
    "HKCU": "HKCU",
    "HKEY_DYN_DATA": "HKDD",
    "HKDD": "HKDD",
    "HKEY_LOCAL_MACHINE": "HKLM",
    "HKLM": "HKLM",
    "HKEY_PERFORMANCE_DATA": "HKPD",
    "HKPD": "HKPD",
    "HKEY_USERS": "HKU",
    "HKU": "HKU",
}
_QWORD = re.compile(r"(?i)QWORD \(((0x[0-9A-F]{8})-(0x[0-9A-F]{8}))\)")
_DWORD = re.compile(r"(?i)DWORD \((0x[0-9A-F]{8})\)")
_DNS_TYPES = {
    "1": "A",
    "2": "NS",
    "5": "CNAME",
    "6": "SOA",
    "12": "PTR",
    "15": "MX",
    "16": "TXT",
    "28": "AAAA",
    "33": "SRV",
    "255": "ANY",
}
_V4MAPPED = re.compile(r"^\[?::ffff:([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)(?:\](?::[0-9]+)?)?$")
_EMPTY = (None, "", "-", "{00000000-0000-0000-0000-000000000000}")
_UTC_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{3})$")


def map_sysmon(w: WinEvent, ev: Event) -> None:
    """Apply the Sysmon pipeline to ``ev`` (built by :func:`common.base_event`)."""
    code = str(w.event_id)
    ed = {k: v for k, v in w.event_data.items() if v not in _EMPTY}
    m = _UTC_TIME.match(ed.get("UtcTime", ""))
    if m:
        ev["@timestamp"] = f"{m.group(1)}T{m.group(2)}.{m.group(3)}Z"
    ev["event"]["created"] = format_ts_cached(w.time)
    cat = CATEGORIES.get(code)
    if cat:
        if cat[0]:
            ev["event"]["category"] = list(cat[0])
        if cat[1]:
            ev["event"]["type"] = list(cat[1])
        ev["event"]["action"] = cat[2]
        if code in ("27", "255"):
            ev["event"]["outcome"] = "failure"
    if ed.get("RuleName"):
        set_field(ev, "rule.name", ed["RuleName"])
    hashes = _hashes(ed.get("Hashes") or ed.get("Hash"))
    if hashes:
        for value in hashes.values():
            append_related(ev, "hash", value)
        target = "process" if code in _PROCESS_HASH_CODES else "file" if code in _FILE_HASH_CODES else None
        if target:
            imphash = hashes.pop("imphash", None)
            if hashes:
                set_field(ev, f"{target}.hash", hashes)
            if imphash:
                set_field(ev, f"{target}.pe.imphash", imphash)
    _process(code, ev, ed)
    _file(code, ev, ed)
    _network(code, ev, ed)
    if w.user_sid:
        set_field(ev, "user.id", w.user_sid)
    parts = ed["User"].split("\\") if "User" in ed else []
    if len(parts) == 2:
        if parts[0]:
            set_field(ev, "user.domain", parts[0])
        if parts[1]:
            set_field(ev, "user.name", parts[1])
    if ed.get("QueryStatus"):
        set_field(ev, "sysmon.dns.status", ed["QueryStatus"])
    if ed.get("Archived"):
        set_field(ev, "sysmon.file.archived", ed["Archived"].lower() == "true")
    if ed.get("IsExecutable"):
        set_field(ev, "sysmon.file.is_executable", ed["IsExecutable"].lower() == "true")
    append_related(ev, "user", get_field(ev, "user.name"))
    append_related(ev, "ip", get_field(ev, "source.ip"))
    append_related(ev, "ip", get_field(ev, "destination.ip"))
    if code in ("12", "13", "14") and ed.get("TargetObject"):
        _registry(ev, ed["TargetObject"], ed.get("Details"))


def _hashes(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        key, sep, value = item.partition("=")
        if sep and value.strip("0"):
            out[key.strip().lower()] = value.strip().lower()
    return out


_PROCESS_RENAMES = (
    ("ProcessGuid", "process.entity_id"),
    ("Image", "process.executable"),
    ("SourceProcessGuid", "process.entity_id"),
    ("SourceProcessGUID", "process.entity_id"),
    ("SourceImage", "process.executable"),
    ("Destination", "process.executable"),
    ("CommandLine", "process.command_line"),
    ("CurrentDirectory", "process.working_directory"),
    ("ParentProcessGuid", "process.parent.entity_id"),
    ("ParentImage", "process.parent.executable"),
    ("ParentCommandLine", "process.parent.command_line"),
)
_PROCESS_LONGS = (
    ("ProcessId", "process.pid"),
    ("SourceProcessId", "process.pid"),
    ("SourceThreadId", "process.thread.id"),
    ("ParentProcessId", "process.parent.pid"),
)


def _process(code: str, ev: Event, ed: dict[str, str]) -> None:
    for key, dst in _PROCESS_RENAMES:
        if key in ed:
            set_field(ev, dst, ed[key])
    for key, dst in _PROCESS_LONGS:
        if key in ed and (n := to_long(ed[key])) is not None:
            set_field(ev, dst, n)
    pe = "file.pe" if code == "7" else "process.pe"
    for key, dst in (
        ("OriginalFileName", "original_file_name"),
        ("Company", "company"),
        ("Description", "description"),
        ("FileVersion", "file_version"),
        ("Product", "product"),
    ):
        if key in ed:
            set_field(ev, f"{pe}.{dst}", ed[key])
    for prefix in ("process", "process.parent"):
        cmd = get_field(ev, f"{prefix}.command_line")
        if cmd:
            args = split_args(cmd)
            set_field(ev, f"{prefix}.args", args)
            set_field(ev, f"{prefix}.args_count", len(args))
        exe = get_field(ev, f"{prefix}.executable")
        if exe and len(exe) > 1 and get_field(ev, f"{prefix}.name") is None and "\\" in exe:
            set_field(ev, f"{prefix}.name", basename(exe))


def _file(code: str, ev: Event, ed: dict[str, str]) -> None:
    for key in ("TargetFilename", "Device", "ImageLoaded"):
        if key in ed:
            set_field(ev, "file.path", ed[key])
    if "PipeName" in ed:
        set_field(ev, "file.name", ed["PipeName"])
    if "Signature" in ed:
        set_field(ev, "file.code_signature.subject_name", ed["Signature"])
    if "SignatureStatus" in ed:
        set_field(ev, "file.code_signature.status", ed["SignatureStatus"])
        if ed["SignatureStatus"] == "Valid":
            set_field(ev, "file.code_signature.valid", True)
    if ed.get("Signed") == "true":
        set_field(ev, "file.code_signature.signed", True)
    path = get_field(ev, "file.path")
    if isinstance(path, str) and len(path) > 1 and "\\" in path:
        directory, name = path.rsplit("\\", 1)
        set_field(ev, "file.name", name)
        set_field(ev, "file.directory", directory)
        if "." in path:
            set_field(ev, "file.extension", path.rsplit(".", 1)[1])


def _network(code: str, ev: Event, ed: dict[str, str]) -> None:
    if "Protocol" in ed:
        set_field(ev, "network.transport", ed["Protocol"])
    if code != "22":
        for key in ("DestinationPortName", "SourcePortName"):
            if key in ed:
                set_field(ev, "network.protocol", ed[key])
    else:
        set_field(ev, "network.protocol", "dns")
    for key, dst in (
        ("SourceIp", "source.ip"),
        ("SourceHostname", "source.domain"),
        ("DestinationIp", "destination.ip"),
        ("DestinationHostname", "destination.domain"),
        ("QueryName", "dns.question.name"),
    ):
        if key in ed:
            set_field(ev, dst, ed[key])
    for key, dst in (("SourcePort", "source.port"), ("DestinationPort", "destination.port")):
        if key in ed and (n := to_long(ed[key])) is not None:
            set_field(ev, dst, n)
    direction = {"true": "egress", "false": "ingress"}.get(ed.get("Initiated", ""))
    if direction:
        set_field(ev, "network.direction", direction)
    ntype = {"false": "ipv4", "true": "ipv6"}.get(ed.get("SourceIsIpv6", ""))
    if ntype:
        set_field(ev, "network.type", ntype)
    if ed.get("QueryResults"):
        _dns_answers(ev, ed["QueryResults"])
    name = get_field(ev, "dns.question.name")
    if name:
        append_related(ev, "hosts", name)


def _dns_answers(ev: Event, results: str) -> None:
    answers: list[dict[str, str]] = []
    ips: list[str] = []
    for answer in results.split(";"):
        if not answer:
            continue
        if answer.startswith("type:"):
            parts = answer.split()
            if len(parts) == 3:
                answers.append({"type": _DNS_TYPES.get(parts[1], parts[1]), "data": parts[2]})
                append_related(ev, "hosts", parts[2])
        else:
            m = _V4MAPPED.match(answer)
            ips.append(m.group(1) if m else answer)
    for ip in ips:
        answers.append({"type": "AAAA" if ":" in ip else "A", "data": ip})
        append_related(ev, "ip", ip)
    if answers:
        set_field(ev, "dns.answers", answers)
    if ips:
        set_field(ev, "dns.resolved_ip", ips)


def _registry(ev: Event, path: str, data: str | None) -> None:
    reg: dict[str, object] = {"path": path}
    tokens = path.split("\\")
    hive = _HIVES.get(tokens[0])
    if hive:
        reg["hive"] = hive
        if len(tokens) > 1:
            reg["key"] = "\\".join(tokens[1:])
    reg["value"] = tokens[-1]
    if data:
        if m := _QWORD.fullmatch(data):
            reg["data"] = {
                "strings": [str((int(m.group(2), 16) << 8) + int(m.group(3), 16))],
                "type": "SZ_QWORD",
            }
        elif m := _DWORD.fullmatch(data):
            reg["data"] = {"strings": [str(int(m.group(1), 16))], "type": "SZ_DWORD"}
        elif data == "Binary Data":
            reg["data"] = {"strings": [data], "type": "REG_BINARY"}
        else:
            reg["data"] = {"strings": [data], "type": "REG_SZ"}
    ev["registry"] = reg
