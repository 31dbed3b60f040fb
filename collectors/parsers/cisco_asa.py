"""Cisco ASA / FTD syslog parser (``cisco_asa``), mapped as Filebeat's ``cisco/asa``
module maps it (``x-pack/filebeat/module/cisco/shared/ingest/asa-ftd-pipeline.yml``).

A line is ``[<PRI>][DATE][ HOST[ PROCESS[PID]]][:] %ASA-[SUFFIX-]SEV-ID: MESSAGE``
(``%FTD-`` the same). The header gives ``@timestamp`` (zoneless dates use the record's
``meta["timezone"]`` or the ``timezone`` option; a trailing zone abbreviation such as
``EDT`` wins), ``host.hostname`` and ``process.*``. The message is then dissected by
its message id (connection build/teardown 302xxx, denies 106xxx, ACL 106100, NAT
305xxx, VPN 602xxx/713xxx/716xxx/722xxx, AAA 113xxx/611xxx/605xxx, ...), and the
result classified into ``event.action/category/type/outcome`` as Filebeat does.
Unknown ids still give an event with the header fields and ``cisco.asa.message_id``.

Lines without a ``%ASA-``/``%FTD-`` tag, or with a bad tag or date, raise
:class:`ParseError`. Every matcher is a left-to-right ``find`` walk: linear time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.fwcommon import (
    MONTHS,
    TZ_ABBREVIATIONS,
    Dissect,
    add_related,
    infer_year,
    int_or_none,
    ip_or_none,
    put,
)
from collectors.parsers.syslog import format_ts_cached, record_timezone, resolve_timezone
from soc.event import Event, RawRecord, format_ts, parse_ts

# ruff: noqa: E501 -- the message pattern table keeps one Filebeat dissect pattern per line

PARSER_NAME = "cisco_asa"
_DAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})
_LEVELS = ("unknown", "alert", "critical", "error", "warning", "notification", "informational", "debug")
_IANA = {
    "icmp": 1,
    "igmp": 2,
    "ipv4": 4,
    "tcp": 6,
    "egp": 8,
    "igp": 9,
    "pup": 12,
    "udp": 17,
    "rdp": 27,
    "irtp": 28,
    "dccp": 33,
    "idpr": 35,
    "ipv6": 41,
    "ipv6-route": 43,
    "ipv6-frag": 44,
    "rsvp": 46,
    "gre": 47,
    "esp": 50,
    "ipv6-icmp": 58,
    "ipv6-nonxt": 59,
    "ipv6-opts": 60,
}
_IANA_NAMES = {str(v): k for k, v in _IANA.items()}
_OUTCOME_NORMAL = {"est-allowed": "allow", "permitted": "allow", "denied": "deny", "dropped": "deny"}
_MAX_LINE = 16384


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


# --- message patterns, by message id --------------------------------------------------
# Keys: src dst sport dport sif dif proto (network.transport) app (network.protocol)
# dir outcome nsrc nsport ndst ndport conn dur bytes reason user suser cuser rule url
# icmp_type icmp_code group session_type tunnel_type assigned_ip file email event_id
# cmd sdomain ddomain sbytes dbytes suname duname.
_BUILT = "Built {dir} {proto} connection {conn} for {sif}:{src}/{sport} ({nsrc}/{nsport}){suname} to {dif}:{dst}/{dport} ({ndst}/{ndport}){duname}"
_FLOW = "{sif}:{src}/{sport} ({nsrc}/{nsport}) to {dif}:{dst}/{dport} ({ndst}/{ndport})"
_PATTERNS: dict[str, tuple[str, ...]] = {
    "106001": (
        "{dir} {proto} connection {outcome} from {src}/{sport} to {dst}/{dport} flags {-} on interface {sif}",
    ),
    "106002": ("{proto} Connection {outcome} by {dir} list {rule} src {src} dest {dst}",),
    "106006": ("{outcome} {dir} {proto} from {src}/{sport} to {dst}/{dport} on interface {sif}",),
    "106007": ("{outcome} {dir} {proto} from {src}/{sport} to {dst}/{dport} due to {app} {-}",),
    "106010": ("{outcome} {dir} {proto} src {sif}:{src}/{sport} dst {dif}:{dst}/{dport}",),
    "106013": ("Dropping echo request from {src} to PAT address {dst}",),
    "106014": ("{outcome} {dir} {proto} src {sif}:{src} dst {dif}:{dst}",),
    "106015": (
        "{outcome} {proto} (no connection) from {src}/{sport} to {dst}/{dport} flags {-} on interface {sif}",
    ),
    "106016": ("{outcome} IP spoof from ({src}) to {dst} on interface {sif}",),
    "106017": ("{outcome} IP due to Land Attack from {src} to {dst}",),
    "106018": ("{proto} packet type {icmp_type} {outcome} by {dir} list {rule} src {src} dest {dst}",),
    "106020": ("{outcome} IP teardrop fragment (size = {-}, offset = {-}) from {src} to {dst}",),
    "106021": ("{outcome} {proto} reverse path check from {src} to {dst} on interface {sif}",),
    "106022": ("{outcome} {proto} connection spoof from {src} to {dst} on interface {sif}",),
    "106027": ('{-} {outcome} src {src} dst {dst} by access-group "{rule}"',),
    "106100": ("access-list {rule} {outcome} {proto} {sif}/{src}({sport}) -> {dif}/{dst}({dport})",),
    "106102": (
        "access-list {rule} {outcome} {proto} for user {user} {sif}/{src}({sport}) -> {dif}/{dst}({dport})",
    ),
    "106103": (
        "access-list {rule} {outcome} {proto} for user {user} {sif}/{src}({sport}) -> {dif}/{dst}({dport})",
    ),
    "110002": ("Failed to locate egress interface for {app} from {sif}:{src}/{sport} to {dst}/{dport}",),
    "111004": ("{src} end configuration: {outcome}",),
    "111009": ("User '{user}' executed cmd: {cmd}",),
    "111010": ("User '{user}', running '{-}' from IP {src}, executed '{cmd}'",),
    "113019": (
        "Group = {group}, Username = {suser}, IP = {dst}, Session disconnected. Session Type: {session_type}, Duration: {dur}, Bytes xmt: {sbytes}, Bytes rcv: {dbytes}, Reason: {reason}",
    ),
    "302013": (_BUILT,),
    "302015": (_BUILT,),
    "302020": ("Built {dir} {app} connection for faddr {dst}/{dport} gaddr {nsrc}/{-} laddr {src}/{lrest}",),
    "302022": (
        "Built {-} stub {proto} connection for {sif}:{src}/{sport} ({-}) to {dif}:{dst}/{dport} ({-})",
    ),
    "302023": (
        "Teardown stub {proto} connection for {sif}:{src}/{sport} to {dif}:{dst}/{dport} duration {dur} forwarded bytes {bytes} {reason}",
    ),
    "303002": (
        "FTP connection from {sif}:{src}/{sport} to {dif}:{dst}/{dport}, user {cuser} {-} file {file}",
    ),
    "304001": ("{src} {-}ccessed {-}URL {dst}:{url}",),
    "304002": ("Access {outcome} URL {url} SRC {src} {-}EST {dst} on interface {sif}",),
    "305011": ("Built {-} {proto} translation from {sif}:{src}/{sport} to {dif}:{dst}/{dport}",),
    "305012": (
        "Teardown {-} {proto} translation from {sif}:{src}/{sport} to {dif}:{dst}/{dport} duration {dur}",
    ),
    "313001": ("{outcome} {proto} type={icmp_type}, code={icmp_code} from {src} on interface {sif}",),
    "313004": (
        "{outcome} {proto} type={icmp_type}, from{-}addr {src} on interface {sif} to {dst}: no matching session",
    ),
    "313005": (
        "No matching connection for {proto} error message: {-} on {sif} interface.{-}riginal IP payload: {-}",
    ),
    "313008": ("{outcome} {proto} type={icmp_type}, code={icmp_code} from {src} on interface {sif}",),
    "313009": ("{outcome} invalid {proto} code {icmp_code}, for " + _FLOW,),
    "322001": ("{outcome} MAC address {-}, possible spoof attempt on interface {sif}",),
    "338301": (
        "Intercepted DNS reply for domain {sdomain} from {sif}:{src}/{sport} to {dif}:{dst}/{dport}, matched {rule}",
    ),
    "419002": (
        "Duplicate {app} SYN from {sif}:{src}/{sport} to {dif}:{dst}/{dport} with different initial sequence number",
    ),
    "434001": (
        "SFR card not up and fail-close mode used, dropping {app} packet from {sif}:{src}/{sport} to {dif}:{dst}/{dport}",
    ),
    "434002": ("SFR requested to drop {app} packet from {sif}:{src}/{sport} to {dif}:{dst}/{dport}",),
    "434003": ("SFR requested to reset {app} connection from {sif}:{src}/{sport} to {dif}:{dst}/{dport}",),
    "434004": (
        "SFR requested ASA to bypass further packet redirection and process {app} flow from {sif}:{src}/{sport} to {dif}:{dst}/{dport} locally",
    ),
    "502103": ("User priv level changed: Uname: {user} From: {priv_old} To: {priv_new}",),
    "507003": (
        "{proto} flow from {sif}:{src}/{sport} to {dif}:{dst}/{dport} terminated by inspection engine, reason - {-}",
    ),
    "602303": (
        "IPSEC: An {dir} {tunnel_type} SA (SPI= {-}) between {src} and {dst} (user= {user}) has been {-}",
    ),
    "602304": (
        "IPSEC: An {dir} {tunnel_type} SA (SPI= {-}) between {src} and {dst} (user= {user}) has been {-}",
    ),
    "605004": ('Login {outcome} from {src}/{sport} to {dif}:{dst}/{app} for user "{suser}"',),
    "605005": ('Login {outcome} from {src}/{sport} to {dif}:{dst}/{app} for user "{suser}"',),
    "609001": ("Built local-host {sif}:{src}",),
    "609002": ("Teardown local-host {sif}:{src} duration {dur}",),
    "611101": ("User authentication {outcome}: IP address: {src}, Uname: {user}",),
    "611102": ("User authentication {outcome}: IP address: {src}, Uname: {user}",),
    "710003": ("{proto} access {outcome} by ACL from {src}/{sport} to {dif}:{dst}/{dport}",),
    "710005": ("{proto} request discarded from {src}/{sport} to {dif}:{dst}/{dport}",),
    "713120": ("Group = {-}, IP = {src}, PHASE 2 COMPLETED (msgid={event_id})",),
    "716002": ("Group {group} User {suser} IP {src} WebVPN session terminated: {reason}",),
    "722051": (
        "Group <{group}> User <{suser}> IP <{src}> IPv4 Address <{assigned_ip}> IPv6 address <{-}> assigned to session",
    ),
    "734001": (
        "DAP: User {email}, Addr {src}, Connection {connection_type}: The following DAP records were selected for this connection: {dap}",
    ),
    "750002": ("Local:{src}:{sport} Remote:{dst}:{dport} Username:{user} {reason}",),
    "750003": ("Local:{src}:{sport} Remote:{dst}:{dport} Username:{user} {reason}",),
    "805001": ("Offloaded {proto} Flow for connection {conn} from " + _FLOW,),
    "805002": ("{proto} Flow is no longer offloaded for connection {conn} from " + _FLOW,),
}
_COMPILED: dict[str, tuple[Dissect, ...]] = {k: tuple(Dissect(p) for p in v) for k, v in _PATTERNS.items()}
_TEARDOWN_IDS = frozenset({"302014", "302016", "302018", "302021", "302036", "302304", "302306"})
_CONSTANTS: dict[str, dict[str, str]] = {
    "106013": {"proto": "icmp", "dir": "inbound"},
    "110002": {"reason": "Failed to locate egress interface"},
    "303002": {"app": "ftp"},
    "304001": {"outcome": "allow"},
    "419002": {"reason": "Duplicate TCP SYN with different initial sequence number"},
    "713120": {"reason": "PHASE 2 COMPLETED"},
}

# --- classification, as the Filebeat 8 pipeline's per-id categorisation -----------------
_DENIED_SUCCESS = frozenset(
    {
        "106001",
        "106002",
        "106006",
        "106007",
        "106010",
        "106013",
        "106014",
        "106015",
        "106016",
        "106017",
        "106018",
        "106020",
        "106021",
        "106022",
        "106023",
        "106027",
        "304002",
        "313001",
        "313004",
        "313008",
        "313009",
        "322001",
        "605004",
        "710003",
    }
)
_DENIED_FAILURE = frozenset({"110002", "338008", "338204", "710005"})
_ALLOWED = frozenset({"304001", "605005", "338002"})
_ACL_IDS = frozenset({"106100", "106102", "106103"})
_FLOW_END = frozenset(
    {"302014", "302016", "302018", "302021", "302036", "302304", "302306", "305012", "609001", "609002"}
)
_SPECIAL: dict[str, tuple[str | None, list[str] | None, list[str] | None, str | None]] = {
    # id: (action, category, type, outcome)
    "302020": ("flow-creation", ["network"], ["connection", "start"], None),
    "111004": ("firewall-rule", ["network"], ["info"], "success"),
    "338004": ("firewall-rule", ["intrusion_detection", "network"], ["info"], "success"),
    "434001": ("drop", None, None, "unknown"),
    "434002": ("drop", None, None, "unknown"),
    "434003": ("reset", None, None, "unknown"),
    "434004": ("bypass", ["network"], ["change", "info"], "unknown"),
    "602303": ("created", None, None, "success"),
    "602304": ("deleted", ["network"], ["deletion", "info", "user"], "success"),
    "611101": ("firewall-rule", ["network"], ["info"], "succeeded"),
    "611102": ("firewall-rule", ["network"], ["info"], "failed"),
    "713120": ("firewall-rule", ["network"], ["info"], "success"),
    "713901": ("error", ["network"], ["error"], "failure"),
    "713902": ("error", ["network"], ["error"], "failure"),
    "713903": ("firewall-rule", ["network"], ["info"], "failure"),
    "713904": ("error", ["network"], ["error"], "failure"),
    "713905": ("error", ["network"], ["error"], "failure"),
    "750002": ("connection-started", ["network"], ["connection", "start"], None),
    "750003": ("error", ["network"], ["error"], None),
}


@dataclass(slots=True)
class _Header:
    timestamp: datetime | None = None
    timezone_applied: str | None = None
    priority: int | None = None
    hostname: str | None = None
    process: str | None = None
    pid: int | None = None


def _parse_time(tokens: list[str], tz: tzinfo, tzname: str, reference: datetime) -> tuple[_Header, int]:
    """Read an ASA or ISO date from the front of ``tokens``; returns (header, tokens used)."""
    head = _Header()
    i = 0
    if not tokens:
        return head, 0
    first = tokens[0].rstrip(":")
    if len(first) >= 19 and first[:4].isdigit() and first[4:5] == "-" and first[10:11] in ("T", " "):
        try:
            ts = datetime.fromisoformat(first.replace("Z", "+00:00"))
        except ValueError:
            raise _err(f"bad ISO 8601 timestamp {first[:40]!r}", "timestamp") from None
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=tz)
            head.timezone_applied = tzname
        head.timestamp = ts.astimezone(UTC)
        return head, 1
    if first in _DAYS:
        i = 1
    if i >= len(tokens) or tokens[i] not in MONTHS:
        return head, 0
    month = MONTHS[tokens[i]]
    if i + 2 >= len(tokens):
        raise _err(f"truncated date {' '.join(tokens[: i + 3])!r}", "timestamp")
    day = int_or_none(tokens[i + 1])
    year: int | None = None
    j = i + 2
    if len(tokens[j]) == 4 and tokens[j].isdigit():
        year = int(tokens[j])
        j += 1
    clock = tokens[j].rstrip(":") if j < len(tokens) else ""
    parts = clock.split(":")
    if day is None or len(parts) != 3 or not all(p[:2].isdigit() for p in parts):
        raise _err(
            f"bad date {' '.join(tokens[: j + 1])[:48]!r}: expected 'Mmm dd [yyyy] hh:mm:ss'", "timestamp"
        )
    sec_txt, _, frac = parts[2].partition(".")
    hh, mm, ss = int(parts[0]), int(parts[1]), int(sec_txt[:2])
    j += 1
    zone: tzinfo = tz
    applied: str | None = tzname
    if not tokens[j - 1].endswith(":") and j < len(tokens) and tokens[j].rstrip(":") in TZ_ABBREVIATIONS:
        zone = timezone(TZ_ABBREVIATIONS[tokens[j].rstrip(":")])
        applied = None
        j += 1
    try:
        if year is None:
            ts = infer_year(month, day, hh, mm, min(ss, 59), zone, reference)
        else:
            ts = datetime(year, month, day, hh, mm, min(ss, 59), tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise _err(f"bad date {' '.join(tokens[:j])[:48]!r}: day or time out of range", "timestamp") from None
    if frac.isdigit():
        ts += timedelta(microseconds=int((frac + "000000")[:6]))
    head.timestamp = ts
    head.timezone_applied = applied
    return head, j


def _parse_header(text: str, tz: tzinfo, tzname: str, reference: datetime) -> _Header:
    pri: int | None = None
    text = text.strip()
    if text.startswith("<"):
        end = text.find(">", 1, 9)
        digits = text[1:end].split(".", 1)[0] if end > 0 else ""
        if not digits.isdigit():
            raise _err(f"bad PRI {text[:9]!r}", "priority")
        pri = int(digits)
        text = text[end + 1 :].lstrip()
    tokens = text.split()
    head, used = _parse_time(tokens, tz, tzname, reference)
    head.priority = pri
    rest = [t for t in tokens[used:] if t != ":"]
    if rest:
        host = rest[0].rstrip(":")
        if len(rest) == 1:
            if host.replace("-", "").replace(".", "").replace("_", "").replace(":", "").isalnum():
                head.hostname = host or None
            else:
                head.process = host or None
        else:
            head.hostname = host or None
            proc = rest[1].rstrip(":")
            if proc.endswith("]") and "[" in proc:
                proc, _, pid = proc[:-1].partition("[")
                head.pid = int_or_none(pid)
            head.process = proc or None
    return head


def _find_tag(line: str) -> int:
    """Index of the ``%ASA-``/``%FTD-`` style tag (``%`` + capitals + ``-``), or -1."""
    for tag in ("%ASA-", "%FTD-"):
        i = line.find(tag)
        if i >= 0:
            return i
    i = line.find("%")
    while 0 <= i < 512:
        j = i + 1
        while j < len(line) and "A" <= line[j] <= "Z":
            j += 1
        if j > i + 1 and line[j : j + 1] == "-":
            return i
        i = line.find("%", i + 1)
    return -1


def _hms_seconds(text: str) -> int | None:
    """``h:mm:ss`` or ``0h:01m:52s`` as seconds."""
    total = cur = 0
    seen = False
    for ch in text.strip():
        if "0" <= ch <= "9":
            cur = cur * 10 + ord(ch) - 48
            seen = True
        elif ch == ":":
            total = (total + cur) * 60
            cur = 0
        elif ch in "hms":
            continue
        else:
            return None
    return total + cur if seen else None


def _addr_iface(text: str) -> tuple[str | None, str]:
    """``iface:addr`` -> (iface, addr); a bare IPv6 address stays whole."""
    if ":" in text and ip_or_none(text) is None:
        iface, _, addr = text.partition(":")
        return iface, addr
    return None, text


def _teardown(msg: str) -> dict[str, str] | None:
    """302014/16/18/21/36/304/306 ``Teardown ...`` (Filebeat's two grok patterns)."""
    f: dict[str, str] = {}
    if not msg.startswith("Teardown "):
        return None
    words = msg.split(" ", 3)
    if len(words) < 4:
        return None
    f["proto"] = words[1]
    rest = words[2] + " " + words[3]
    if rest.startswith("state-bypass "):
        rest = rest[13:]
    if rest.startswith("connection for faddr "):
        body = rest[len("connection for faddr ") :]
        g = body.find(" gaddr ")
        laddr = body.find(" laddr ", g + 1)
        if g < 0 or laddr < 0:
            return None
        faddr = body[:g].split(" ", 1)
        _, f["dst"] = _addr_iface(faddr[0].rsplit("/", 1)[0])
        if len(faddr) > 1:
            f["duname"] = faddr[1]
        _, f["nsrc"] = _addr_iface(body[g + 7 : laddr].rsplit("/", 1)[0])
        ltxt = body[laddr + 7 :].split(" ")
        sif, f["src"] = _addr_iface(ltxt[0].rsplit("/", 1)[0])
        if sif:
            f["sif"] = sif
        tail = ltxt[1:]
        if len(tail) >= 4 and tail[0] == "type" and tail[2] == "code":
            f["icmp_type"], f["icmp_code"] = tail[1], tail[3]
        return f
    if not rest.startswith("connection "):
        return None
    parts = rest.split(" ", 3)  # connection ID for|from REST
    if len(parts) < 4 or parts[2] not in ("for", "from"):
        return None
    f["conn"] = parts[1]
    body = parts[3]
    to = body.find(" to ")
    dur = body.find(" duration ", to + 1)
    if to < 0 or dur < 0:
        return None
    src_txt = body[:to].split(" ", 1)
    sif, _, addr = src_txt[0].partition(":")
    f["sif"] = sif
    f["src"], _, f["sport"] = addr.rpartition("/")
    if "(" in f["sport"]:
        f["sport"], _, f["suname"] = f["sport"].partition("(")
    if len(src_txt) > 1:
        f["suname"] = src_txt[1].strip()
    dst_txt = body[to + 4 : dur].split(" ", 1)
    dif, _, addr = dst_txt[0].partition(":")
    f["dif"] = dif
    f["dst"], _, f["dport"] = addr.rpartition("/")
    if "(" in f["dport"]:
        f["dport"], _, f["duname"] = f["dport"].partition("(")
    if len(dst_txt) > 1:
        f["duname"] = dst_txt[1].strip()
    tail = body[dur + 10 :].split(" ", 3)  # DUR bytes N [reason]
    f["dur"] = tail[0]
    if len(tail) >= 3 and tail[1] == "bytes":
        f["bytes"] = tail[2]
        if len(tail) > 3:
            reason = tail[3].strip()
            if reason.endswith(")") and "(" in reason:
                reason, _, user = reason[:-1].rpartition("(")
                f["termination_user"] = user
                reason = reason.strip()
            reason, sep, initiator = reason.partition(" from ")
            if sep:
                f["termination_initiator"] = initiator.strip()
            if reason:
                f["reason"] = reason
    return f


def _deny_106023(msg: str) -> dict[str, str] | None:
    outcome, _, rest = msg.partition(" ")
    s = rest.find(" src ")
    if s <= 0:
        return None
    proto = rest[:s]
    if proto.startswith("protocol "):
        proto = _IANA_NAMES.get(proto[9:].strip(), proto[9:].strip())
    f = {"outcome": outcome, "proto": proto}
    body = rest[s + 5 :]
    d = body.find(" dst ")
    acl = body.find(' by access-group "', d + 1)
    if d < 0 or acl < 0:
        return None
    src = body[:d].strip().split(" ", 1)
    sif, _, addr = src[0].partition(":")
    f["sif"] = sif
    if len(src) > 1:
        f["suname"] = src[1].strip()
    f["src"], _, port = addr.partition("/")
    if port:
        f["sport"] = port
    dst = body[d + 5 : acl].strip().split(" ", 1)[0]
    dif, _, addr = dst.partition(":")
    f["dif"] = dif
    addr = addr.split("(", 1)[0]
    f["dst"], _, port = addr.partition("/")
    if port:
        f["dport"] = port
    end = body.find('"', acl + 18)
    f["rule"] = body[acl + 18 : end if end >= 0 else None]
    return f


def _dynamic_filter(mid: str, msg: str) -> dict[str, str] | None:
    """338xxx ``Dynamic Filter <outcome> <list>ed <proto> traffic from ... resolved from X list: Y``."""
    if not msg.startswith("Dynamic "):
        return None
    i = msg.find("ilter ")
    tr = msg.find(" traffic from ")
    if i < 0 or tr < 0:
        return None
    f: dict[str, str] = {"outcome": msg[i + 6 :].split(" ", 1)[0]}
    f["proto"] = msg[:tr].rsplit(" ", 1)[-1]
    m = Dissect(_FLOW + "{rest}").match(msg[tr + 14 :])
    if m is None:
        return None
    rest = m.pop("rest")
    f.update(m)
    r = rest.find(" resolved from ")
    lst = rest.find(" list: ", r + 1)
    if r >= 0 and lst >= 0:
        f["rule"] = rest[r + 15 : lst]
        value, _, extra = rest[lst + 7 :].partition(", threat-level: ")
        which = "sdomain" if ", source " in rest[: r + 1] else "ddomain"
        if extra:
            level, _, cat = extra.partition(", category: ")
            f["threat_level"], f["threat_category"] = level, cat
        if mid in _DOMAIN_IDS:
            f[which] = value.strip()
            f["server_domain"] = value.strip()
    return f


def _vpn_prefix(mid: str, msg: str) -> dict[str, str]:
    """713xxx ``[Group = G, ][Username = U, ][IP = A, ]text``."""
    f: dict[str, str] = {}
    rest = msg
    for key, name in (("Group = ", "group"), ("Username = ", "user"), ("IP = ", "src")):
        if rest.startswith(key):
            value, _, rest = rest[len(key) :].partition(", ")
            f[name] = value
    f.pop("group", None)
    if mid in ("713901", "713902", "713904", "713905"):
        f["reason"] = rest
    elif mid == "713202":
        f["reason"] = rest.split(".", 1)[0]
    elif mid == "713903":
        f.pop("src", None)
    return f


_DOMAIN_IDS = frozenset(
    {"338001", "338002", "338005", "338006", "338101", "338102", "338201", "338202", "338203", "338204"}
)
_CUSTOM: dict[str, Callable[[str], dict[str, str] | None]] = {"106023": _deny_106023}


def _dissect(mid: str, msg: str) -> dict[str, str]:
    if mid in _TEARDOWN_IDS:
        found = _teardown(msg)
    elif mid in _CUSTOM:
        found = _CUSTOM[mid](msg)
    elif mid.startswith("338") and mid != "338301":
        found = _dynamic_filter(mid, msg)
    elif mid.startswith("7130") or mid.startswith("7132") or mid.startswith("7139"):
        found = _vpn_prefix(mid, msg)
    else:
        found = None
        for pattern in _COMPILED.get(mid, ()):
            found = pattern.match(msg)
            if found is not None:
                break
    f = found or {}
    for port, user in (("sport", "suname"), ("dport", "duname")):
        if "(" in f.get(port, ""):
            f[port], _, f[user] = f[port].partition("(")
    if "lrest" in f:  # 302020: "0 [(user) ]type T code C"
        words = f.pop("lrest").split()
        if len(words) > 1 and words[1].startswith("("):
            f["suname"] = words.pop(1)
        if len(words) >= 5 and words[1] == "type" and words[3] == "code":
            f["icmp_type"], f["icmp_code"] = words[2], words[4]
        f.pop("dport", None)
    for key, value in _CONSTANTS.get(mid, {}).items():
        f.setdefault(key, value)
    return f


def _set_addr(event: Event, side: str, text: str | None) -> None:
    if not text:
        return
    text = text.strip()
    if "@" in text:
        user, _, text = text.rpartition("@")
        if side == "source":
            put(event, "source.user.name", user)
            add_related(event, "user", user)
    text = text.split("(", 1)[0]
    put(event, f"{side}.address", text)
    ip = ip_or_none(text)
    if ip:
        put(event, f"{side}.ip", ip)
        add_related(event, "ip", ip)
    else:
        put(event, f"{side}.domain", text)


def _user_domain(event: Event, side: str, raw: str | None, asa: dict[str, Any], key: str) -> None:
    if not raw:
        return
    if raw.startswith(" (") and raw.endswith(")") and ") (" not in raw:
        asa["termination_user"] = raw[2:-1]
        return
    raw, sep, term = raw.strip().partition(") (")
    if sep:
        asa["termination_user"] = term.rstrip(")")
    raw = raw.strip().strip("()")
    raw, sep, tag = raw.partition(", ")
    if sep and tag.strip().isdigit():
        asa[key.replace("username", "user_security_group_tag")] = int(tag)
    if not raw:
        return
    asa[key] = raw
    parts = raw.split("\\")
    name, domain = parts[-1], parts[-2] if len(parts) > 1 else None
    if "@" in name:
        name, _, domain = name.partition("@")
    put(event, f"{side}.user.name", name)
    put(event, f"{side}.user.domain", domain)
    add_related(event, "user", name)


def _classify(event: Event, mid: str, outcome: str | None) -> None:
    ev = event["event"]
    action = "firewall-rule"
    category: list[str] | None = ["network"]
    types: list[str] | None = ["info"]
    result: str | None = None
    if mid in _TEARDOWN_IDS or mid in _FLOW_END:
        action, types = "flow-expiration", ["connection", "end"]
    elif mid in _SPECIAL:
        action, category, types, result = _SPECIAL[mid]
    elif mid in _DENIED_FAILURE:
        types, result = ["connection", "denied"], "failure"
    elif mid in _DENIED_SUCCESS:
        types, result = ["connection", "denied"], "success"
    elif mid in _ALLOWED:
        types, result = ["allowed", "connection"], "success"
    elif mid in _ACL_IDS:
        if outcome == "allow":
            types, result = ["allowed", "connection"], "success"
        elif outcome == "deny":
            types, result = ["connection", "denied"], "success"
    ev["action"] = action
    if category:
        ev["category"] = category
    if types:
        ev["type"] = types
    if result:
        ev["outcome"] = result


def _to_ecs(event: Event, mid: str, f: dict[str, str]) -> None:
    asa: dict[str, Any] = event["cisco"]["asa"]
    _set_addr(event, "source", f.get("src"))
    _set_addr(event, "destination", f.get("dst"))
    if "sdomain" in f:
        put(event, "source.domain", f["sdomain"])
    if "ddomain" in f:
        put(event, "destination.domain", f["ddomain"])
    if "server_domain" in f:
        put(event, "server.domain", f["server_domain"])
    for key, path in (
        ("sport", "source.port"),
        ("dport", "destination.port"),
        ("bytes", "network.bytes"),
        ("sbytes", "source.bytes"),
        ("dbytes", "destination.bytes"),
    ):
        if key in f:
            put(event, path, int_or_none(f[key]))
    proto = f.get("proto", "").lower()
    if proto:
        if proto == "icmpv6":
            proto = "ipv6-icmp"
        put(event, "network.transport", proto)
        if proto in _IANA:
            put(event, "network.iana_number", _IANA[proto])
    put(event, "network.protocol", f.get("app", "").lower())
    put(event, "network.direction", f.get("dir", "").lower())
    for key, name in (
        ("sif", "source_interface"),
        ("dif", "destination_interface"),
        ("conn", "connection_id"),
        ("rule", "rule_name"),
        ("session_type", "session_type"),
        ("tunnel_type", "tunnel_type"),
        ("assigned_ip", "assigned_ip"),
        ("threat_level", "threat_level"),
        ("cmd", "command_line_arguments"),
        ("threat_category", "threat_category"),
        ("termination_user", "termination_user"),
        ("connection_type", "connection_type"),
        ("termination_initiator", "termination_initiator"),
    ):
        if f.get(key):
            asa[name] = f[key].strip()
    if f.get("dap"):
        asa["dap_records"] = [p.strip() for p in f["dap"].split(",") if p.strip()]
    if f.get("priv_old"):
        asa["privilege"] = {"old": f["priv_old"], "new": f.get("priv_new", "")}
    for key in ("icmp_type", "icmp_code"):
        if key in f:
            put(asa, key, int_or_none(f[key]))
    if "sif" in asa:
        put(event, "observer.ingress.interface.name", asa["source_interface"])
    if "dif" in f and asa.get("destination_interface"):
        put(event, "observer.egress.interface.name", asa["destination_interface"])
    # NAT: mapped addresses, kept as nat.* only when something was translated
    for side, ip_key, port_key, name in (
        ("source", "nsrc", "nsport", "source"),
        ("destination", "ndst", "ndport", "destination"),
    ):
        mapped = f.get(ip_key)
        mport = int_or_none(f.get(port_key))
        if mport is not None:
            asa[f"mapped_{name}_port"] = mport
        if mapped:
            mip = ip_or_none(mapped.strip())
            if mip:
                asa[f"mapped_{name}_ip"] = mip
            else:
                asa[f"mapped_{name}_host"] = mapped.strip()
            side_node = event.get(side, {})
            if mip and (mip != side_node.get("ip") or (mport is not None and mport != side_node.get("port"))):
                put(event, f"{side}.nat.ip", mip)
                if mport is not None and port_key in f:
                    put(event, f"{side}.nat.port", mport)
                add_related(event, "ip", mip)
    if f.get("user"):
        put(event, "user.name", f["user"].strip())
        add_related(event, "user", f["user"].strip())
    if f.get("suser"):
        put(event, "source.user.name", f["suser"].strip())
        add_related(event, "user", f["suser"].strip())
    if f.get("group"):
        put(event, "source.user.group.name", f["group"])
    if f.get("cuser"):
        put(event, "client.user.name", f["cuser"])
    _user_domain(event, "source", f.get("suname"), asa, "source_username")
    _user_domain(event, "destination", f.get("duname"), asa, "destination_username")
    dname = event.get("destination", {}).get("user", {}).get("name")
    if dname and not f.get("user"):
        put(event, "user.name", dname)
    put(event, "url.original", f.get("url"))
    put(event, "file.path", f.get("file"))
    put(event, "user.email", f.get("email"))
    put(event, "event.id", f.get("event_id"))
    reason = f.get("reason", "").strip()
    if mid == "716002":
        reason = reason.rstrip(".")
    if mid == "750003":
        reason = reason.replace("ERROR: ", "", 1)
    put(event, "event.reason", reason)
    if "dur" in f:
        secs = _hms_seconds(f["dur"])
        if secs is not None:
            end = event["@timestamp"]
            event["event"]["duration"] = secs * 1_000_000_000
            event["event"]["end"] = end
            event["event"]["start"] = format_ts(parse_ts(end) - timedelta(seconds=secs))


@dataclass
class CiscoAsaParser:
    """Cisco ASA / FTD syslog (``%ASA-6-302013: ...``) to ECS, as Filebeat's cisco/asa.

    Options: ``timezone`` for zoneless dates (default ``Asia/Ho_Chi_Minh``);
    ``log_level``: messages of a higher severity number are dropped (default 7, as
    Filebeat's ``var.log_level``), i.e. ``parse`` returns no event for them.
    """

    timezone: str = "Asia/Ho_Chi_Minh"
    log_level: int = 7
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True when a ``%ASA-<n>-`` or ``%FTD-<n>-`` tag appears in the first 256 bytes."""
        head = raw[:256]
        for tag in (b"%ASA-", b"%FTD-"):
            i = head.find(tag)
            if i >= 0:
                nxt = head[i + 5 : i + 6]
                return nxt.isdigit() or nxt.isalpha()
        return False

    def parse(self, record: RawRecord) -> list[Event]:
        raw = record.raw
        if len(raw) > _MAX_LINE:
            raise _err(f"line of {len(raw)} bytes exceeds {_MAX_LINE}", "message")
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        tag_at = _find_tag(line)
        if tag_at < 0:
            raise _err("no %ASA-/%FTD- message tag", "header")
        tzname = record_timezone(record, self.timezone)
        try:
            tz = resolve_timezone(tzname)
        except ValueError as exc:
            raise _err(str(exc), "timezone") from None
        head = _parse_header(line[:tag_at], tz, tzname, record.received)
        original = line[tag_at:]
        end = len(original)
        for stop in (":", " "):
            k = original.find(stop)
            if 0 <= k < end:
                end = k
        tag = original[1:end]
        pieces = tag.split("-")
        if len(pieces) < 3:
            raise _err(f"bad message tag {original[:32]!r}: expected %ASA-<severity>-<id>", "header")
        prefix, suffix = pieces[0], None
        if not pieces[1].isdigit():
            suffix = pieces[1]
            pieces = [prefix, *pieces[2:]]
            if len(pieces) < 3:
                raise _err(f"bad message tag {original[:32]!r}: expected %ASA-<severity>-<id>", "header")
        sev_txt, mid = pieces[1], pieces[2] if len(pieces) > 2 else ""
        if not sev_txt.isdigit() or (mid and not mid.isdigit()):
            raise _err(f"bad message tag {original[:32]!r}: expected %ASA-<severity>-<id>", "header")
        severity = int(sev_txt)
        if severity > self.log_level:
            return []
        message = original[end:].lstrip(": ").strip()
        ts = head.timestamp or record.received
        product = "asa"  # the cisco/asa module reports FTD-tagged lines as asa too
        asa: dict[str, Any] = {"message_id": mid}
        if suffix:
            asa["suffix"] = suffix
        event: Event = {
            "@timestamp": format_ts_cached(ts.astimezone(UTC)),
            "event": {
                "kind": "event",
                "severity": severity,
                "original": original,
                "module": "cisco",
                "dataset": f"cisco.{product}",
            },
            "log": {"level": _LEVELS[severity] if severity < 8 else "debug"},
            "observer": {"vendor": "Cisco", "product": product, "type": "firewall"},
            "cisco": {"asa": asa},
        }
        if mid:
            event["event"]["code"] = int(mid)
        if head.timezone_applied and head.timestamp is not None:
            event["event"]["timezone"] = head.timezone_applied
        if head.priority is not None:
            event["log"]["syslog"] = {
                "priority": head.priority,
                "facility": {"code": head.priority >> 3},
                "severity": {"code": head.priority & 7},
            }
        if head.hostname:
            event["host"] = {"hostname": head.hostname}
            event["observer"]["hostname"] = head.hostname
            add_related(event, "hosts", head.hostname)
        if head.process:
            event["process"] = {"name": head.process}
            if head.pid is not None:
                event["process"]["pid"] = head.pid
        fields = _dissect(mid, message)
        outcome = fields.get("outcome", "").lower() or None
        outcome = _OUTCOME_NORMAL.get(outcome or "", outcome)
        _to_ecs(event, mid, fields)
        _classify(event, mid, outcome)
        return [event]
