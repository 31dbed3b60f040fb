"""Linux ``auth.log`` / ``secure`` parser (``linux_auth``), mapped as Filebeat's
``system/auth`` module maps it.

The syslog header comes from :func:`collectors.parsers.syslog.parse_syslog`; the
body is then matched, first match wins, against the messages Filebeat knows:

* sshd ``Accepted|Failed <method> for [invalid user ]<user> from <ip> port <n> ssh2[: <sig>]``;
* sshd ``<Event> user <user> from <ip>`` (``Invalid user test from 10.0.2.2``);
* sshd ``Did not receive identification string from <ip>``;
* sudo ``<user> : [<error> ; ]TTY=.. ; PWD=.. ; USER=.. ; COMMAND=..``;
* groupadd ``new group: name=.., GID=..``; useradd ``new user: name=.., UID=.., GID=.., home=.., shell=..``.

Other bodies (PAM, su, passwd, systemd-logind, CRON ...) get the user names of PAM
style messages (``for user X by Y(uid=N)``). Every line whose header parses becomes
an event; only a bad header raises :class:`ParseError`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.syslog import (
    SyslogMessage,
    base_event,
    parse_syslog,
    record_timezone,
    resolve_timezone,
)
from soc.event import Event, RawRecord

PARSER_NAME = "linux_auth"

AUTH_PROGRAMS = frozenset(
    {
        "sshd", "sshd-session", "sudo", "su", "useradd", "groupadd", "usermod", "userdel", "groupdel",
        "groupmod", "passwd", "chpasswd", "chage", "gpasswd", "pam", "pam_unix", "login", "systemd-logind",
        "CRON", "cron", "crond", "polkitd", "sssd", "unix_chkpwd", "dbus-daemon", "gdm-password", "runuser",
    }
)  # fmt: skip
_IAM_USER = frozenset({"useradd", "userdel", "usermod"})
_IAM_GROUP = frozenset({"groupadd", "groupdel", "groupmod"})
_IAM_TYPE = {
    "useradd": "creation", "groupadd": "creation", "userdel": "deletion", "groupdel": "deletion",
    "usermod": "change", "groupmod": "change",
}  # fmt: skip

_REFERENCE = datetime(2000, 6, 1, tzinfo=UTC)  # any year will do for detect()
_MAX_BODY = 2048  # bodies longer than this are not matched (bounds regex cost); they keep `message`

_HOST = r"([0-9A-Za-z.:%_\-\[\]]+)"
_SSH_LOGIN = re.compile(
    r"(\S+) (\S+) for (invalid user )?(.*?) from " + _HOST + r" port (\d+)(?: ssh2)?(?:: (.*))?$"
)
_DROPPED = "Did not receive identification string from "
_SUDO_KEYS = {"TTY": "tty", "PWD": "pwd", "USER": "user", "GROUP": "group"}
_NEW_GROUP = re.compile(r"new group: name=([^,]*), GID=(\d+)")
_NEW_USER = re.compile(r"new user: name=([^,]*), UID=(\d+), GID=(\d+), home=([^,]*), shell=([^,]*)")
# PAM user names: Filebeat's "grok-pam-users", tried in order.
_Q = "['\"]?"
_PAM_FOR_BY = re.compile(
    r"for user " + _Q + r"(.*?)" + _Q + r" by " + _Q + r"(.*?)" + _Q + r"(?:\(uid=(\d+)\))?$"
)
_PAM_FOR = re.compile(r"for user " + _Q + r"(.*?)" + _Q + r"$")
_PAM_BY = re.compile(r"by user " + _Q + r"(.*?)" + _Q + r"$")
_PAM_USER = re.compile(r"(?<! ) user ['\"](.*?)['\"]")
_UID_SUFFIX = re.compile(r"\(uid=\d+\)$")


@lru_cache(maxsize=65536)
def _ip(text: str) -> str | None:
    """``text`` as a normalised IP address, or ``None`` when it is not one."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@dataclass(slots=True)
class _Auth:
    """What the body said; turned into ECS by :func:`_to_ecs`."""

    fields: dict[str, Any] = field(default_factory=dict)
    user: str | None = None
    user_id: str | None = None
    effective: str | None = None
    address: str | None = None
    port: int | None = None
    matched: bool = False


def _match_specific(body: str, auth: _Auth) -> bool:
    f = auth.fields
    if body.startswith("new group: "):
        m = _NEW_GROUP.match(body)
        if m:
            f["group.name"], f["group.id"] = m.group(1), m.group(2)
            return True
    if body.startswith("new user: "):
        m = _NEW_USER.match(body)
        if m:
            auth.user, auth.user_id, f["group.id"] = m.group(1), m.group(2), m.group(3)
            f["system.auth.useradd.home"], f["system.auth.useradd.shell"] = m.group(4), m.group(5)
            return True
    if body.startswith(_DROPPED):
        host = body[len(_DROPPED) :].split(" ", 1)[0]
        if host:
            ip = _ip(host)
            if ip:
                f["system.auth.ssh.dropped_ip"] = ip
                auth.address = ip
            return True
    if " for " in body and " port " in body:
        m = _SSH_LOGIN.match(body)
        if m:
            f["system.auth.ssh.event"], f["system.auth.ssh.method"] = m.group(1), m.group(2)
            auth.user = m.group(4).strip() or None
            auth.address, auth.port = m.group(5), int(m.group(6))
            if m.group(7):
                f["system.auth.ssh.signature"] = m.group(7)
            return True
    i = body.find(" user ")
    if i > 0:
        j = body.find(" from ", i + 6)
        if j > 0:
            host = body[j + 6 :].split(" ", 1)[0]
            if host:
                f["system.auth.ssh.event"] = body[:i]
                auth.user = body[i + 6 : j] or None
                auth.address = host
                return True
    if " : " in body and "COMMAND=" in body:
        return _match_sudo(body, auth)
    return False


def _match_sudo(body: str, auth: _Auth) -> bool:
    user, _, rest = body.partition(" : ")
    user = user.strip()
    if not user or " " in user:
        return False
    cmd_at = rest.find("COMMAND=")
    items = [p.strip() for p in rest[:cmd_at].split(" ;") if p.strip()]
    sudo: dict[str, str] = {}
    error: str | None = None
    for i, item in enumerate(items):
        key, eq, value = item.partition("=")
        if eq and key in _SUDO_KEYS:
            sudo[_SUDO_KEYS[key]] = value
        elif eq and key.isupper():
            sudo[key.lower()] = value
        elif i == 0:
            error = item
        else:
            return False
    sudo["command"] = rest[cmd_at + 8 :]
    f = auth.fields
    for key, value in sudo.items():
        f["system.auth.sudo." + key] = value
    if error:
        f["system.auth.sudo.error"] = error
    auth.user = user
    if "user" in sudo:
        auth.effective = sudo["user"]
    return True


def _match_pam_users(body: str, auth: _Auth) -> None:
    """Filebeat's PAM user grok: ``for user X by Y(uid=N)`` and its shorter forms."""
    for_user = by_user = by_uid = user = None
    m = _PAM_FOR_BY.search(body)
    if m:
        for_user, by_user, by_uid = m.group(1), m.group(2), m.group(3)
    elif m := _PAM_FOR.search(body):
        for_user = m.group(1)
    elif m := _PAM_BY.search(body):
        by_user = m.group(1)
    elif m := _PAM_USER.search(body):
        user = m.group(1)
    if for_user:
        for_user = _UID_SUFFIX.sub("", for_user)  # "root(uid=0)" on newer systems
    if by_user:
        auth.user = by_user
    if by_uid:
        auth.user_id = by_uid
    if for_user and not auth.user:
        auth.user = for_user
        for_user = None
    if user and not auth.user:
        auth.user = user
    if for_user and auth.user:
        auth.effective = for_user


def _set(event: Event, path: str, value: Any) -> None:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _to_ecs(msg: SyslogMessage, auth: _Auth) -> Event:
    event = base_event(msg)
    ev = event["event"]
    ev["dataset"] = "system.auth"
    ev["module"] = "system"
    for path, value in auth.fields.items():
        if path.startswith("system.auth."):
            sub = path[12:]
            kind, _, leaf = sub.partition(".")
            event.setdefault("system", {}).setdefault("auth", {}).setdefault(kind, {})[leaf] = value
        else:
            _set(event, path, value)
    if auth.user:
        user: dict[str, Any] = {"name": auth.user}
        if auth.user_id:
            user["id"] = auth.user_id
        if auth.effective:
            user["effective"] = {"name": auth.effective}
        event["user"] = user
    elif auth.effective:
        event["user"] = {"effective": {"name": auth.effective}}
    source_ip: str | None = None
    if auth.address:
        source_ip = _ip(auth.address)
        source: dict[str, Any] = {"ip": source_ip} if source_ip else {"domain": auth.address}
        if auth.port is not None:
            source["port"] = auth.port
        event["source"] = source
    ssh_event = auth.fields.get("system.auth.ssh.event")
    if ssh_event == "Accepted":
        ev.update(
            type=["info"], category=["authentication", "session"], action="ssh_login", outcome="success"
        )
    elif ssh_event in ("Invalid", "Failed"):
        ev.update(type=["info"], category=["authentication"], action="ssh_login", outcome="failure")
    proc = msg.appname
    if proc in _IAM_TYPE:
        ev.setdefault("category", []).append("iam")
        failed = not auth.matched and "fail" in msg.message
        ev["outcome"] = "failure" if failed else "success"
        types = ev.setdefault("type", [])
        types.append(_IAM_TYPE[proc])
        types.append("user" if proc in _IAM_USER else "group")
    related: dict[str, list[str]] = {}
    users = [u for u in (auth.user, auth.effective) if u]
    if users:
        related["user"] = list(dict.fromkeys(users))
    if source_ip:
        related["ip"] = [source_ip]
    if msg.hostname:
        related["hosts"] = [msg.hostname]
    if related:
        event["related"] = related
    return event


@dataclass
class LinuxAuthParser:
    """Parser for Linux auth/secure syslog lines (sshd, sudo, su, PAM, user/group tools)."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for a syslog line whose program is one of :data:`AUTH_PROGRAMS`."""
        try:
            msg = parse_syslog(raw[:512], timezone="UTC", reference=_REFERENCE)
        except ParseError:
            return False
        return msg.appname in AUTH_PROGRAMS

    def parse(self, record: RawRecord) -> list[Event]:
        tzname = record_timezone(record, self.timezone)
        try:
            msg = parse_syslog(record.raw, timezone=tzname, reference=record.received)
        except ParseError as exc:
            raise ParseError(exc.reason, parser=self.name, field=exc.field) from None
        except ValueError as exc:
            raise ParseError(str(exc), parser=self.name, field="timezone") from None
        auth = _Auth()
        body = msg.message
        if len(body) <= _MAX_BODY:
            auth.matched = _match_specific(body, auth)
            if not auth.matched:
                _match_pam_users(body, auth)
        return [_to_ecs(msg, auth)]
