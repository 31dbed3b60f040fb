"""Tests of the auditd parser: Filebeat auditd/log oracle, go-libaudit golden files,
hex decoding, audispd syslog-wrapped lines, joined events, errors and detection."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectors.parsers import PARSERS, detect_format
from collectors.parsers.auditd import AuditdParser, decode_hex
from collectors.parsers.base import ParseError
from soc.event import RawRecord, flatten, get_field, parse_ts
from tests.helpers_oracle import OracleReport, oracle_agreement

ORACLE_FIELDS = (
    "@timestamp", "event.action", "event.category", "event.type", "event.outcome", "event.sequence",
    "source.ip", "source.address", "destination.address", "group.id", "host.architecture",
    "network.direction",
)  # fmt: skip
ORACLE_PREFIXES = ("user.", "process.", "auditd.log.", "container.")
PARSER = AuditdParser(timezone="UTC")
RECEIVED = datetime(2021, 6, 1, tzinfo=UTC)


def parse(raw: bytes) -> dict:
    (event,) = PARSER.parse(RawRecord(raw=raw, source="t", position=0, received=RECEIVED))
    return event


def flat(raw: bytes) -> dict:
    return dict(flatten(parse(raw)))


def audit_lines(datasets: Path) -> list[tuple[Path, bytes]]:
    root = datasets / "logs" / "endpoint" / "auditd"
    out = []
    for path in sorted(root.rglob("*.log")):
        out.extend((path, line) for line in path.read_bytes().split(b"\n") if line.strip())
    return out


def test_filebeat_oracle_agreement(datasets: Path) -> None:
    folder = datasets / "logs" / "endpoint" / "auditd" / "elastic-beats"
    report = OracleReport()
    for log in sorted(folder.glob("*.log")):
        report.add(
            oracle_agreement(log, lambda line, doc: parse(line), ORACLE_FIELDS, prefixes=ORACLE_PREFIXES)
        )
    print("\n" + report.table("Filebeat auditd/log oracle"))
    for m in report.mismatches[:20]:
        print("  ", m)
    assert report.docs == 135 and report.compared > 1000
    assert report.ratio >= 0.95, report.mismatches[:20]
    for fld in ("event.action", "@timestamp", "auditd.log.sequence", "process.args", "user.id"):
        assert report.per_field()[fld] >= 0.95, fld


# go-libaudit golden "data" keys -> our field
GOLDEN_KEYS = {
    "comm": "process.name", "exe": "process.executable", "cwd": "process.working_directory",
    "proctitle": "auditd.log.proctitle", "name": "auditd.log.name", "pid": "process.pid",
}  # fmt: skip


def test_go_libaudit_every_line_parses_and_agrees(datasets: Path) -> None:
    folder = datasets / "logs" / "endpoint" / "auditd" / "go-libaudit"
    agree = total = lines_seen = 0
    rejected: list[bytes] = []
    for log in sorted(folder.glob("*.log")):
        lines = [ln for ln in log.read_bytes().split(b"\n") if ln.strip()]
        golden = json.loads((folder / f"{log.name}.golden").read_text())
        assert len(lines) == len(golden)
        for line, gold in zip(lines, golden, strict=True):
            lines_seen += 1
            if gold is None:  # go-libaudit rejects it too (type=UNKNOWN[1329] msg=?)
                with pytest.raises(ParseError) as exc:
                    parse(line)
                assert exc.value.field == "header"
                rejected.append(line)
                continue
            ev = flat(line)
            want = {"@timestamp": parse_ts(gold["@timestamp"]), "sequence": gold["sequence"]}
            got = {"@timestamp": parse_ts(ev["@timestamp"]), "sequence": ev["auditd.log.sequence"]}
            for key, ours in GOLDEN_KEYS.items():
                if key in gold.get("data", {}):
                    want[key] = gold["data"][key]
                    got[key] = None if ev.get(ours) is None else str(ev[ours])
            total += len(want)
            agree += sum(want[k] == got[k] for k in want)
    print(f"\ngo-libaudit golden: {agree}/{total} values agree over {lines_seen} lines, rejected {rejected}")
    assert lines_seen == 80 and len(rejected) == 1
    assert agree / total >= 0.95


def test_syscall_mapping_and_hex_exe() -> None:
    ev = flat(
        b"type=SYSCALL msg=audit(1485893834.891:18877199): arch=c000003e syscall=44 success=yes exit=184 "
        b"a0=9 a1=7f564b2672a0 a2=b8 a3=0 items=0 ppid=1240 pid=1281 auid=4294967295 uid=0 gid=0 euid=0 "
        b'suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="charon" '
        b"exe=2F7573722F6C6962657865632F7374726F6E677377616E2F636861726F6E202864656C6574656429 key=(null)"
    )
    assert ev["@timestamp"] == "2017-01-31T20:17:14.891Z"
    assert ev["event.sequence"] == ev["auditd.log.sequence"] == 18877199
    assert ev["process.executable"] == "/usr/libexec/strongswan/charon (deleted)"
    assert ev["process.pid"] == 1281 and ev["process.parent.pid"] == 1240
    assert ev["user.id"] == "0" and ev["user.audit.id"] == "4294967295"
    assert ev["host.architecture"] == "x86_64" and ev["network.direction"] == "egress"
    assert ev["auditd.log.a1"] == "7f564b2672a0"  # syscall arguments are numbers, never decoded
    assert ev["event.outcome"] == "success"
    assert "auditd.log.key" not in ev  # (null) is dropped


def test_hex_decoding_rules() -> None:
    assert decode_hex("737368643A206275726E205B707269765D") == "sshd: burn [priv]"
    assert decode_hex("2F62696E2F6C73002D6C00", proctitle=True) == "/bin/ls -l"
    assert decode_hex("6C730D") == "ls^M"  # control bytes in caret notation, as Filebeat shows them
    assert decode_hex("deadbeef") is not None  # holds bytes auditd would have encoded
    assert decode_hex("636166") is None  # "caf": nothing that needs encoding, so it is plain text
    assert decode_hex("abc") is None and decode_hex("zz") is None and decode_hex("") is None
    vn = "/home/người dùng/tệp.txt".encode()
    assert decode_hex(vn.hex().upper()) == "/home/người dùng/tệp.txt"  # UTF-8, not Latin-1
    ev = flat(b"type=CWD msg=audit(1.5:7): cwd=" + vn.hex().encode())
    assert ev["process.working_directory"] == "/home/người dùng/tệp.txt"


def test_execve_args_hex_and_split_args() -> None:
    ev = flat(b'type=EXECVE msg=audit(1.0:1): argc=3 a0="echo" a1=68656C6C6F20776F726C64 a2="x"')
    assert ev["process.args"] == ["echo", "hello world", "x"] and ev["process.args_count"] == 3
    assert ev["process.executable"] == "echo"
    ev = flat(b'type=EXECVE msg=audit(1.0:2): argc=2 a0="cat" a1_len=6 a1[0]="abc" a1[1]="def"')
    assert ev["process.args"] == ["cat", "abcdef"]
    ev = flat(b'type=EXECVE msg=audit(1.0:3): a2="c" a3="d"')
    assert ev["process.args"] == ["[... 2 truncated arguments ...]", "c", "d"]


def test_user_login_source_ip_and_user_copy() -> None:
    ev = flat(
        b"type=USER_LOGIN msg=audit(1492896301.818:19955): pid=12635 uid=0 auid=4294967295 ses=4294967295 "
        b'msg=\'op=login acct="admin" exe="/usr/sbin/sshd" hostname=? addr=179.38.151.221 terminal=sshd '
        b"res=failed'"
    )
    assert ev["event.action"] == ["logged-in"] and ev["event.category"] == ["authentication"]
    assert ev["event.outcome"] == "failed"
    assert ev["source.ip"] == "179.38.151.221" and ev["user.name"] == "admin"
    assert ev["user.effective.name"] == "admin" and ev["user.id"] == "4294967295"
    assert "auditd.log.hostname" not in ev


AUDISPD_BODY = (
    b"type=USER_AUTH msg=audit(1489636960.072:19623789): user pid=28281 uid=0 auid=700 ses=6793 "
    b'msg=\'op=success acct="admin" exe="/usr/sbin/sshd" hostname=? addr=216.160.83.61 terminal=ssh '
    b"res=success'"
)


@pytest.mark.parametrize(
    "prefix",
    [
        b"Mar 16 04:02:40 web01 audispd: node=web01 ",
        b"<86>Mar 16 04:02:40 web01 audisp-syslog[812]: node=web01 ",
        b"<86>1 2017-03-16T04:02:40.072Z web01 audispd 812 - - node=web01 ",
    ],
)
def test_syslog_wrapped_audispd_lines(prefix: bytes) -> None:
    raw = flat(b"node=web01 " + AUDISPD_BODY)
    ev = flat(prefix + AUDISPD_BODY)
    assert PARSER.detect(prefix + AUDISPD_BODY)
    assert ev["host.hostname"] == "web01" and ev["log.syslog.appname"].startswith("audisp")
    assert ev["@timestamp"] == "2017-03-16T04:02:40.072Z"  # the audit time, not the syslog header's
    for key in ("event.action", "user.name", "source.ip", "process.pid", "auditd.log.node", "event.outcome"):
        assert ev[key] == raw[key], key


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "header"),
        (b"hello world", "timestamp"),
        (b"type=SYSCALL msg=audit(abc:1): x=1", "header"),
        (b"type=UNKNOWN[1329] msg=?", "header"),
        (b"Mar 16 04:02:40 web01 sshd[1]: Accepted password for x", "message"),
        (b"type=SYSCALL msg=audit(99999999999999.1:1): a=1", "timestamp"),
    ],
)
def test_garbage_is_a_parse_error_naming_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(raw)
    assert exc.value.parser == "auditd" and exc.value.field == field


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.sampled_from([b"", b"type=SYSCALL msg=audit(1.2:3): ", b"node=x type="]))
def test_arbitrary_bytes_raise_only_parse_error(data: bytes, prefix: bytes) -> None:
    try:
        events = PARSER.parse(RawRecord(raw=prefix + data, source="t", position=0, received=RECEIVED))
    except ParseError:
        return
    assert len(events) == 1 and isinstance(events[0]["@timestamp"], str)
    json.dumps(events[0])  # always serialisable


def test_joined_execve_event(datasets: Path) -> None:
    """One event of SYSCALL + EXECVE (a line of execve.log) + CWD + PATH + PROCTITLE + EOE."""
    folder = datasets / "logs" / "endpoint" / "auditd" / "elastic-beats"
    execve = (folder / "execve.log").read_bytes().split(b"\n")[0]
    hdr = b"msg=audit(1481077231.371:479):"
    assert hdr in execve
    title = b"\0".join([b"auditctl", b"-a", b"exit,always", b"-F", b"arch=b32", b"-S", b"execve"])
    joined = b"\n".join(
        [
            b"type=SYSCALL " + hdr + b" arch=c000003e syscall=59 success=yes exit=0 a0=55d1 a1=55d2 a2=55d3 "
            b"a3=0 items=2 ppid=900 pid=901 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
            b"fsgid=0 "
            b'tty=pts0 ses=3 comm="auditctl" exe="/usr/sbin/auditctl" key="audit-tools"',
            execve,
            b"type=CWD " + hdr + b' cwd="/root"',
            b"type=PATH "
            + hdr
            + b' item=0 name="/usr/sbin/auditctl" inode=4242 mode=0100750 nametype=NORMAL',
            b"type=PATH " + hdr + b' item=1 name="/lib64/ld-linux-x86-64.so.2" inode=77 nametype=NORMAL',
            b"type=PROCTITLE " + hdr + b" proctitle=" + title.hex().upper().encode(),
            b"type=EOE " + hdr,
        ]
    )
    ev = flat(joined)
    assert ev["process.args"] == ["auditctl", "-a", "exit,always", "-F", "arch=b32", "-S", "execve"]
    assert ev["process.args_count"] == 7
    assert ev["process.title"] == "auditctl -a exit,always -F arch=b32 -S execve"
    assert ev["process.executable"] == "/usr/sbin/auditctl" and ev["process.pid"] == 901
    assert ev["process.working_directory"] == "/root" and ev["file.path"] == "/usr/sbin/auditctl"
    assert [p["name"] for p in ev["auditd.paths"]] == ["/usr/sbin/auditctl", "/lib64/ld-linux-x86-64.so.2"]
    assert ev["auditd.log.record_type"] == "SYSCALL"
    assert ev["event.action"] == ["executed"] and ev["event.type"] == ["start"]
    assert ev["auditd.log.record_types"] == ["SYSCALL", "EXECVE", "CWD", "PATH", "PATH", "PROCTITLE", "EOE"]
    assert ev["user.audit.id"] == "1000" and ev["auditd.log.key"] == "audit-tools"
    assert ev["auditd.log.sequence"] == 479 and ev["@timestamp"] == "2016-12-07T02:20:31.371Z"


def test_detector_claims_every_audit_record_and_only_those(datasets: Path) -> None:
    lines = audit_lines(datasets)
    assert len(lines) > 200
    for path, line in lines:
        assert PARSER.detect(line) == (b"msg=audit(" in line), (path.name, line[:80])
    others = {name: cls() for name, cls in PARSERS.items() if name != "auditd"}
    for path, line in lines:
        claimed = [name for name, p in others.items() if p.detect(line)]
        assert not claimed, (path.name, claimed, line[:80])
    # syslog-wrapped: only the generic syslog family also claims them, so auditd goes before it
    wrapped = b"Mar 16 04:02:40 web01 audispd: node=web01 " + AUDISPD_BODY
    assert {n for n, p in others.items() if p.detect(wrapped)} <= {"syslog", "linux_auth"}


def test_detector_does_not_claim_other_families(datasets: Path) -> None:
    claimed = []
    for path in sorted((datasets / "logs").rglob("*")):
        if (
            not path.is_file()
            or "auditd" in path.parts
            or path.suffix in (".json", ".golden", ".pcap", ".evtx")
        ):
            continue
        with open(path, "rb") as fh:
            head = fh.read(200_000)
        claimed += [(path.name, ln[:60]) for ln in head.split(b"\n")[:2000] if PARSER.detect(ln)]
    assert not claimed, claimed[:5]


def test_registered_detection_picks_auditd(datasets: Path) -> None:
    if "auditd" not in PARSERS:
        pytest.skip("auditd is not registered in collectors.parsers.PARSERS yet")
    for path, line in audit_lines(datasets):
        if b"msg=audit(" in line:
            assert detect_format(line) == "auditd", (path.name, line[:80])
    assert detect_format(b"Mar 16 04:02:40 web01 audispd: node=web01 " + AUDISPD_BODY) == "auditd"


def test_event_fields_are_nested_ecs() -> None:
    ev = parse(
        b"type=PROCTITLE msg=audit(1451781471.394:194440): proctitle=737368643A206275726E205B707269765D"
    )
    assert get_field(ev, "auditd.log.proctitle") == "sshd: burn [priv]"
    assert get_field(ev, "event.action") == "proctitle" and get_field(ev, "event.kind") == "event"
    assert "auditd.log.proctitle" not in ev
