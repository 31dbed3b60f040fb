"""Tests of the linux_auth parser: Filebeat system/auth oracle, CrowdSec syslog oracle,
and the mapping of each auth message family."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from collectors.parsers.base import ParseError
from collectors.parsers.linux_auth import LinuxAuthParser
from soc.event import RawRecord, flatten, get_field, parse_ts
from tests.helpers_collectors import dataset

ORACLE_FIELDS = (
    "event.action", "event.category", "event.outcome", "event.type", "user.name", "source.ip", "source.port",
    "process.name", "process.pid", "host.hostname", "system.auth.ssh.event", "system.auth.ssh.method",
)  # fmt: skip
RECEIVED = datetime(2019, 6, 20, tzinfo=UTC)


def parse(line: bytes, tz: str = "UTC") -> dict:
    (ev,) = LinuxAuthParser(timezone=tz).parse(RawRecord(raw=line, source="t", position=0, received=RECEIVED))
    return ev


def _ms(text: str) -> datetime:
    ts = parse_ts(text)
    return ts.replace(microsecond=ts.microsecond // 1000 * 1000)  # Elasticsearch keeps milliseconds


def test_filebeat_oracle_agreement():
    folder = dataset("logs", "endpoint", "linux_auth", "elastic-beats")
    total = agree = 0
    mismatches: list[str] = []
    for name in ("test.log", "secure-rhel7.log", "timestamp.log"):
        raw = (folder / name).read_bytes()
        for doc in json.loads((folder / f"{name}-expected.json").read_text()):
            off = doc["log.offset"]
            end = raw.find(b"\n", off)
            line = raw[off : end if end >= 0 else len(raw)]
            ev = dict(flatten(parse(line, tz=doc.get("event.timezone", "UTC"))))
            fields = ORACLE_FIELDS + (("@timestamp",) if "@timestamp" in doc else ())
            for f in fields:
                want, got = doc.get(f), ev.get(f)
                if f == "@timestamp":
                    want, got = _ms(want), _ms(got) if got else None
                total += 1
                if want == got:
                    agree += 1
                else:
                    mismatches.append(f"{name}@{off} {f}: expected {want!r}, got {got!r}")
    pct = 100.0 * agree / total
    print(f"\nFilebeat system/auth oracle: {agree}/{total} field values agree ({pct:.2f}%)")
    for m in mismatches[:20]:
        print("  ", m)
    assert total > 1000
    assert pct >= 95.0, mismatches[:20]


_ASSERT = re.compile(
    r'^results\["s00-raw"\]\["crowdsecurity/syslog-logs"\]\[(\d+)\]\.Evt\.(Parsed|Meta)\["(\w+)"\] == "(.*)"$'
)


def test_crowdsec_syslog_stage_oracle():
    folder = dataset("logs", "endpoint", "linux_auth", "crowdsec-hub", "sshd-logs")
    lines = (folder / "sshd-logs.log").read_bytes().splitlines()
    want: dict[int, dict[str, str]] = {}
    for text in (folder / "parser.assert").read_text().splitlines():
        m = _ASSERT.match(text)
        if m:
            want.setdefault(int(m.group(1)), {})[m.group(3)] = json.loads(f'"{m.group(4)}"')
    assert len(want) >= 20
    total = agree = 0
    for i, fields in want.items():
        ev = parse(lines[i])
        got = {
            "message": ev["message"],
            "pid": str(get_field(ev, "process.pid")),
            "program": get_field(ev, "process.name"),
            "machine": get_field(ev, "host.hostname"),
        }
        for key, value in fields.items():
            if key in got:
                total += 1
                agree += got[key] == value
    pct = 100.0 * agree / total
    print(f"\nCrowdSec syslog-logs oracle: {agree}/{total} ({pct:.1f}%)")
    assert pct >= 95.0


def test_ssh_accepted_publickey():
    ev = parse(
        b"Feb 21 21:54:44 localhost sshd[3402]: Accepted publickey for vagrant from 10.0.2.2 port 63673 "
        b"ssh2: RSA 39:33:99:e9:a0:dc:f2:33"
    )
    assert get_field(ev, "event.action") == "ssh_login"
    assert get_field(ev, "event.category") == ["authentication", "session"]
    assert get_field(ev, "event.outcome") == "success"
    assert get_field(ev, "event.dataset") == "system.auth"
    assert get_field(ev, "system.auth.ssh.signature") == "RSA 39:33:99:e9:a0:dc:f2:33"
    assert get_field(ev, "source.port") == 63673
    assert get_field(ev, "related.ip") == ["10.0.2.2"]
    assert get_field(ev, "related.hosts") == ["localhost"]
    assert get_field(ev, "@timestamp") == "2019-02-21T21:54:44.000Z"


def test_ssh_failed_invalid_user():
    ev = parse(
        b"Jan 5 10:00:00 h sshd[9]: Failed password for invalid user admin from 2001:db8::1 port 22 ssh2"
    )
    assert get_field(ev, "event.outcome") == "failure"
    assert get_field(ev, "user.name") == "admin"
    assert get_field(ev, "source.ip") == "2001:db8::1"
    ev = parse(b"Jan 5 10:00:00 h sshd[9]: Invalid user test from 10.0.2.2 port 4242")
    assert get_field(ev, "system.auth.ssh.event") == "Invalid"
    assert get_field(ev, "event.category") == ["authentication"]
    assert get_field(ev, "user.name") == "test"
    ev = parse(b"Jan 5 10:00:00 h sshd[9]: Invalid user bob from attacker.example.net")
    assert get_field(ev, "source.domain") == "attacker.example.net"
    assert get_field(ev, "source.ip") is None


def test_sudo_with_error():
    ev = parse(
        b"Feb 24 00:13:02 precise32 sudo:      tsg : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/vagrant ; "
        b"USER=root ; COMMAND=/bin/ls -l ; echo"
    )
    assert get_field(ev, "user.name") == "tsg"
    assert get_field(ev, "user.effective.name") == "root"
    assert get_field(ev, "system.auth.sudo.error") == "user NOT in sudoers"
    assert get_field(ev, "system.auth.sudo.command") == "/bin/ls -l ; echo"
    assert get_field(ev, "system.auth.sudo.tty") == "pts/1"
    assert get_field(ev, "related.user") == ["tsg", "root"]


def test_useradd_groupadd_iam():
    ev = parse(b"Feb 22 11:47:05 localhost groupadd[6991]: new group: name=apache, GID=48")
    assert get_field(ev, "group.name") == "apache" and get_field(ev, "group.id") == "48"
    assert get_field(ev, "event.category") == ["iam"] and get_field(ev, "event.type") == ["creation", "group"]
    ev = parse(
        b"Feb 22 11:47:05 localhost useradd[6995]: new user: name=apache, UID=48, GID=48, "
        b"home=/usr/share/httpd, shell=/sbin/nologin, from=/dev/pts/0"
    )
    assert get_field(ev, "user.name") == "apache" and get_field(ev, "user.id") == "48"
    assert get_field(ev, "system.auth.useradd.shell") == "/sbin/nologin"
    assert get_field(ev, "event.type") == ["creation", "user"] and get_field(ev, "event.outcome") == "success"
    ev = parse(b"Feb 22 11:47:05 localhost usermod[1]: failed adding user 'x' to group 'y'")
    assert get_field(ev, "event.outcome") == "failure" and get_field(ev, "event.type") == ["change", "user"]


def test_pam_session_users_and_generic_lines():
    ev = parse(
        b"2019-06-14T10:40:20.912134 localhost sudo: pam_unix(sudo-i:session): "
        b"session opened for user root by userauth3(uid=0)"
    )
    assert get_field(ev, "user.name") == "userauth3"
    assert get_field(ev, "user.id") == "0"
    assert get_field(ev, "user.effective.name") == "root"
    ev = parse(b"Jun 1 10:00:00 h CRON[77]: pam_unix(cron:session): session closed for user root")
    assert get_field(ev, "user.name") == "root"
    assert get_field(ev, "process.name") == "CRON"
    ev = parse(b"Jun 1 10:00:00 h systemd-logind[5]: New session 12 of user alice.")
    assert get_field(ev, "message") == "New session 12 of user alice."
    assert get_field(ev, "event.kind") == "event"
    assert get_field(ev, "event.action") is None


def test_bad_header_is_parse_error_named_linux_auth():
    with pytest.raises(ParseError) as info:
        parse(b"not a syslog line at all")
    assert info.value.parser == "linux_auth" and info.value.field == "timestamp"


def test_detect():
    p = LinuxAuthParser()
    assert p.detect(b"Feb 21 21:54:44 localhost sshd[3402]: Accepted password for a from 1.2.3.4 port 1 ssh2")
    assert p.detect(
        b"<86>Feb 21 21:54:44 localhost sudo: x : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls"
    )
    assert not p.detect(b"Feb 21 21:54:44 localhost nginx[1]: GET /")
    assert not p.detect(b"garbage")
