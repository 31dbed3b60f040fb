"""Linux audit records (``auditd``), mapped to ECS as Filebeat's ``auditd/log`` module maps them.

A record is ``[node=N ]type=T msg=audit(EPOCH:SERIAL): key=value ...``, raw from
``/var/log/audit/audit.log`` or wrapped in a syslog header as audispd's syslog
plugin writes it (``Mar 1 10:00:00 host audispd: node=h type=SYSCALL msg=audit(...)``).
User-space records carry a second key/value list inside ``msg='...'``.

Mapping (Filebeat 8.7 ``auditd/log`` ingest pipeline semantics):

* every ``key=value`` lands in ``auditd.log.<key>``; a key seen twice becomes a list;
  values ``?``, ``(null)`` and empty ones are dropped, one pair of quotes is trimmed;
* hex-encoded values (auditd hex-encodes a value that holds a space, a quote, a
  control or a non-ASCII byte) are decoded for the keys that may hold them
  (``proctitle``, ``comm``, ``exe``, ``cwd``, ``data``, ``cmd``, ``name`` ... and
  the ``aN`` arguments of ``EXECVE``); control bytes are shown in caret notation
  (``^M``), non-ASCII bytes are read as UTF-8 (Filebeat reads them as Latin-1);
* ``@timestamp`` and ``auditd.log.sequence`` come from ``msg=audit(EPOCH:SERIAL)``;
* ``event.action/category/type`` follow go-libaudit's record type and syscall
  tables; ``user.*`` (``uid``, ``auid``, ``euid``, ...), ``process.*`` (``pid``,
  ``ppid``, ``comm``, ``exe``, ``cwd``, ``cmd``, ``EXECVE`` arguments) and
  ``source.address``/``source.ip`` (``src``, else ``addr``) are renamed out of
  ``auditd.log``; a rename onto a field already set keeps the key in ``auditd.log``.

Joined records: a record whose raw holds several lines (one audit event assembled by
:class:`collectors.inputs.multiline.AuditSerialJoiner`) gives ONE event. Its primary
record (``SYSCALL``, else the first) is mapped as above; the others add
``process.args``/``args_count`` (``EXECVE``), ``process.title`` (``PROCTITLE``),
``process.working_directory`` (``CWD``), ``auditd.paths`` and ``file.path``
(``PATH``) and their remaining keys under ``auditd.log`` (not overwriting);
``auditd.log.record_types`` lists the record types in order. A ``SYSCALL`` joined
with an ``EXECVE`` record is ``event.action: executed``, category ``process``, type
``start``, whatever its syscall number.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.syslog import base_event, parse_syslog, record_timezone, resolve_timezone
from soc.event import Event, RawRecord, format_ts

PARSER_NAME = "auditd"

_HEADER = re.compile(
    r"(?:node=(?P<node>\S+) )?type=(?P<type>\S+) "
    r"msg=audit\((?P<sec>\d+)(?:\.(?P<frac>\d+))?:(?P<serial>\d+)\):?"
)
_KV_START = re.compile(r"\s(\w+=)")
_OLD_NEW = re.compile(r" old auid=(\d+) new auid=(\d+) old ses=(\d+) new ses=(\d+)$")
_MSG_PREFIX = re.compile(r"[^=]*\s")
_SUB_SPLIT = re.compile(r"\s+(?=\S+=)")
_ARG = re.compile(r"a(\d+)(?:\[(\d+)\])?(_len)?$")
_DIGITS = re.compile(r"[0-9]+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MAX_LINE = 1 << 20

HEX_KEYS = frozenset(
    {
        "exe", "cmd", "data", "path", "comm", "file", "name", "watch", "cwd", "acct", "dir", "vm",
        "old-chardev", "new-chardev", "old-disk", "new-disk", "old-fs", "new-fs", "old-net", "new-net",
        "device", "cgroup", "apparmor", "operation", "denied_mask", "info", "profile", "requested_mask",
        "old-rng", "new-rng", "ocomm", "grp", "new_group", "invalid_context", "sw", "root_dir", "proctitle",
    }
)  # fmt: skip
"""Keys whose values auditd may hex-encode (Filebeat's ``possibleHexKeys``)."""

_LONG_KEYS = ("lport", "rport", "entries", "dst_prefixlen", "ksize", "size", "src_prefixlen")
_RENAMES = (
    ("arch", "host.architecture"), ("acct", "user.name"), ("user", "user.name"), ("uid", "user.id"),
    ("gid", "user.group.id"), ("agid", "user.audit.group.id"), ("auid", "user.audit.id"),
    ("fsgid", "user.filesystem.group.id"), ("fsuid", "user.filesystem.id"),
    ("egid", "user.effective.group.id"), ("euid", "user.effective.id"), ("sgid", "user.saved.group.id"),
    ("suid", "user.saved.id"), ("ogid", "user.owner.group.id"), ("ouid", "user.owner.id"),
    ("comm", "process.name"), ("exe", "process.executable"),
)  # fmt: skip
_VIRT_TYPES = {"start": "start", "stop": "end", "create": "creation", "delete": "deletion"}
_INGRESS = frozenset({"accept", "43", "recvfrom", "45", "recvmsg", "47", "accept4", "288"})
_EGRESS = frozenset({"connect", "42", "sendto", "44", "sendmsg", "46"})


def _ev(action: str, category: tuple[str, ...] = (), etype: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"action": [action]}
    if category:
        out["category"] = list(category)
    if etype:
        out["type"] = list(etype)
    return out


_CRED = (("user", ("auid",)), ("user.effective", ("acct", "id", "uid")))
_IAM_BY = (("user", ("auid",)), ("user.effective", ("uid",)))
_PROC_CONF = ("process", "configuration")

# record type -> list of (has_fields, event fields, copy rules); from go-libaudit's
# normalisation tables as Filebeat's pipeline embeds them.
_TYPES: dict[str, list[tuple[tuple[str, ...], dict[str, Any], tuple[tuple[str, tuple[str, ...]], ...]]]] = {
    "ACCT_LOCK": [((), _ev("locked-account", ("iam",), ("user", "info")), ())],
    "ACCT_UNLOCK": [((), _ev("unlocked-account", ("iam",), ("user", "info")), ())],
    "ADD_GROUP": [((), _ev("added-group-account-to", ("iam",), ("group", "creation")),
                   (*_IAM_BY, ("group", ("id", "acct"))))],
    "ADD_USER": [((), _ev("added-user-account", ("iam",), ("user", "creation")),
                  (*_IAM_BY, ("user.target", ("id", "acct"))))],
    "ANOM_ABEND": [((), _ev("crashed-program", ("process",), ("end",)), ())],
    "ANOM_EXEC": [((), _ev("attempted-execution-of-forbidden-program", ("process",), ("start",)), ())],
    "ANOM_LINK": [((), _ev("used-suspicious-link"), ())],
    "ANOM_LOGIN_FAILURES": [((), _ev("failed-log-in-too-many-times-to"), ())],
    "ANOM_LOGIN_LOCATION": [((), _ev("attempted-log-in-from-unusual-place-to"), ())],
    "ANOM_LOGIN_SESSIONS": [((), _ev("opened-too-many-sessions-to"), ())],
    "ANOM_LOGIN_TIME": [((), _ev("attempted-log-in-during-unusual-hour-to"), ())],
    "ANOM_PROMISCUOUS": [((), _ev("changed-promiscuous-mode-on-device"), ())],
    "ANOM_RBAC_INTEGRITY_FAIL": [((), _ev("tested-file-system-integrity-of"), ())],
    "AVC": [(("seresult",), _ev("violated-selinux-policy"), ()),
            (("apparmor",), _ev("violated-apparmor-policy"), ())],
    "CHGRP_ID": [((), _ev("changed-group", ("process",), ("change",)), ())],
    "CHUSER_ID": [((), _ev("changed-user-id", ("process",), ("change",)), ())],
    "CONFIG_CHANGE": [((), _ev("changed-audit-configuration", _PROC_CONF, ("change",)), ())],
    "CRED_ACQ": [((), _ev("acquired-credentials", ("authentication",), ("info",)), _CRED)],
    "CRED_DISP": [((), _ev("disposed-credentials", ("authentication",), ("info",)), _CRED)],
    "CRED_REFR": [((), _ev("refreshed-credentials", ("authentication",), ("info",)), _CRED)],
    "CRYPTO_KEY_USER": [((), _ev("negotiated-crypto-key", ("process",), ("info",)), ())],
    "CRYPTO_LOGIN": [((), _ev("crypto-officer-logged-in"), ())],
    "CRYPTO_LOGOUT": [((), _ev("crypto-officer-logged-out", ("process",), ("info",)), ())],
    "CRYPTO_SESSION": [((), _ev("started-crypto-session", ("process",), ("info",)), ())],
    "DAC_CHECK": [((), _ev("access-result"), ())],
    "DAEMON_ABORT": [((), _ev("aborted-auditd-startup", ("process",), ("stop",)), ())],
    "DAEMON_ACCEPT": [((), _ev("remote-audit-connected", ("network",), ("connection", "start")), ())],
    "DAEMON_CLOSE": [((), _ev("remote-audit-disconnected", ("network",), ("connection", "start")), ())],
    "DAEMON_CONFIG": [((), _ev("changed-auditd-configuration", _PROC_CONF, ("change",)), ())],
    "DAEMON_END": [((), _ev("shutdown-audit", ("process",), ("stop",)), ())],
    "DAEMON_ERR": [((), _ev("audit-error", ("process",), ("info",)), ())],
    "DAEMON_RECONFIG": [((), _ev("reconfigured-auditd", ("process", "configuration"), ("info",)), ())],
    "DAEMON_RESUME": [((), _ev("resumed-audit-logging", ("process",), ("change",)), ())],
    "DAEMON_ROTATE": [((), _ev("rotated-audit-logs", ("process",), ("change",)), ())],
    "DAEMON_START": [((), _ev("started-audit", ("process",), ("start",)), ())],
    "DEL_GROUP": [((), _ev("deleted-group-account-from", ("iam",), ("group", "deletion")),
                   (*_IAM_BY, ("group", ("id", "acct"))))],
    "DEL_USER": [((), _ev("deleted-user-account", ("iam",), ("user", "deletion")),
                  (*_IAM_BY, ("user.target", ("id", "acct"))))],
    "FEATURE_CHANGE": [((), _ev("changed-audit-feature", ("configuration",), ("change",)), ())],
    "FS_RELABEL": [((), _ev("relabeled-filesystem"), ())],
    "GRP_AUTH": [((), _ev("authenticated-to-group", ("authentication",), ("info",)), _IAM_BY)],
    "GRP_CHAUTHTOK": [((), _ev("changed-group-password", ("iam",), ("group", "change")),
                       (*_IAM_BY, ("group", ("acct", "id", "uid"))))],
    "GRP_MGMT": [((), _ev("modified-group-account", ("iam",), ("group", "change")),
                  (("user", ("auid",)), ("group", ("uid",)), ("user.effective", ("uid",))))],
    "KERNEL": [((), _ev("initialized-audit-subsystem", ("process",), ("info",)), ())],
    "KERN_MODULE": [((), _ev("loaded-kernel-module", ("driver",), ("start",)), ())],
    "LABEL_LEVEL_CHANGE": [((), _ev("modified-level-of"), ())],
    "LABEL_OVERRIDE": [((), _ev("overrode-label-of"), ())],
    "LOGIN": [((), _ev("changed-login-id-to", ("authentication",), ("start",)),
               (("user", ("old_auid", "old-auid")), ("user.effective", ("new-auid", "new_auid", "auid"))))],
    "MAC_CHECK": [((), _ev("mac-permission"), ())],
    "MAC_CONFIG_CHANGE": [((), _ev("changed-selinux-boolean", ("configuration",), ("change",)), ())],
    "MAC_POLICY_LOAD": [((), _ev("loaded-selinux-policy", ("configuration",), ("access",)), ())],
    "MAC_STATUS": [((), _ev("changed-selinux-enforcement", ("configuration",), ("change",)), ())],
    "NETFILTER_CFG": [((), _ev("loaded-firewall-rule-to", ("configuration",), ("change",)), ())],
    "ROLE_ASSIGN": [((), _ev("assigned-user-role-to", ("iam",), ("user", "change")), ())],
    "ROLE_MODIFY": [((), _ev("modified-role", ("iam",), ("change",)), ())],
    "ROLE_REMOVE": [((), _ev("removed-user-role-from", ("iam",), ("user", "change")), ())],
    "SECCOMP": [((), _ev("violated-seccomp-policy"), ())],
    "SELINUX_ERR": [((), _ev("caused-mac-policy-error"), ())],
    "SERVICE_START": [((), _ev("started-service", ("process",), ("start",)), ())],
    "SERVICE_STOP": [((), _ev("stopped-service", ("process",), ("stop",)), ())],
    "SOFTWARE_UPDATE": [((), _ev("package-updated", ("package",), ("info",)), ())],
    "SYSTEM_BOOT": [((), _ev("booted-system", ("host",), ("start",)), ())],
    "SYSTEM_RUNLEVEL": [((), _ev("changed-to-runlevel", ("host",), ("change",)), ())],
    "SYSTEM_SHUTDOWN": [((), _ev("shutdown-system", ("host",), ("end",)), ())],
    "TEST": [((), _ev("sent-test", ("process",), ("info",)), ())],
    "TRUSTED_APP": [((), _ev("unknown", ("process",), ("info",)), ())],
    "TTY": [((), _ev("typed"), ())],
    "USER": [((), _ev("sent-message"), ())],
    "USER_ACCT": [((), _ev("was-authorized", ("authentication",), ("info",)), _CRED)],
    "USER_AUTH": [((), _ev("authenticated", ("authentication",), ("info",)), _CRED)],
    "USER_AVC": [((), _ev("access-permission"), ())],
    "USER_CHAUTHTOK": [((), _ev("changed-password", ("iam",), ("user", "change")),
                        (*_IAM_BY, ("user.target", ("acct", "id", "uid"))))],
    "USER_CMD": [((), _ev("ran-command", ("process",), ("start",)), ())],
    "USER_END": [((), _ev("ended-session", ("session",), ("end",)), _CRED)],
    "USER_ERR": [((), _ev("error", ("authentication",), ("info",)), _CRED)],
    "USER_LOGIN": [((), _ev("logged-in", ("authentication",), ("start",)), _CRED)],
    "USER_LOGOUT": [((), _ev("logged-out", ("authentication",), ("end",)), _CRED)],
    "USER_MAC_CONFIG_CHANGE": [((), _ev("changed-mac-configuration", ("configuration",), ("change",)), ())],
    "USER_MAC_POLICY_LOAD": [((), _ev("loaded-mac-policy", ("configuration",), ("access",)), ())],
    "USER_MGMT": [((), _ev("modified-user-account", ("iam",), ("user", "change")),
                   (("user", ("auid",)), ("user.target", ("acct", "id", "uid")),
                    ("user.effective", ("uid",))))],
    "USER_ROLE_CHANGE": [((), _ev("changed-role-to"), ())],
    "USER_SELINUX_ERR": [((), _ev("access-error"), ())],
    "USER_START": [((), _ev("started-session", ("session",), ("start",)), _CRED)],
    "USER_TTY": [((), _ev("typed"), ())],
    "USYS_CONFIG": [((), _ev("changed-configuration", ("configuration",), ("change",)), ())],
    "VIRT_CONTROL": [((), _ev("issued-vm-control", ("host",), ("info",)), ())],
    "VIRT_CREATE": [((), _ev("created-vm-image", ("host",), ("info",)), ())],
    "VIRT_DESTROY": [((), _ev("deleted-vm-image", ("host",), ("info",)), ())],
    "VIRT_INTEGRITY_CHECK": [((), _ev("checked-integrity-of", ("host",), ("info",)), ())],
    "VIRT_MACHINE_ID": [((), _ev("assigned-vm-id", ("host",), ("info",)), ())],
    "VIRT_MIGRATE_IN": [((), _ev("migrated-vm-from", ("host",), ("info",)), ())],
    "VIRT_MIGRATE_OUT": [((), _ev("migrated-vm-to", ("host",), ("info",)), ())],
    "VIRT_RESOURCE": [((), _ev("assigned-vm-resource", ("host",), ("info",)), ())],
}  # fmt: skip


def _sc(action: str, category: str, *etype: str) -> dict[str, Any]:
    return {"action": [action], "category": [category], "type": list(etype)}


_SYSCALL_GROUPS: tuple[tuple[dict[str, Any], tuple[str, ...]], ...] = (
    (_sc("accepted-connection-from", "network", "connection", "start"), ("accept", "accept4")),
    (_sc("checked-metadata-of", "file", "info"),
     ("access", "faccessat", "fgetxattr", "fstat", "fstatat", "getxattr", "lgetxattr", "lstat", "newfstatat",
      "stat", "stat64")),
    (_sc("changed-system-time", "host", "change"), ("adjtimex", "clock_settime", "settimeofday", "stime")),
    (_sc("bound-socket", "network", "start"), ("bind",)),
    (_sc("allocated-memory", "process", "info"), ("brk", "mmap", "mmap2")),
    (_sc("changed-file-permissions-of", "file", "change"), ("chmod", "fchmod", "fchmodat")),
    (_sc("changed-file-ownership-of", "file", "change"), ("chown", "fchown", "fchownat", "lchown")),
    (_sc("connected-to", "network", "connection", "start"), ("connect",)),
    (_sc("opened-file", "file", "creation"), ("creat",)),
    (_sc("unloaded-kernel-module", "driver", "end"), ("delete_module",)),
    (_sc("executed", "process", "start"), ("execve", "execveat")),
    (_sc("opened-file", "file", "change"), ("fallocate", "ftruncate", "truncate")),
    (_sc("loaded-kernel-module", "driver", "start"), ("finit_module", "init_module")),
    (_sc("changed-file-attributes-of", "file", "change"),
     ("fremovexattr", "fsetxattr", "lremovexattr", "lsetxattr", "removexattr", "setxattr")),
    (_sc("checked-filesystem-metadata-of", "file", "info"), ("fstatfs", "statfs")),
    (_sc("changed-timestamp-of", "file", "info"), ("futimens", "futimesat", "utime", "utimensat", "utimes")),
    (_sc("killed-pid", "process", "end"), ("kill", "tgkill", "tkill")),
    (_sc("listen-for-connections", "network", "start"), ("listen",)),
    (_sc("created-directory", "file", "creation"), ("mkdir", "mkdirat")),
    (_sc("make-device", "file", "creation"), ("mknod", "mknodat")),
    (_sc("mounted", "file", "creation"), ("mount",)),
    (_sc("opened-file", "file", "info"), ("open", "openat", "readlink", "readlinkat")),
    (_sc("read-file", "file", "info"), ("read",)),
    (_sc("received-from", "network", "connection", "info"), ("recv", "recvfrom", "recvmmsg", "recvmsg")),
    (_sc("renamed", "file", "change"), ("rename", "renameat", "renameat2")),
    (_sc("deleted", "file", "deletion"), ("rmdir", "unlink", "unlinkat")),
    (_sc("adjusted-scheduling-policy-of", "process", "change"),
     ("sched_setattr", "sched_setparam", "sched_setscheduler")),
    (_sc("sent-to", "network", "connection", "info"), ("send", "sendmmsg", "sendmsg", "sendto")),
    (_sc("changed-system-name", "host", "change"), ("setdomainname", "sethostname")),
    (_sc("changed-identity-of", "process", "change"),
     ("setegid", "seteuid", "setfsgid", "setfsuid", "setgid", "setregid", "setresgid", "setresuid",
      "setreuid", "setuid")),
    (_sc("symlinked", "file", "creation"), ("symlink", "symlinkat")),
    (_sc("unmounted", "file", "deletion"), ("umount", "umount2")),
    (_sc("wrote-to-file", "file", "change"), ("write",)),
)  # fmt: skip
_SYSCALLS = {name: ev for ev, names in _SYSCALL_GROUPS for name in names}
_SYSCALL_ANY = {"category": ["process"], "type": ["info"]}


def _err(reason: str, fld: str | None = None) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def _put(log: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key``; a key seen again becomes a list (the kv processor's append)."""
    old = log.get(key)
    if old is None:
        log[key] = value
    elif isinstance(old, list):
        old.append(value)
    else:
        log[key] = [old, value]


def _kv(text: str, log: dict[str, Any]) -> None:
    """``key=value`` pairs split on whitespace; a piece without ``=`` continues the
    previous value (``comm="a b"``)."""
    last: str | None = None
    for piece in text.split():
        key, eq, value = piece.partition("=")
        if eq and key:
            _put(log, key, value)
            last = key
        elif last is not None and isinstance(log[last], str):
            log[last] += " " + piece


def _sub_kv(text: str, log: dict[str, Any]) -> None:
    """The ``msg='...'`` list: a value runs until the next ``key=`` (``op=adding group``)."""
    for piece in _SUB_SPLIT.split(text.strip()):
        key, eq, value = piece.partition("=")
        if eq and key:
            _put(log, key, value)


def decode_hex(value: str, *, proctitle: bool = False) -> str | None:
    """The text of an auditd hex-encoded value, or ``None`` when ``value`` is not one.

    A value is taken as encoded when it is an even-length hex string whose bytes hold
    something auditd would have encoded (a byte below ``!``, a ``"``, DEL or a
    non-ASCII byte); otherwise it is plain text that happens to look like hex.
    Control bytes become caret notation (``\\r`` -> ``^M``); for ``proctitle`` the NUL
    separators between arguments become spaces.
    """
    n = len(value)
    if n == 0 or n % 2:
        return None
    try:
        data = bytes.fromhex(value)
    except ValueError:
        return None
    if not any(b < 33 or b == 34 or b >= 127 for b in data):
        return None
    if proctitle:
        data = data.rstrip(b"\0").replace(b"\0", b" ")
    if any(b < 32 or b == 127 for b in data):
        out = bytearray()
        for b in data:
            if b < 32 or b == 127:
                out += b"^" + bytes((b ^ 64,))
            else:
                out.append(b)
        data = bytes(out)
    return data.decode("utf-8", "replace")


def _trim(v: str) -> str:
    if v[:1] in ("'", '"'):
        v = v[1:]
    if v[-1:] in ("'", '"'):
        v = v[:-1]
    return v


def _clean(log: dict[str, Any], record_type: str) -> None:
    """Drop empty values, decode hex, trim quotes, name the x86_64 arch (in place)."""
    execve = record_type == "EXECVE"
    for key in list(log):
        v = log[key]
        if not isinstance(v, str):
            continue
        if v in ("?", "(null)", ""):
            del log[key]
            continue
        if key in HEX_KEYS or (execve and key[:1] == "a" and _ARG.match(key)):
            decoded = decode_hex(v, proctitle=key == "proctitle")
            if decoded is not None:
                v = decoded
        v = _trim(v)
        if key == "arch" and v == "c000003e":
            v = "x86_64"
        log[key] = v


@dataclass(slots=True)
class AuditRecord:
    """One audit record: header values and its ``key=value`` fields (cleaned)."""

    record_type: str
    seconds: int
    micros: int
    serial: int
    node: str | None
    log: dict[str, Any] = field(default_factory=dict)
    body: str = ""

    @property
    def timestamp(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.seconds, microseconds=self.micros)


def parse_record(line: str) -> AuditRecord:
    """Parse one audit record line (without a syslog header); :class:`ParseError` if
    it has no ``type=T msg=audit(EPOCH:SERIAL):`` header."""
    m = _HEADER.match(line)
    if m is None:
        raise _err(f"no 'type=T msg=audit(EPOCH:SERIAL):' header at {line[:60]!r}", "header")
    frac = (m.group("frac") or "")[:6]
    rec = AuditRecord(
        record_type=m.group("type"),
        seconds=int(m.group("sec")),
        micros=int(frac.ljust(6, "0")) if frac else 0,
        serial=int(m.group("serial")),
        node=m.group("node"),
    )
    if rec.seconds > 253402300799:  # after 9999-12-31
        raise _err(f"audit epoch {m.group('sec')} out of range", "timestamp")
    body = line[m.end() :]
    rec.body = body.strip()
    log = rec.log
    km = _KV_START.search(body)
    if km is not None:
        kv = body[km.start(1) :]
        old_new = _OLD_NEW.search(kv)
        if old_new is not None:
            kv = kv[: old_new.start()]
            log["old_auid"], log["new_auid"], log["old_ses"], log["new_ses"] = old_new.groups()
            _kv(kv, log)
        else:
            q = kv[-1:]
            cut = max(kv.rfind(" msg='"), kv.rfind(' msg="')) if q in ("'", '"') else -1
            if cut > 0:
                sub = kv[cut + 6 : -1]
                pm = _MSG_PREFIX.match(sub)
                if pm is not None:
                    sub = sub[pm.end() :]
                _kv(kv[:cut], log)
                _sub_kv(sub, log)
            else:
                _kv(kv, log)
    for old, new in (("old-auid", "old_auid"), ("old-ses", "old_ses")):
        if old in log and new not in log:
            log[new] = log.pop(old)
    _clean(log, rec.record_type)
    for key in _LONG_KEYS:
        v = log.get(key)
        if isinstance(v, str) and v.lstrip("-").isdigit():
            log[key] = int(v)
    return rec


def _to_int(v: Any) -> Any:
    if isinstance(v, str) and v.lstrip("-").isdigit() and len(v) < 20:
        return int(v)
    return v


@lru_cache(maxsize=4096)
def _is_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


class _Flat(dict[str, Any]):
    """Dotted ECS fields being built; nested at the end."""

    def rename(self, log: dict[str, Any], key: str, target: str) -> None:
        """Filebeat's ``rename`` with ``ignore_failure``: a set target keeps ``key``."""
        if key in log and target not in self:
            self[target] = log.pop(key)


def _event_mapping(rec: AuditRecord, flat: _Flat) -> None:
    """``event.*`` and the ``copy`` rules of the record type (or syscall)."""
    log = rec.log
    acts = _TYPES.get(rec.record_type)
    syscall = log.get("syscall")
    if acts is None and isinstance(syscall, str):
        ev = _SYSCALLS.get(syscall, _SYSCALL_ANY)
        acts = [((), ev, ())]
    if acts is None:
        return
    for has_fields, ev, copies in acts:
        if all(log.get(f) is not None for f in has_fields):
            for k, v in ev.items():
                flat["event." + k] = list(v)
            for target, sources in copies:
                value = None
                for src in sources:
                    value = log.get(src)
                    if value is not None:
                        break
                if isinstance(value, str):
                    flat[target + (".id" if _DIGITS.fullmatch(value) else ".name")] = value
            return


def _execve_args(log: dict[str, Any], flat: _Flat) -> None:
    """``process.args`` from ``a0..aN`` (pieces ``aN[i]`` joined; ``aN_len`` dropped)."""
    parts: list[tuple[int, int, str]] = []
    for key in [k for k in log if k[:1] == "a"]:
        m = _ARG.match(key)
        if m is None:
            continue
        value = log.pop(key)
        if m.group(3):
            continue
        text = value if isinstance(value, str) else " ".join(map(str, value))
        parts.append((int(m.group(1)), int(m.group(2) or -1), text))
    if not parts:
        return
    parts.sort()
    args: list[str] = []
    index: list[int] = []
    for i, _, text in parts:
        if index and index[-1] == i:
            args[-1] += text
        else:
            index.append(i)
            args.append(text)
    if index[0] != 0:
        args.insert(0, f"[... {index[0]} truncated arguments ...]")
    elif "process.executable" not in flat:
        flat["process.executable"] = args[0]
    flat["process.args"] = args


def map_record(rec: AuditRecord) -> _Flat:
    """The dotted ECS fields of one record, as Filebeat's pipeline maps it."""
    log = rec.log
    flat = _Flat()
    flat["@timestamp"] = format_ts(rec.timestamp)
    flat["event.kind"] = "event"
    flat["event.module"] = "auditd"
    flat["event.dataset"] = "auditd.log"
    flat["event.sequence"] = rec.serial
    log["sequence"] = rec.serial
    log["record_type"] = rec.record_type
    if rec.node:
        log["node"] = rec.node
    _event_mapping(rec, flat)
    rtype = rec.record_type
    syscall = log.get("syscall")
    if rtype in ("SYSTEM_BOOT", "SYSTEM_SHUTDOWN"):
        flat["event.category"], flat["event.type"] = "host", "info"
    if rtype == "SYSCALL" and syscall == "execve":
        flat["event.category"], flat["event.type"] = "process", "info"
    if rtype in ("VIRT_CONTROL", "VIRT_MACHINE_ID"):
        flat["event.category"] = "host"
    if rtype == "VIRT_CONTROL":
        vt = _VIRT_TYPES.get(log.get("op", ""))
        if vt:
            flat["event.type"] = vt
    if rtype == "VIRT_MACHINE_ID":
        flat["event.type"] = "creation"
        if isinstance(log.get("vm"), str):
            flat["container.name"] = log["vm"]
        if isinstance(log.get("virt"), str):
            flat["container.runtime"] = log["virt"]
    if rtype == "SYSCALL" and isinstance(syscall, str):
        if syscall in _INGRESS:
            flat["network.direction"] = "ingress"
        elif syscall in _EGRESS:
            flat["network.direction"] = "egress"
    for key, target in _RENAMES:
        flat.rename(log, key, target)
    for key, target in (("pid", "process.pid"), ("ppid", "process.parent.pid")):
        flat.rename(log, key, target)
        if target in flat:
            flat[target] = _to_int(flat[target])
    if "cmd" in log and "process.args" not in flat:
        cmd = log.pop("cmd")
        flat["process.args"] = cmd.split() if isinstance(cmd, str) else cmd
    flat.rename(log, "argc", "process.args_count")
    if isinstance(flat.get("process.args"), list):
        flat["process.args_count"] = len(flat["process.args"])
    if "process.args_count" in flat:
        flat["process.args_count"] = _to_int(flat["process.args_count"])
    flat.rename(log, "exit", "process.exit_code")
    if "process.exit_code" in flat:
        flat["process.exit_code"] = _to_int(flat["process.exit_code"])
    flat.rename(log, "cwd", "process.working_directory")
    flat.rename(log, "terminal", "user.terminal")
    flat.rename(log, "msg", "message")
    if rtype == "EXECVE":
        _execve_args(log, flat)
        if isinstance(flat.get("process.args"), list) and "process.args_count" not in flat:
            flat["process.args_count"] = len(flat["process.args"])
    flat.rename(log, "res", "event.outcome")
    if "event.action" not in flat:
        flat["event.action"] = log.pop("record_type").lower()
    flat.rename(log, "src", "source.address")
    flat.rename(log, "addr", "source.address")
    flat.rename(log, "dst", "destination.address")
    addr = flat.get("source.address")
    if isinstance(addr, str):
        ip = _is_ip(addr)
        if ip is not None:
            flat["source.ip"] = ip
    if rtype == "SYSCALL" and "event.outcome" not in flat and log.get("success") in ("yes", "no"):
        flat["event.outcome"] = "success" if log["success"] == "yes" else "failure"
    for key, value in log.items():
        flat["auditd.log." + key] = value
    return flat


def _merge(primary: _Flat, recs: list[AuditRecord]) -> None:
    """Add the secondary records of one event to the primary's fields."""
    paths: list[dict[str, Any]] = []
    for rec in recs:
        log = dict(rec.log)
        rtype = rec.record_type
        if rtype == "EXECVE":
            sub = _Flat()
            _execve_args(log, sub)
            if "process.args" in sub:
                primary["process.args"] = sub["process.args"]
                primary["process.args_count"] = len(sub["process.args"])
                primary.setdefault("process.executable", sub.get("process.executable"))
                if primary["process.executable"] is None:
                    del primary["process.executable"]
            log.pop("argc", None)
        elif rtype == "PROCTITLE" and isinstance(log.get("proctitle"), str):
            primary["process.title"] = log.pop("proctitle")
        elif rtype == "CWD" and isinstance(log.get("cwd"), str):
            primary.setdefault("process.working_directory", log.pop("cwd"))
        elif rtype == "PATH":
            paths.append(log)
            continue
        for key, value in log.items():
            primary.setdefault("auditd.log." + key, value)
    if paths:
        primary["auditd.paths"] = paths
        named = [p for p in paths if isinstance(p.get("name"), str)]
        target = [p for p in named if p.get("nametype") != "PARENT"] or named
        if target:
            primary.setdefault("file.path", target[0]["name"])


_PARTS: dict[str, tuple[tuple[str, ...], str]] = {}


def _nest(flat: dict[str, Any], event: Event) -> Event:
    """Write dotted ``flat`` keys into the nested ``event``."""
    parts_of = _PARTS
    for key, value in flat.items():
        split = parts_of.get(key)
        if split is None:
            *head, last = key.split(".")
            split = (tuple(head), last)
            if len(parts_of) < 8192:
                parts_of[key] = split
        node = event
        for part in split[0]:
            child = node.get(part)
            if child is None or type(child) is not dict:
                child = node[part] = {}
            node = child
        node[split[1]] = value
    return event


_MONTH_HEADS = frozenset(
    m.encode() for m in ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
)


@dataclass
class AuditdParser:
    """Linux audit records, raw or syslog-wrapped, one line or one joined event."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """An audit header ``type=T msg=audit(`` at the start, after ``node=N``, or
        as the body of a syslog line (audispd)."""
        head = raw[:512]
        if head.startswith(b"type="):
            return b" msg=audit(" in head
        if head.startswith(b"node="):
            return b" type=" in head and b" msg=audit(" in head
        i = head.find(b" msg=audit(")
        if i < 0:
            return False
        if head.rfind(b" type=", 0, i) < 0:
            return False
        return head[:1] == b"<" or head[:3] in _MONTH_HEADS or (head[:4].isdigit() and head[4:5] == b"-")

    def parse(self, record: RawRecord) -> list[Event]:
        if len(record.raw) > _MAX_LINE * 64:
            raise _err(f"record of {len(record.raw)} bytes is too long", "message")
        text = record.raw.decode("utf-8", "replace")
        lines = [ln.strip("\r") for ln in text.split("\n") if ln.strip()]
        if not lines:
            raise _err("empty record", "header")
        event: Event = {}
        recs: list[AuditRecord] = []
        for i, line in enumerate(lines):
            if not line.startswith(("type=", "node=")):
                line = self._unwrap(line, record, event if i == 0 else None)
            recs.append(parse_record(line))
        primary_i = next((i for i, r in enumerate(recs) if r.record_type == "SYSCALL"), 0)
        primary = recs[primary_i]
        flat = map_record(primary)
        if len(recs) > 1:
            others = [r for i, r in enumerate(recs) if i != primary_i and r.record_type != "EOE"]
            _merge(flat, others)
            flat["auditd.log.record_types"] = [r.record_type for r in recs]
            flat.setdefault("auditd.log.record_type", primary.record_type)
            if primary.record_type == "SYSCALL" and any(r.record_type == "EXECVE" for r in recs):
                # only an execve/execveat call writes an EXECVE record, whatever its syscall number
                flat["event.action"] = ["executed"]
                flat["event.category"], flat["event.type"] = ["process"], ["start"]
        if "message" not in flat:
            flat["message"] = "\n".join(lines)
        if primary.node and "host.name" not in flat and "host" not in event:
            flat["host.name"] = primary.node
        return [_nest(flat, event)]

    def _unwrap(self, line: str, record: RawRecord, event: Event | None) -> str:
        """The audit record inside a syslog line; fills ``event`` with the header's fields."""
        tzname = record_timezone(record, self.timezone)
        try:
            msg = parse_syslog(line.encode(), timezone=tzname, reference=record.received)
        except ValueError as exc:
            raise _err(str(exc), "timezone") from None
        except ParseError as exc:
            raise _err(f"neither an audit record nor syslog-wrapped one: {exc.reason}", exc.field) from None
        body = msg.message.lstrip()
        if not body.startswith(("type=", "node=")):
            raise _err(f"syslog message is not an audit record: {body[:60]!r}", "message")
        if event is not None:
            base = base_event(msg)
            base.pop("process", None)
            base.pop("message", None)
            base.pop("@timestamp", None)
            base.get("event", {}).pop("kind", None)
            event.update({k: v for k, v in base.items() if v})
        return body
