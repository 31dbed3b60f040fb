"""Windows Security channel (and System 7045) to ECS, after Winlogbeat's ``security``
ingest pipeline (x-pack/winlogbeat/module/security/ingest/security.yml, 8.x).

Winlogbeat-faithful: categorisation by event code, logon type, service, failure status,
the target/subject/effective user copies, process fields of the common auth events and
4688, ``related.*``. Beyond Winlogbeat (marked ``extension``): System 7045 service
installs, Filtering Platform 5156/5157 connections and file-share 5140/5145 sources.
``winlog.event_data`` is kept as Winlogbeat emitted it (the ingest pipeline's removals of
renamed keys are not applied, so rules can still match the raw names).
"""

from __future__ import annotations

from typing import Any

from collectors.parsers.windows.common import append_related, basename, get_field, set_field, to_long
from collectors.parsers.windows.shapes import WinEvent
from soc.event import Event

_A, _C, _I, _P, _G = "authentication", "configuration", "iam", "process", "group"
# code: (category, type, action)
CATEGORIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "1100": ((_P,), ("end",), "logging-service-shutdown"),
    "1102": ((_I,), ("admin", "change"), "audit-log-cleared"),
    "1104": ((_I,), ("admin",), "logging-full"),
    "1105": ((_I,), ("admin",), "auditlog-archieved"),
    "1108": ((_I,), ("admin",), "logging-processing-error"),
    "4610": ((_C,), ("access",), "authentication-package-loaded"),
    "4611": ((_C,), ("change",), "trusted-logon-process-registered"),
    "4614": ((_C,), ("access",), "notification-package-loaded"),
    "4616": ((_C,), ("change",), "system-time-changed"),
    "4622": ((_C,), ("access",), "security-package-loaded"),
    "4624": ((_A,), ("start",), "logged-in"),
    "4625": ((_A,), ("start",), "logon-failed"),
    "4634": ((_A,), ("end",), "logged-out"),
    "4647": ((_A,), ("end",), "logged-out"),
    "4648": ((_A,), ("start",), "logged-in-explicit"),
    "4657": (("registry", _C), ("change",), "registry-value-modified"),
    "4670": ((_I, _C), ("admin", "change"), "permissions-changed"),
    "4672": ((_I,), ("admin",), "logged-in-special"),
    "4673": ((_I,), ("admin",), "privileged-service-called"),
    "4674": ((_I,), ("admin",), "privileged-operation"),
    "4688": ((_P,), ("start",), "created-process"),
    "4689": ((_P,), ("end",), "exited-process"),
    "4697": ((_I, _C), ("admin", "change"), "service-installed"),
    "4698": ((_I, _C), ("creation", "admin"), "scheduled-task-created"),
    "4699": ((_I, _C), ("deletion", "admin"), "scheduled-task-deleted"),
    "4700": ((_I, _C), ("change", "admin"), "scheduled-task-enabled"),
    "4701": ((_I, _C), ("change", "admin"), "scheduled-task-disabled"),
    "4702": ((_I, _C), ("change", "admin"), "scheduled-task-updated"),
    "4706": ((_C,), ("creation",), "domain-trust-added"),
    "4707": ((_C,), ("deletion",), "domain-trust-removed"),
    "4713": ((_C,), ("change",), "kerberos-policy-changed"),
    "4714": ((_C,), ("change",), "encrypted-data-recovery-policy-changed"),
    "4715": ((_C,), ("change",), "object-audit-policy-changed"),
    "4716": ((_C,), ("change",), "trusted-domain-information-changed"),
    "4717": ((_I, _C), ("admin", "change"), "system-security-access-granted"),
    "4718": ((_I, _C), ("admin", "deletion"), "system-security-access-removed"),
    "4719": ((_I, _C), ("admin", "change"), "changed-audit-config"),
    "4720": ((_I,), ("user", "creation"), "added-user-account"),
    "4722": ((_I,), ("user", "change"), "enabled-user-account"),
    "4723": ((_I,), ("user", "change"), "changed-password"),
    "4724": ((_I,), ("user", "change"), "reset-password"),
    "4725": ((_I,), ("user", "deletion"), "disabled-user-account"),
    "4726": ((_I,), ("user", "deletion"), "deleted-user-account"),
    "4727": ((_I,), (_G, "creation"), "added-group-account"),
    "4728": ((_I,), (_G, "change"), "added-member-to-group"),
    "4729": ((_I,), (_G, "change"), "removed-member-from-group"),
    "4730": ((_I,), (_G, "deletion"), "deleted-group-account"),
    "4731": ((_I,), (_G, "creation"), "added-group-account"),
    "4732": ((_I,), (_G, "change"), "added-member-to-group"),
    "4733": ((_I,), (_G, "change"), "removed-member-from-group"),
    "4734": ((_I,), (_G, "deletion"), "deleted-group-account"),
    "4735": ((_I,), (_G, "change"), "modified-group-account"),
    "4737": ((_I,), (_G, "change"), "modified-group-account"),
    "4738": ((_I,), ("user", "change"), "modified-user-account"),
    "4739": ((_C,), ("change",), "domain-policy-changed"),
    "4740": ((_I,), ("user", "change"), "locked-out-user-account"),
    "4741": ((_I,), ("creation", "admin"), "added-computer-account"),
    "4742": ((_I,), ("change", "admin"), "changed-computer-account"),
    "4743": ((_I,), ("deletion", "admin"), "deleted-computer-account"),
    "4744": ((_I,), (_G, "creation"), "added-distribution-group-account"),
    "4745": ((_I,), (_G, "change"), "changed-distribution-group-account"),
    "4746": ((_I,), (_G, "change"), "added-member-to-distribution-group"),
    "4747": ((_I,), (_G, "change"), "removed-member-from-distribution-group"),
    "4748": ((_I,), (_G, "deletion"), "deleted-distribution-group-account"),
    "4749": ((_I,), (_G, "creation"), "added-distribution-group-account"),
    "4750": ((_I,), (_G, "change"), "changed-distribution-group-account"),
    "4751": ((_I,), (_G, "change"), "added-member-to-distribution-group"),
    "4752": ((_I,), (_G, "change"), "removed-member-from-distribution-group"),
    "4753": ((_I,), (_G, "deletion"), "deleted-distribution-group-account"),
    "4754": ((_I,), (_G, "creation"), "added-group-account"),
    "4755": ((_I,), (_G, "change"), "modified-group-account"),
    "4756": ((_I,), (_G, "change"), "added-member-to-group"),
    "4757": ((_I,), (_G, "change"), "removed-member-from-group"),
    "4758": ((_I,), (_G, "deletion"), "deleted-group-account"),
    "4759": ((_I,), (_G, "creation"), "added-distribution-group-account"),
    "4760": ((_I,), (_G, "change"), "changed-distribution-group-account"),
    "4761": ((_I,), (_G, "change"), "added-member-to-distribution-group"),
    "4762": ((_I,), (_G, "change"), "removed-member-from-distribution-group"),
    "4763": ((_I,), (_G, "deletion"), "deleted-distribution-group-account"),
    "4764": ((_I,), (_G, "change"), "type-changed-group-account"),
    "4767": ((_I,), ("user", "change"), "unlocked-user-account"),
    "4768": ((_A,), ("start",), "kerberos-authentication-ticket-requested"),
    "4769": ((_A,), ("start",), "kerberos-service-ticket-requested"),
    "4770": ((_A,), ("start",), "kerberos-service-ticket-renewed"),
    "4771": ((_A,), ("start",), "kerberos-preauth-failed"),
    "4776": ((_A,), ("start",), "credential-validated"),
    "4778": ((_A, "session"), ("start",), "session-reconnected"),
    "4779": ((_A, "session"), ("end",), "session-disconnected"),
    "4781": ((_I,), ("user", "change"), "renamed-user-account"),
    "4798": ((_I,), ("user", "info"), "group-membership-enumerated"),
    "4799": ((_I,), (_G, "info"), "user-member-enumerated"),
    "4817": ((_I, _C), ("admin", "change"), "object-audit-changed"),
    "4902": ((_I, _C), ("admin", "creation"), "user-audit-policy-created"),
    "4904": ((_I, _C), ("admin", "change"), "security-event-source-added"),
    "4905": ((_I, _C), ("admin", "deletion"), "security-event-source-removed"),
    "4906": ((_I, _C), ("admin", "change"), "crash-on-audit-changed"),
    "4907": ((_I, _C), ("admin", "change"), "audit-setting-changed"),
    "4908": ((_I, _C), ("admin", "change"), "special-group-table-changed"),
    "4912": ((_I, _C), ("admin", "change"), "per-user-audit-policy-changed"),
    "4950": ((_C,), ("change",), "windows-firewall-setting-changed"),
    "4954": ((_C,), ("change",), "windows-firewall-group-policy-changed"),
    "4964": ((_I,), ("admin", _G), "logged-in-special"),
    "5024": ((_P,), ("start",), "windows-firewall-service-started"),
    "5025": ((_P,), ("end",), "windows-firewall-service-stopped"),
    "5033": (("driver",), ("start",), "windows-firewall-driver-started"),
    "5034": (("driver",), ("end",), "windows-firewall-driver-stopped"),
    "5037": (("driver",), ("end",), "windows-firewall-driver-error"),
}
LOGON_TYPES = {
    "2": "Interactive",
    "3": "Network",
    "4": "Batch",
    "5": "Service",
    "7": "Unlock",
    "8": "NetworkCleartext",
    "9": "NewCredentials",
    "10": "RemoteInteractive",
    "11": "CachedInteractive",
}
SERVICE_TYPES = {
    "0x1": "Kernel Driver",
    "0x2": "File System Driver",
    "0x8": "Recognizer Driver",
    "0x10": "Win32 Own Process",
    "0x20": "Win32 Share Process",
    "0x110": "Interactive Own Process",
    "0x120": "Interactive Share Process",
}
LOGON_STATUS = {
    "0xc000005e": "There are currently no logon servers available to service the logon request.",
    "0xc0000064": "User logon with misspelled or bad user account",
    "0xc000006a": "User logon with misspelled or bad password",
    "0xc000006d": "This is either due to a bad username or authentication information",
    "0xc000006e": "Unknown user name or bad password.",
    "0xc000006f": "User logon outside authorized hours",
    "0xc0000070": "User logon from unauthorized workstation",
    "0xc0000071": "User logon with expired password",
    "0xc0000072": "User logon to account disabled by administrator",
    "0xc00000dc": "Indicates the Sam Server was in the wrong state to perform the desired operation.",
    "0xc0000133": "Clocks between DC and other computer too far out of sync",
    "0xc000015b": "The user has not been granted the requested logon type (aka logon right) at this machine",
    "0xc000018c": "The logon request failed because the trust relationship between the primary domain and "
    "the trusted domain failed.",
    "0xc0000192": "An attempt was made to logon, but the Netlogon service was not started.",
    "0xc0000193": "User logon with expired account",
    "0xc0000224": "User is required to change password at next logon",
    "0xc0000225": "Evidently a bug in Windows and not a risk",
    "0xc0000234": "User logon with account locked",
    "0xc00002ee": "Failure Reason: An Error occurred during Logon",
    "0xc0000413": "Logon Failure: The machine you are logging onto is protected by an authentication "
    "firewall. The specified account is not allowed to authenticate to the machine.",
    "0xc0000371": "The local account store does not contain secret material for the specified account",
    "0x0": "Status OK.",
}
FAILURE_REASONS = {
    "2304": "An Error occured during Logon.",
    "2305": "The specified user account has expired.",
    "2306": "The NetLogon component is not active.",
    "2307": "Account locked out.",
    "2308": "The user has not been granted the requested logon type at this machine.",
    "2309": "The specified account's password has expired.",
    "2310": "Account currently disabled.",
    "2311": "Account logon time restriction violation.",
    "2312": "User not allowed to logon at this computer.",
    "2313": "Unknown user name or bad password.",
    "2314": "Domain sid inconsistent.",
    "2315": "Smartcard logon is required and was not used.",
}
_TARGET_USER = frozenset(
    ["4624", "4625", "4634", "4647", "4648", "4768", "4769", "4770", "4771", "4776", "4964"]
)
_GROUP_CODES = frozenset(
    [
        "4727",
        "4728",
        "4729",
        "4730",
        "4731",
        "4732",
        "4733",
        "4734",
        "4735",
        "4737",
        "4744",
        "4745",
        "4746",
        "4747",
        "4748",
        "4749",
        "4750",
        "4751",
        "4752",
        "4753",
        "4754",
        "4755",
        "4756",
        "4757",
        "4758",
        "4759",
        "4760",
        "4761",
        "4762",
        "4763",
        "4764",
        "4799",
    ]
)
_SUBJECT_USER = frozenset(
    [
        "4657",
        "4670",
        "4672",
        "4673",
        "4674",
        "4688",
        "4689",
        "4697",
        "4698",
        "4699",
        "4700",
        "4701",
        "4702",
        "4706",
        "4707",
        "4713",
        "4716",
        "4717",
        "4718",
        "4719",
        "4720",
        "4722",
        "4723",
        "4724",
        "4725",
        "4726",
        "4727",
        "4728",
        "4729",
        "4730",
        "4731",
        "4732",
        "4733",
        "4734",
        "4735",
        "4737",
        "4738",
        "4739",
        "4740",
        "4741",
        "4742",
        "4743",
        "4744",
        "4745",
        "4746",
        "4747",
        "4748",
        "4749",
        "4750",
        "4751",
        "4752",
        "4753",
        "4754",
        "4755",
        "4756",
        "4757",
        "4758",
        "4759",
        "4760",
        "4761",
        "4762",
        "4763",
        "4764",
        "4767",
        "4781",
        "4798",
        "4799",
        "4817",
        "4904",
        "4905",
        "4907",
        "4912",
        "4648",
    ]
)
_TO_TARGET = frozenset(
    ["4670", "4720", "4722", "4723", "4724", "4725", "4726", "4738", "4740", "4767", "4798", "4817", "4907"]
)
_COMMON_AUTH = frozenset(
    [
        "1100",
        "1102",
        "1104",
        "1105",
        "1108",
        "4624",
        "4648",
        "4625",
        "4670",
        "4673",
        "4674",
        "4689",
        "4697",
        "4719",
        "4720",
        "4722",
        "4723",
        "4724",
        "4725",
        "4726",
        "4727",
        "4728",
        "4729",
        "4730",
        "4731",
        "4732",
        "4733",
        "4734",
        "4735",
        "4737",
        "4738",
        "4740",
        "4741",
        "4742",
        "4743",
        "4744",
        "4745",
        "4746",
        "4747",
        "4748",
        "4749",
        "4750",
        "4751",
        "4752",
        "4753",
        "4754",
        "4755",
        "4756",
        "4757",
        "4758",
        "4759",
        "4760",
        "4761",
        "4762",
        "4763",
        "4764",
        "4767",
        "4768",
        "4769",
        "4770",
        "4771",
        "4798",
        "4799",
        "4817",
        "4904",
        "4905",
        "4907",
        "4912",
    ]
)
_RELATED_TARGET = frozenset(
    ["4688", "4720", "4722", "4723", "4724", "4725", "4726", "4738", "4740", "4767", "4798"]
)
_PROTOCOLS = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp"}


def _user_or_sub(ev: Event, sub: str, key: str, value: str) -> None:
    """Set ``user.<key>``, or ``user.<sub>.<key>`` when ``user.<key>`` is already set."""
    if get_field(ev, f"user.{key}") is None:
        set_field(ev, f"user.{key}", value)
    else:
        set_field(ev, f"user.{sub}.{key}", value)


def _set_user_block(ev: Event, prefix: str, sid: str | None, name: str | None, domain: str | None) -> None:
    if sid and sid != "-":
        set_field(ev, f"{prefix}.id", sid)
    if name and name != "-":
        short = name.split("@")[0]
        set_field(ev, f"{prefix}.name", short)
        append_related(ev, "user", short)
    if domain and domain != "-":
        set_field(ev, f"{prefix}.domain", domain)


def map_security(w: WinEvent, ev: Event) -> None:
    """Apply the Security pipeline to ``ev`` (built by :func:`common.base_event`)."""
    code = str(w.event_id)
    ed = w.event_data
    cat = CATEGORIES.get(code)
    if cat:
        ev["event"]["category"], ev["event"]["type"] = list(cat[0]), list(cat[1])
        ev["event"]["action"] = cat[2]
    winlog: dict[str, Any] = ev["winlog"]
    if (lt := LOGON_TYPES.get(ed.get("LogonType", ""))) is not None:
        set_field(winlog, "logon.type", lt)
    if "ServiceName" in ed:
        set_field(ev, "service.name", ed["ServiceName"])
    if "ServiceType" in ed:
        set_field(ev, "service.type", SERVICE_TYPES.get(ed["ServiceType"]))
    if code in ("4625", "4776"):
        if (st := LOGON_STATUS.get(ed.get("Status", ""))) is not None:
            set_field(winlog, "logon.failure.status", st)
        if (sst := LOGON_STATUS.get(ed.get("SubStatus", ""))) is not None:
            set_field(winlog, "logon.failure.sub_status", sst)
    if "FailureReason" in ed and (r := FAILURE_REASONS.get(ed["FailureReason"].replace("%%", ""))):
        set_field(winlog, "logon.failure.reason", r)
    if code in ("4778", "4779"):
        if "AccountName" in ed:
            set_field(ev, "user.name", ed["AccountName"])
            append_related(ev, "user", ed["AccountName"])
        if "AccountDomain" in ed:
            set_field(ev, "user.domain", ed["AccountDomain"])
        addr = ed.get("ClientAddress")
        if addr and addr not in ("-", "Unknown"):
            addr = "127.0.0.1" if addr == "LOCAL" else addr
            set_field(ev, "source.ip", addr)
            append_related(ev, "ip", addr)
        if "ClientName" in ed:
            set_field(ev, "source.domain", ed["ClientName"])
        if "LogonID" in ed:
            set_field(winlog, "logon.id", ed["LogonID"])
    if code in _TARGET_USER:
        sid = ed.get("TargetUserSid") or ed.get("TargetSid")
        if sid:
            _user_or_sub(ev, "target", "id", sid)
        if "TargetUserName" in ed:
            name = ed["TargetUserName"].split("@")[0]
            _user_or_sub(ev, "target", "name", name)
            append_related(ev, "user", name)
        if "TargetDomainName" in ed:
            _user_or_sub(ev, "target", "domain", ed["TargetDomainName"])
    if code in _GROUP_CODES:
        _map_group(ev, ed)
    if code in ("4741", "4742", "4743"):
        for key, dst in (("TargetSid", "id"), ("TargetUserName", "name"), ("TargetDomainName", "domain")):
            if key in ed:
                set_field(winlog, f"computerObject.{dst}", ed[key])
    if code in ("4634", "4647", "4964") and "TargetLogonId" in ed:
        set_field(winlog, "logon.id", ed["TargetLogonId"])
    if code in _SUBJECT_USER:
        _subject(ev, ed)
    if code in _TO_TARGET:
        _set_user_block(
            ev, "user.target", ed.get("TargetSid"), ed.get("TargetUserName"), ed.get("TargetDomainName")
        )
    if code in ("4648", "4688"):
        _set_user_block(
            ev,
            "user.effective",
            ed.get("TargetUserSid"),
            ed.get("TargetUserName"),
            ed.get("TargetDomainName"),
        )
    if code == "1102":
        _subject(ev, w.user_data)
    if "SubjectLogonId" in ed:
        set_field(winlog, "logon.id", ed["SubjectLogonId"])
    if code == "1102" and "SubjectLogonId" in w.user_data:
        set_field(winlog, "logon.id", w.user_data["SubjectLogonId"])
    if code in _COMMON_AUTH:
        _common_auth(ev, ed)
    if code == "4688":
        _process_4688(ev, ed)
    if code in ("4624", "4648"):
        append_related(ev, "user", ed.get("SubjectUserName"))
    if code in _RELATED_TARGET:
        append_related(ev, "user", ed.get("TargetUserName"))
    if ed.get("OldTargetUserName"):
        set_field(ev, "user.target.name", ed["OldTargetUserName"])
    if ed.get("NewTargetUserName"):
        set_field(ev, "user.changes.name", ed["NewTargetUserName"])
    append_related(ev, "user", ed.get("NewTargetUserName"))
    append_related(ev, "user", ed.get("OldTargetUserName"))
    _extensions(code, ev, ed)
    ip = get_field(ev, "source.ip")
    if isinstance(ip, str):
        ip = ip.replace("::ffff:", "")
        set_field(ev, "source.ip", ip)
        append_related(ev, "ip", ip)


def _subject(ev: Event, data: dict[str, str]) -> None:
    if "SubjectUserSid" in data:
        set_field(ev, "user.id", data["SubjectUserSid"])
    if "SubjectUserName" in data:
        set_field(ev, "user.name", data["SubjectUserName"])
        append_related(ev, "user", data["SubjectUserName"])
    if "SubjectDomainName" in data:
        set_field(ev, "user.domain", data["SubjectDomainName"])


def _map_group(ev: Event, ed: dict[str, str]) -> None:
    if "MemberName" in ed:
        parts = ed["MemberName"].split(",")
        member = parts[0].replace("CN=", "").replace("cn=", "")
        set_field(ev, "user.target.name", member)
        append_related(ev, "user", member)
        if len(parts) >= 4:
            set_field(ev, "user.target.domain", parts[3].replace("DC=", "").replace("dc=", ""))
    if "TargetUserSid" in ed:
        set_field(ev, "group.id", ed["TargetUserSid"])
    if "TargetSid" in ed:
        set_field(ev, "group.id", ed["TargetSid"])
    if "TargetUserName" in ed:
        set_field(ev, "group.name", ed["TargetUserName"])
    if "TargetDomainName" in ed:
        set_field(ev, "group.domain", ed["TargetDomainName"].replace("DC=", "").replace("dc=", ""))
    if get_field(ev, "user.target") is not None and isinstance(ev.get("group"), dict):
        set_field(ev, "user.target.group", dict(ev["group"]))


def _common_auth(ev: Event, ed: dict[str, str]) -> None:
    if "ProcessId" in ed and (pid := to_long(ed["ProcessId"])) is not None:
        set_field(ev, "process.pid", pid)
    if "ProcessName" in ed:
        set_field(ev, "process.executable", ed["ProcessName"])
    if ed.get("IpAddress", "-") != "-":
        set_field(ev, "source.ip", ed["IpAddress"])
    if ed.get("IpPort", "-") != "-" and (port := to_long(ed["IpPort"])) is not None:
        set_field(ev, "source.port", port)
    if "WorkstationName" in ed:
        set_field(ev, "source.domain", ed["WorkstationName"])
    if ed.get("ClientAddress", "-") != "-":
        set_field(ev, "related.ip", ed["ClientAddress"])
    exe = get_field(ev, "process.executable")
    if get_field(ev, "process.name") is None and exe:
        set_field(ev, "process.name", basename(exe))


def _process_4688(ev: Event, ed: dict[str, str]) -> None:
    if "NewProcessId" in ed and (pid := to_long(ed["NewProcessId"])) is not None:
        set_field(ev, "process.pid", pid)
    if "NewProcessName" in ed:
        set_field(ev, "process.executable", ed["NewProcessName"])
    if "ParentProcessName" in ed:
        set_field(ev, "process.parent.executable", ed["ParentProcessName"])
    exe = get_field(ev, "process.executable")
    if get_field(ev, "process.name") is None and exe:
        set_field(ev, "process.name", basename(exe))
    pexe = get_field(ev, "process.parent.executable")
    if get_field(ev, "process.parent.name") is None and pexe:
        set_field(ev, "process.parent.name", basename(pexe))
    if "ProcessId" in ed and (ppid := to_long(ed["ProcessId"])) is not None:
        set_field(ev, "process.parent.pid", ppid)
    if "CommandLine" in ed:
        set_field(ev, "process.args", _simple_args(ed["CommandLine"]))
        set_field(ev, "process.command_line", ed["CommandLine"])
    if ed.get("TargetUserName", "-") != "-":
        append_related(ev, "user", ed["TargetUserName"])


def _simple_args(cmd: str) -> list[str]:
    """The Security pipeline's 4688 argument split: on whitespace outside double quotes."""
    out: list[str] = []
    start, in_quote = 0, False
    for i, c in enumerate(cmd):
        if c == '"':
            in_quote = not in_quote
        if c.isspace() and not in_quote:
            out.append(cmd[start:i])
            start = i + 1
        if i == len(cmd) - 1:
            out.append(cmd[start : i + 1])
    return out


def _extensions(code: str, ev: Event, ed: dict[str, str]) -> None:
    """Mappings Winlogbeat 8.7 does not make, for events our rules need (extension)."""
    if code in ("5156", "5157", "5158"):
        for key, dst in (("SourceAddress", "source.ip"), ("DestAddress", "destination.ip")):
            if ed.get(key):
                set_field(ev, dst, ed[key])
                append_related(ev, "ip", ed[key])
        for key, dst in (("SourcePort", "source.port"), ("DestPort", "destination.port")):
            if (port := to_long(ed.get(key))) is not None:
                set_field(ev, dst, port)
        if (proto := _PROTOCOLS.get(ed.get("Protocol", ""))) is not None:
            set_field(ev, "network.transport", proto)
        direction = {"%%14592": "ingress", "%%14593": "egress"}.get(ed.get("Direction", ""))
        if direction:
            set_field(ev, "network.direction", direction)
        if (pid := to_long(ed.get("ProcessID") or ed.get("ProcessId"))) is not None:
            set_field(ev, "process.pid", pid)
        if ed.get("Application"):
            set_field(ev, "process.executable", ed["Application"])
            set_field(ev, "process.name", basename(ed["Application"]))
        ev["event"].setdefault("category", ["network"])
        ev["event"].setdefault("type", ["connection"] if code != "5158" else ["start"])
        if code == "5157":
            ev["event"]["outcome"] = "failure"
    elif code in ("5140", "5145"):
        _subject(ev, ed)
        if ed.get("IpAddress", "-") not in ("-", ""):
            set_field(ev, "source.ip", ed["IpAddress"])
        if (port := to_long(ed.get("IpPort"))) is not None:
            set_field(ev, "source.port", port)
        if ed.get("RelativeTargetName"):
            set_field(ev, "file.path", ed["RelativeTargetName"])
        ev["event"].setdefault("category", ["network", "file"])
        ev["event"].setdefault("type", ["access"])
    elif code in ("4656", "4663") and ed.get("ObjectName"):
        _subject(ev, ed)
        if ed.get("ObjectType") == "File":
            set_field(ev, "file.path", ed["ObjectName"])
        if (pid := to_long(ed.get("ProcessId"))) is not None:
            set_field(ev, "process.pid", pid)
        if ed.get("ProcessName"):
            set_field(ev, "process.executable", ed["ProcessName"])
            set_field(ev, "process.name", basename(ed["ProcessName"]))


def map_system(w: WinEvent, ev: Event) -> None:
    """System channel: 7045 service installed (extension, mirrors Security 4697)."""
    ed = w.event_data
    if w.event_id == 7045:
        ev["event"].update(
            category=["iam", "configuration"], type=["admin", "change"], action="service-installed"
        )
        if "ServiceName" in ed:
            set_field(ev, "service.name", ed["ServiceName"])
        if ed.get("ImagePath"):
            set_field(ev, "file.path", ed["ImagePath"])
        if ed.get("ServiceType"):
            set_field(ev, "service.type", ed["ServiceType"])
    if w.user_sid:
        set_field(ev, "user.id", w.user_sid)
