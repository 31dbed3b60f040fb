"""Our rule pack (rules/firewall, network, web, windows, linux/log_clearing_via_sudo.yml) on
events made by parsing real log lines with our parsers: dataset lines where they exist,
else hand-written lines in each vendor's format. Every rule has a positive and a
negative case; correlations run on synthetic timelines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from collectors.inputs.readers import FileReader
from collectors.parsers import PARSERS
from collectors.parsers.weblog import WebAccessParser
from detectors.base import Match
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config
from detectors.sigma.logsource import LogsourceMap
from soc.event import Event, RawRecord
from soc.pipeline.processor import ParserSet, Processor

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "rules"
PACK_DIRS = ("firewall", "network", "web", "windows")
PACK_FILES = (RULES / "linux" / "log_clearing_via_sudo.yml",)

# Log sources the pack uses. configs/sigma.yaml is the authority; these entries stand in
# only for a key it does not map (yet), so that the rules are tested either way.
PACK_LOGSOURCES: list[dict[str, Any]] = [
    {"logsource": {"category": "firewall"},
     "conditions": {"event.module": ["fortinet", "panw", "cisco", "iptables", "pfsense", "checkpoint"]}},
    {"logsource": {"product": "fortigate", "service": "event"}, "conditions": {"event.module": "fortinet"}},
    {"logsource": {"product": "suricata"}, "conditions": {"event.module": "suricata"}},
    {"logsource": {"product": "zeek", "service": "notice"}, "conditions": {"event.dataset": "zeek.notice"}},
    {"logsource": {"category": "webserver"}, "conditions": {"event.module": ["apache", "nginx", "weblog"]}},
    {"logsource": {"product": "windows", "service": "security"}, "conditions": {"winlog.channel": "Security"}},  # noqa: E501
    {"logsource": {"product": "windows", "service": "system"}, "conditions": {"winlog.channel": "System"}},
]  # fmt: skip


def pack_config() -> dict[str, Any]:
    cfg = dict(load_config())
    entries = list(cfg.get("logsources") or [])
    mapped = LogsourceMap(entries)
    for extra in PACK_LOGSOURCES:
        probe = type("LS", (), {k: extra["logsource"].get(k) for k in ("product", "category", "service")})
        if mapped.lookup(probe) is None:  # type: ignore[arg-type]
            entries.append(extra)
    cfg["logsources"] = entries
    cfg["cache_dir"] = ""  # our few rules parse fast; the corpus cache would be read per detector
    return cfg


CFG = pack_config()
T0 = datetime(2026, 11, 27, 3, 0, 0, tzinfo=UTC)  # 10:00 in Asia/Ho_Chi_Minh


def pack_rules() -> dict[str, dict[str, Any]]:
    """name -> YAML document of every rule in the pack."""
    files = [p for d in PACK_DIRS for p in sorted((RULES / d).glob("*.yml"))] + list(PACK_FILES)
    out = {}
    for path in files:
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            out[doc["name"]] = {**doc, "_path": path}
    return out


PACK = pack_rules()
ID = {name: doc["id"] for name, doc in PACK.items()}


def _feeders() -> set[str]:
    silenced = set()
    for doc in PACK.values():
        corr = doc.get("correlation")
        if corr and not corr.get("generate", False):
            silenced.update(corr["rules"])
    return silenced


FEEDERS = _feeders()


# --------------------------------------------------------------------------- helpers


def parse(lines: Iterable[str | bytes], expect: str, source: str = "") -> list[Event]:
    """ECS events of ``lines`` through the real processor; every line must parse with ``expect``."""
    source = source or ("file:/var/log/nginx/access.log" if expect == "weblog" else "file:/var/log/test.log")
    records = [
        RawRecord(line.encode() if isinstance(line, str) else line, source, i * 1000)
        for i, line in enumerate(lines)
    ]
    parsers = ParserSet(timezone="Asia/Ho_Chi_Minh")
    if expect == "weblog" and "weblog" not in PARSERS:  # until the lead registers the parser
        parsers._parsers["weblog"] = WebAccessParser(timezone="Asia/Ho_Chi_Minh")
        for record in records:
            record.meta["format"] = "weblog"
    result = Processor(parsers).process(records)
    assert [d.reason for d in result.dead_letters] == []
    assert result.parsed_by == {expect: len(records)}
    return result.events


def read_file(path: Path) -> list[Event]:
    result = Processor(ParserSet(timezone="Asia/Ho_Chi_Minh")).process(list(FileReader(path).records()))
    assert result.events
    return result.events


def detect(events: list[Event]) -> list[Match]:
    det = SigmaDetector([RULES], config=CFG)
    out: list[Match] = []
    for e in events:
        out.extend(det.observe(e))
    out.extend(det.tick(T0 + timedelta(days=3650)))
    return out


def fired(events: list[Event]) -> set[str]:
    names = {v: k for k, v in ID.items()}
    return {names.get(m.rule.id, m.rule.id) for m in detect(events)}


def local(ts: datetime) -> datetime:
    return ts + timedelta(hours=7)


# --------------------------------------------------------------------------- vendor lines


def fortigate(ts: datetime, logid: str, kind: str, subtype: str, body: str) -> str:
    t = local(ts)
    return (
        f'<189>date={t:%Y-%m-%d} time={t:%H:%M:%S} devname="FGT-TINH" devid="FGT60F0000000001" '
        f'logid="{logid}" type="{kind}" subtype="{subtype}" level="notice" vd="root" tz="+0700" {body}'
    )


def fgt_traffic(ts: datetime, src: str, dport: int, action: str = "deny") -> str:
    return fortigate(
        ts, "0000000013", "traffic", "forward",
        f'srcip={src} srcport=40123 srcintf="wan1" srcintfrole="wan" dstip=10.10.1.20 dstport={dport} '
        f'dstintf="dmz" dstintfrole="dmz" proto=6 action="{action}" policyid=0 service="tcp/{dport}" '
        'trandisp="noop" duration=0 sentbyte=0 rcvdbyte=0 sentpkt=0',
    )  # fmt: skip


def fgt_admin_login(ts: datetime, src: str, status: str = "failed") -> str:
    reason = "passwd_invalid" if status == "failed" else "none"
    return fortigate(
        ts, "0100032002" if status == "failed" else "0100032001", "event", "system",
        f'logdesc="Admin login failed" sn="0" user="admin" ui="https({src})" method="https" srcip={src} '
        f'dstip=198.51.100.1 action="login" status="{status}" reason="{reason}" '
        f'msg="Administrator admin login {status} from https({src})"',
    )  # fmt: skip


def fgt_sslvpn_fail(ts: datetime, remip: str, user: str = "nguyenvana") -> str:
    return fortigate(
        ts, "0101039426", "event", "vpn",
        f'logdesc="SSL VPN login fail" action="ssl-login-fail" tunneltype="ssl-web" tunnelid=0 '
        f'remip={remip} user="{user}" group="N/A" dst_host="N/A" reason="sslvpn_login_permission_denied" '
        'msg="SSL user failed to logged in"',
    )  # fmt: skip


def panos_traffic(ts: datetime, src: str, dport: int, action: str = "deny") -> str:
    t = local(ts)
    stamp = f"{t:%Y/%m/%d %H:%M:%S}"
    return (
        f"1,{stamp},012801096514,TRAFFIC,drop,2049,{stamp},{src},10.10.1.21,0.0.0.0,0.0.0.0,"
        f"deny_inbound,,,not-applicable,vsys1,untrust,dmz,ethernet1/1,,send_to_mac,{stamp},0,1,40123,{dport},"
        f"0,0,0x0,tcp,{action},60,60,0,1,{stamp},0,any,0,32091112,0x0,United States,10.0.0.0-10.255.255.255,"
        "0,1,0,policy-deny,0,0,0,0,,PA-TINH,from-policy,,,0,,0,,N/A,0,0,0,0"
    )


def panos_gp_auth(ts: datetime, public_ip: str, outcome: str = "failure") -> str:
    t = local(ts)
    stamp = f"{t:%Y/%m/%d %H:%M:%S}"
    return (
        f"1,{stamp},012801096514,GLOBALPROTECT,0,2305,{stamp},vsys1,gateway-auth,login,LDAP,,tranvanb,"
        f"VN,PC1234,{public_ip},0.0.0.0,0.0.0.0,0.0.0.0,985e865f-7da3-43b4-89a9-299b1bb0c975,SERIALNR,5.1.1,"
        f'Windows,"Microsoft Windows 10 Enterprise, 64-bit",1,,,,{outcome},,0,user-logon,0,GP GW,'
        "6894571632887748064,0x8000000000000000,1970-01-01T01:00:00.000+01:00,,0,manual only,,"
    )


def panos_system_auth_fail(ts: datetime) -> str:
    t = local(ts)
    stamp = f"{t:%Y/%m/%d %H:%M:%S}"
    return (
        f"1,{stamp},012801000001,SYSTEM,auth,2305,{stamp},,auth-fail,,0,0,general,medium,"
        "\"failed authentication for user 'admin'. Reason: Invalid username/password. From: 203.0.113.52.\","
        "1234567,0x0,0,0,0,0,,PA-TINH"
    )


def asa(ts: datetime, level: int, msgid: str, text: str) -> str:
    t = local(ts)
    return f"<166>{t:%b %d %Y %H:%M:%S} fw-asa : %ASA-{level}-{msgid}: {text}"


def asa_deny(ts: datetime, src: str, dport: int) -> str:
    return asa(ts, 4, "106023", f'Deny tcp src outside:{src}/40000 dst inside:10.1.1.5/{dport} '
               'by access-group "outside_in" [0x0, 0x0]')  # fmt: skip


def iptables_drop(ts: datetime, src: str, dport: int, prefix: str = "iptables DROP_INPUT: ") -> str:
    t = local(ts)
    return (
        f"{t:%b %d %H:%M:%S} gw01 kernel: [19955416.516358] {prefix}IN=ens2 OUT= "
        f"MAC=de:1c:88:64:10:19:5e:e1:a4:3b:cf:f0:08:00 SRC={src} DST=10.73.140.49 LEN=44 TOS=0x00 PREC=0x00 "
        f"TTL=43 ID=25313 PROTO=TCP SPT=52220 DPT={dport} WINDOW=1024 RES=0x00 SYN URGP=0"
    )


def web(ts: datetime, src: str, method: str, target: str, status: int, agent: str = "Mozilla/5.0") -> str:
    t = local(ts)
    return f'{src} - - [{t:%d/%b/%Y:%H:%M:%S} +0700] "{method} {target} HTTP/1.1" {status} 512 "-" "{agent}"'


def sudo_line(command: str) -> str:
    return (
        f"Nov 27 10:00:00 web01 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND={command}"
    )


def win_json(event_id: int, channel: str, provider: str = "Microsoft-Windows-Eventlog") -> str:
    return json.dumps({
        "EventTime": "2026-11-27 10:00:00", "Hostname": "DC01.tinh.local", "EventID": event_id,
        "SourceName": provider, "Channel": channel, "Severity": "INFO",
        "Message": "The Application log file was cleared.", "SubjectUserName": "admin",
    })  # fmt: skip


def every(n: int, step: float, start: datetime = T0) -> list[datetime]:
    return [start + timedelta(seconds=step * i) for i in range(n)]


# --------------------------------------------------------------------------- the pack itself


def test_pack_loads_compiles_and_every_rule_is_active() -> None:
    det = SigmaDetector([RULES], config=CFG)
    assert det.errors == []
    pack_ids = set(ID.values())
    inactive = {cr.info.id for cr in det.inactive_rules} & pack_ids
    assert inactive == set(), "pack rules whose logsource is not mapped"
    assert len(PACK) >= 20


@pytest.mark.parametrize("name", sorted(PACK))
def test_rule_metadata(name: str) -> None:
    doc = PACK[name]
    assert doc["author"] == "SOC engine project"
    assert len(doc["id"]) == 36 and doc["id"].count("-") == 4
    assert doc["date"] and doc["description"].strip() and doc["falsepositives"]
    assert doc["level"] in ("low", "medium", "high", "critical")
    assert any(t.startswith("attack.t") for t in doc["tags"]), "no ATT&CK technique tag"


def test_ids_are_unique() -> None:
    assert len(set(ID.values())) == len(ID)


# --------------------------------------------------------------------------- cases

Case = Callable[[], list[Event]]


def _port_scan_mixed() -> list[Event]:
    src = "203.0.113.77"
    events = []
    for i, ts in enumerate(every(18, 5)):
        port = 20 + i
        if i % 3 == 0:
            events += parse([fgt_traffic(ts, src, port)], "fortigate")
        elif i % 3 == 1:
            events += parse([panos_traffic(ts, src, port)], "panos")
        else:
            events += parse([iptables_drop(ts, src, port)], "iptables")
    return events


POSITIVE: dict[str, list[tuple[str, Case]]] = {
    "fw_port_scan": [
        ("fortigate+panos+iptables, 18 ports in 90 s", _port_scan_mixed),
        (
            "asa, 16 ports",
            lambda: parse(
                [asa_deny(ts, "198.51.100.9", 1000 + i) for i, ts in enumerate(every(16, 10))], "cisco_asa"
            ),
        ),
    ],
    "fw_deny_flood": [
        (
            "asa, 120 denies to 445 in 60 s",
            lambda: parse([asa_deny(ts, "198.51.100.10", 445) for ts in every(120, 0.5)], "cisco_asa"),
        ),
    ],
    "fw_vpn_auth_brute_force": [
        (
            "fortigate admin",
            lambda: parse([fgt_admin_login(ts, "203.0.113.50") for ts in every(10, 10)], "fortigate"),
        ),
        (
            "fortigate ssl vpn (remip)",
            lambda: parse([fgt_sslvpn_fail(ts, "203.0.113.51") for ts in every(12, 5)], "fortigate"),
        ),
        (
            "panos globalprotect",
            lambda: parse([panos_gp_auth(ts, "203.0.113.60") for ts in every(10, 3)], "panos"),
        ),
        ("panos admin (SYSTEM)", lambda: parse([panos_system_auth_fail(ts) for ts in every(10, 3)], "panos")),
        (
            "asa 605004 + 611102",
            lambda: parse(
                [
                    asa(
                        ts,
                        6,
                        "605004",
                        'Login denied from 203.0.113.53/51234 to outside:198.51.100.1/ssh for user "admin"',
                    )
                    if i % 2
                    else asa(
                        ts, 6, "611102", "User authentication failed: IP address: 203.0.113.53, Uname: admin"
                    )
                    for i, ts in enumerate(every(10, 6))
                ],
                "cisco_asa",
            ),
        ),
    ],
    "suricata_alert_high_severity": [
        (
            "eve alert severity 1",
            lambda: parse(
                [
                    json.dumps(
                        {
                            "timestamp": "2026-11-27T10:00:00.000000+0700",
                            "flow_id": 1,
                            "event_type": "alert",
                            "src_ip": "203.0.113.8",
                            "src_port": 4444,
                            "dest_ip": "10.10.1.20",
                            "dest_port": 80,
                            "proto": "TCP",
                            "alert": {
                                "action": "allowed",
                                "gid": 1,
                                "signature_id": 2034647,
                                "rev": 2,
                                "severity": 1,
                                "signature": "ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228)",  # noqa: E501
                                "category": "Attempted Administrator Privilege Gain",
                            },
                        }
                    )
                ],
                "suricata",
            ),
        ),
    ],
    "panos_threat_high_critical": [
        (
            "threat vulnerability critical",
            lambda: parse(
                [
                    "1,2026/11/27 10:00:00,012801096514,THREAT,vulnerability,2049,2026/11/27 10:00:00,203.0.113.8,"  # noqa: E501
                    "10.10.1.20,0.0.0.0,0.0.0.0,inbound_web,,,web-browsing,vsys1,untrust,dmz,ethernet1/1,ethernet1/2,"
                    'send_to_mac,2026/11/27 10:00:00,28191,1,52984,80,0,0,0x2000,tcp,reset-both,"",'
                    "Apache Log4j Remote Code Execution Vulnerability(91991),any,critical,client-to-server,7726,"  # noqa: E501
                    "0x2000000000000000,United States,10.0.0.0-10.255.255.255,0,,0,,,0,,,,,,,,0,0,0,0,0,,PA-TINH,,,,,0,,0,,"  # noqa: E501
                    "N/A,code-execution,AppThreat-8000-7000,0x0,0,4294967295,"
                ],
                "panos",
            ),
        ),
    ],
    "zeek_notice_ssh_password_guessing": [],  # dataset cases below
    "zeek_notice_scan": [],
    "web_post_script_in_upload_path": [
        (
            "POST php in wp uploads",
            lambda: parse(
                [web(T0, "203.0.113.30", "POST", "/wp-content/uploads/2026/11/x.php", 200)], "weblog"
            ),
        ),
    ],
    "web_command_parameter": [
        (
            "cmd= on a php",
            lambda: parse(
                [web(T0, "203.0.113.30", "GET", "/images/logo.php?cmd=cat+/etc/passwd", 200)], "weblog"
            ),
        ),
    ],
    "web_known_webshell_name": [
        ("wso.php", lambda: parse([web(T0, "203.0.113.30", "GET", "/uploads/wso.php", 200)], "weblog")),
    ],
    "web_content_discovery": [
        (
            "25 404s",
            lambda: parse(
                [
                    web(ts, "203.0.113.31", "GET", f"/x{i}.php", 404, "gobuster/3.6")
                    for i, ts in enumerate(every(25, 2))
                ],
                "weblog",
            ),
        ),
    ],
    "web_discovery_then_script_hit": [
        (
            "25 404s then a 200 php",
            lambda: parse(
                [web(ts, "203.0.113.32", "GET", f"/x{i}.php", 404) for i, ts in enumerate(every(25, 2))]
                + [web(T0 + timedelta(minutes=3), "203.0.113.32", "GET", "/backup/old_admin.php", 200)],
                "weblog",
            ),
        ),
    ],
    "web_defacement_write_method": [
        ("PUT index.html", lambda: parse([web(T0, "203.0.113.33", "PUT", "/index.html", 201)], "weblog")),
        ("DELETE about.php", lambda: parse([web(T0, "203.0.113.33", "DELETE", "/about.php", 204)], "weblog")),
    ],
    "win_security_log_cleared": [],  # dataset case below
    "win_system_log_cleared": [
        ("System 104", lambda: parse([win_json(104, "System")], "windows")),
    ],
    "linux_log_clearing_sudo": [
        (
            "truncate auth.log",
            lambda: parse([sudo_line("/usr/bin/truncate -s 0 /var/log/auth.log")], "linux_auth"),
        ),
        ("history -c", lambda: parse([sudo_line("/bin/bash -c history -c")], "linux_auth")),
        ("journal vacuum", lambda: parse([sudo_line("/usr/bin/journalctl --vacuum-time=1s")], "linux_auth")),
    ],
}

NEGATIVE: dict[str, list[tuple[str, Case]]] = {
    "fw_port_scan": [
        (
            "14 ports only",
            lambda: parse(
                [fgt_traffic(ts, "203.0.113.78", 20 + i % 14) for i, ts in enumerate(every(40, 2))],
                "fortigate",
            ),
        ),
        (
            "18 ports over 18 minutes",
            lambda: parse(
                [fgt_traffic(ts, "203.0.113.79", 20 + i) for i, ts in enumerate(every(18, 60))], "fortigate"
            ),
        ),
        (
            "18 ports, allowed",
            lambda: parse(
                [fgt_traffic(ts, "203.0.113.80", 20 + i, "accept") for i, ts in enumerate(every(18, 2))],
                "fortigate",
            ),
        ),
        (
            "iptables ACCEPT prefix",
            lambda: parse(
                [
                    iptables_drop(ts, "203.0.113.81", 20 + i, "ACCEPT_IN: ")
                    for i, ts in enumerate(every(18, 2))
                ],
                "iptables",
            ),
        ),
    ],
    "fw_deny_flood": [
        (
            "120 denies over 10 minutes",
            lambda: parse([asa_deny(ts, "198.51.100.11", 445) for ts in every(120, 5)], "cisco_asa"),
        ),
        (
            "150 accepted in 60 s",
            lambda: parse(
                [fgt_traffic(ts, "198.51.100.12", 443, "accept") for ts in every(150, 0.4)], "fortigate"
            ),
        ),
    ],
    "fw_vpn_auth_brute_force": [
        (
            "9 admin failures",
            lambda: parse([fgt_admin_login(ts, "203.0.113.50") for ts in every(9, 10)], "fortigate"),
        ),
        (
            "10 admin successes",
            lambda: parse(
                [fgt_admin_login(ts, "203.0.113.50", "success") for ts in every(10, 10)], "fortigate"
            ),
        ),
        (
            "ssl vpn from 12 addresses",
            lambda: parse(
                [fgt_sslvpn_fail(ts, f"203.0.113.{100 + i}") for i, ts in enumerate(every(12, 5))],
                "fortigate",
            ),
        ),
        (
            "globalprotect successes",
            lambda: parse([panos_gp_auth(ts, "203.0.113.60", "success") for ts in every(10, 3)], "panos"),
        ),
        (
            "asa login permitted",
            lambda: parse(
                [
                    asa(
                        ts,
                        6,
                        "605005",
                        'Login permitted from 203.0.113.53/51234 to inside:10.1.1.1/ssh for user "admin"',
                    )
                    for ts in every(10, 6)
                ],
                "cisco_asa",
            ),
        ),
    ],
    "suricata_alert_high_severity": [],  # dataset case below (severities 2 and 3)
    "panos_threat_high_critical": [],  # dataset case below (informational URL filtering)
    "zeek_notice_ssh_password_guessing": [],
    "zeek_notice_scan": [],
    "web_post_script_in_upload_path": [
        ("POST index.php", lambda: parse([web(T0, "203.0.113.30", "POST", "/index.php", 200)], "weblog")),
        (
            "POST upload php 404",
            lambda: parse([web(T0, "203.0.113.30", "POST", "/uploads/x.php", 404)], "weblog"),
        ),
        (
            "GET upload jpg",
            lambda: parse([web(T0, "203.0.113.30", "GET", "/uploads/cat.jpg", 200)], "weblog"),
        ),
    ],
    "web_command_parameter": [
        (
            "search for cmd text",
            lambda: parse([web(T0, "203.0.113.30", "GET", "/search.php?q=cmd%3Did", 200)], "weblog"),
        ),
        (
            "cmd= answered 404",
            lambda: parse([web(T0, "203.0.113.30", "GET", "/x.php?cmd=id", 404)], "weblog"),
        ),
        (
            "xcmd= parameter",
            lambda: parse([web(T0, "203.0.113.30", "GET", "/x.php?a=1&xcmd=1", 200)], "weblog"),
        ),
    ],
    "web_known_webshell_name": [
        ("wso.php 404", lambda: parse([web(T0, "203.0.113.30", "GET", "/wso.php", 404)], "weblog")),
        ("showso.php", lambda: parse([web(T0, "203.0.113.30", "GET", "/showso.php", 200)], "weblog")),
    ],
    "web_content_discovery": [
        (
            "19 404s",
            lambda: parse(
                [web(ts, "203.0.113.31", "GET", f"/x{i}.php", 404) for i, ts in enumerate(every(19, 2))],
                "weblog",
            ),
        ),
    ],
    "web_discovery_then_script_hit": [
        (
            "200 first, then 404s",
            lambda: parse(
                [web(T0 - timedelta(seconds=10), "203.0.113.32", "GET", "/backup/old_admin.php", 200)]
                + [web(ts, "203.0.113.32", "GET", f"/x{i}.php", 404) for i, ts in enumerate(every(25, 2))],
                "weblog",
            ),
        ),
        (
            "200 from another client",
            lambda: parse(
                [web(ts, "203.0.113.32", "GET", f"/x{i}.php", 404) for i, ts in enumerate(every(25, 2))]
                + [web(T0 + timedelta(minutes=3), "192.0.2.1", "GET", "/index.php", 200)],
                "weblog",
            ),
        ),
    ],
    "web_defacement_write_method": [
        ("REST PUT", lambda: parse([web(T0, "203.0.113.33", "PUT", "/api/v1/items/7", 200)], "weblog")),
        ("PUT refused", lambda: parse([web(T0, "203.0.113.33", "PUT", "/index.html", 405)], "weblog")),
        ("GET index", lambda: parse([web(T0, "203.0.113.33", "GET", "/index.html", 200)], "weblog")),
    ],
    "win_security_log_cleared": [
        ("System 104 is not 1102", lambda: parse([win_json(104, "System")], "windows")),
    ],
    "win_system_log_cleared": [
        (
            "service state 7036",
            lambda: parse([win_json(7036, "System", "Service Control Manager")], "windows"),
        ),
        ("104 from another provider", lambda: parse([win_json(104, "System", "Some-App")], "windows")),
    ],
    "linux_log_clearing_sudo": [
        ("tail a log", lambda: parse([sudo_line("/usr/bin/tail -f /var/log/syslog")], "linux_auth")),
        ("rm in /tmp", lambda: parse([sudo_line("/bin/rm /tmp/build.log")], "linux_auth")),
    ],
}


def win_logon(ts: datetime, event_id: int, host: str = "WS01.tinh.local", **data: str) -> str:
    """A Winlogbeat-shaped Windows event (Security, or System for 7045)."""
    channel, provider = (
        ("System", "Service Control Manager")
        if event_id == 7045
        else ("Security", "Microsoft-Windows-Security-Auditing")
    )
    return json.dumps({
        "@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "message": f"event {event_id}",
        "winlog": {"channel": channel, "event_id": event_id, "computer_name": host, "provider_name": provider,
                   "record_id": 1, "event_data": data},
    })  # fmt: skip


def logon_chain(*, failures: int = 5, success: bool = True, service: bool = True, service_first: bool = False,
                other_host: bool = False) -> list[Event]:
    lines = [win_logon(ts, 4625, TargetUserName="admin", IpAddress="203.0.113.70", LogonType="3")
             for ts in every(failures, 30)]
    ok = win_logon(T0 + timedelta(minutes=6), 4624, TargetUserName="admin", IpAddress="203.0.113.70",
                   LogonType="3")
    svc = win_logon(T0 + timedelta(minutes=8 if not service_first else 4),
                    7045, "SRV02.tinh.local" if other_host else "WS01.tinh.local", ServiceName="psexesvc")
    lines += ([ok] if success else []) + ([svc] if service else [])
    return parse(lines, "windows")  # fmt: skip


POSITIVE["win_logon_failures_success_new_service"] = [
    ("5 failures, success, service", lambda: logon_chain()),
    ("8 failures, success, service", lambda: logon_chain(failures=8)),
]
NEGATIVE["win_logon_failures_success_new_service"] = [
    ("4 failures only", lambda: logon_chain(failures=4)),
    ("no success", lambda: logon_chain(success=False)),
    ("service before the success", lambda: logon_chain(service_first=True)),
    ("service on another host", lambda: logon_chain(other_host=True)),
]


def _cases(table: dict[str, list[tuple[str, Case]]]) -> list[Any]:
    return [
        pytest.param(name, make, id=f"{name}:{label}")
        for name, items in table.items()
        for label, make in items
    ]


@pytest.mark.parametrize(("name", "make"), _cases(POSITIVE))
def test_rule_fires_on_positive(name: str, make: Case) -> None:
    assert name in fired(make())


@pytest.mark.parametrize(("name", "make"), _cases(NEGATIVE))
def test_rule_silent_on_negative(name: str, make: Case) -> None:
    assert name not in fired(make())


def test_every_rule_has_cases() -> None:
    outputs = set(PACK) - FEEDERS
    assert set(POSITIVE) == outputs and set(NEGATIVE) == outputs


def test_feeder_rules_never_generate_matches_of_their_own() -> None:
    """Rules referenced by correlations with ``generate: false`` only feed them."""
    feeder_ids = {ID[f] for f in FEEDERS}
    assert {"fw_denied_connection", "web_script_found", "asa_auth_failure"} <= FEEDERS
    produced: set[str] = set()
    for items in POSITIVE.values():
        for _label, make in items:
            produced |= {m.rule.id for m in detect(make())}
    assert produced & feeder_ids == set()
    assert {ID["fw_port_scan"], ID["web_discovery_then_script_hit"]} <= produced


def test_port_scan_dataset_groups_the_scanner_only(datasets: Path) -> None:
    path = (
        datasets / "logs/firewall/iptables/crowdsec-hub/iptables-scan-multi-port/iptables-scan-multi-port.log"
    )
    matches = [m for m in detect(read_file(path)) if m.rule.id == ID["fw_port_scan"]]
    # CrowdSec's scenario flags 62.34.17.168 (17 ports); the 127.0.0.x probes are loopback
    assert [m.group for m in matches] == [{"source.ip": "62.34.17.168"}]
    assert matches[0].details["count"] >= 15


def test_dataset_ids_and_zeek_cases(datasets: Path) -> None:
    logs = datasets / "logs"
    notices = fired(read_file(logs / "network/zeek/elastic-beats-json/notice-json.log"))
    assert {"zeek_notice_ssh_password_guessing", "zeek_notice_scan"} <= notices
    other = fired(read_file(logs / "network/zeek/otrf-apt29-day2-json/UTICA-A_notice.log"))
    assert not {"zeek_notice_ssh_password_guessing", "zeek_notice_scan"} & other
    suricata = fired(read_file(logs / "network/suricata/elastic-beats/eve-alerts.log"))
    assert "suricata_alert_high_severity" not in suricata
    threats = fired(read_file(logs / "firewall/panos/elastic-beats/threat.log"))
    assert "panos_threat_high_critical" not in threats
    gp = fired(read_file(logs / "firewall/panos/elastic-beats/global_protect.log"))
    assert "fw_vpn_auth_brute_force" not in gp


def test_windows_log_cleared_evtx(datasets: Path) -> None:
    win = datasets / "logs/endpoint/windows"
    assert "win_security_log_cleared" in fired(read_file(win / "winlogbeat/1102.evtx"))
    logons = fired(read_file(win / "winlogbeat/security-windows2012r2-logon.evtx"))
    assert not {"win_security_log_cleared", "win_system_log_cleared"} & logons


def test_vpn_brute_force_groups_by_client_address() -> None:
    events = parse([fgt_sslvpn_fail(ts, "203.0.113.51") for ts in every(12, 5)], "fortigate")
    [m] = [m for m in detect(events) if m.rule.id == ID["fw_vpn_auth_brute_force"]]
    assert m.group == {"client_ip": "203.0.113.51", "observer.vendor": "Fortinet"}
    assert m.rule.severity == "high"
