"""FortiGate ``key=value`` logs (``fortigate``), mapped as Filebeat's ``fortinet/firewall`` module.

A FortiOS log line is ``<PRI>`` (or a syslog header) and ``key=value`` pairs, values
bare or double-quoted (:func:`collectors.parsers.kv.split_kv`, linear time)::

    <189>date=2020-04-23 time=12:17:48 devname="fw1" devid="FG100E" logid="0316013056"
        type="utm" subtype="webfilter" level="warning" eventtime=1587230269052907555
        tz="-0500" srcip=192.168.2.1 srcport=61930 dstip=175.16.199.1 dstport=443 proto=6 ...

``@timestamp`` is ``date`` + ``time`` in the line's ``tz`` (else the record's zone);
``event.start`` is ``eventtime`` (seconds, or nanoseconds on FortiOS 6.2+: read as
milliseconds, as Filebeat does). ``type`` ``traffic``, ``utm`` (and ``dns``) and
``event`` get the ECS categories of Filebeat's sub-pipelines. Keys that are not
mapped to ECS stay under ``fortinet.firewall.*``; ``N/A`` and ``undefined`` values
are dropped. A line without ``date``/``time`` or ``type`` raises :class:`ParseError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.kv import KVError, split_kv
from collectors.parsers.syslog import format_ts_cached, record_timezone, resolve_timezone
from soc.event import Event, RawRecord, format_ts, get_field

PARSER_NAME = "fortigate"

_IANA = {"1": "icmp", "2": "igmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp"}
_DROP = frozenset({"N/A", "undefined"})
_DIRECTION = {"outgoing": "outbound", "incoming": "inbound"}
_UTM_DENIED = frozenset({"blocked", "block", "dropped", "deny", "reset"})
_UTM_ALLOWED = frozenset({"pass", "passthrough", "exempt", "allow", "accept", "monitored"})
_ALERT_SUBTYPES = frozenset({"virus", "ips", "anomaly"})
_LOGON = frozenset({"FSSO-logon", "auth-logon"})
_LOGOFF = frozenset({"FSSO-logoff", "auth-logout"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# key -> ECS path, moved for every type
_COMMON = {
    "devname": "observer.name", "devid": "observer.serial_number", "level": "log.level",
    "logid": "event.code", "msg": "message", "reason": "event.reason",
    "dstintf": "observer.egress.interface.name", "srcintf": "observer.ingress.interface.name",
    "dst_int": "observer.egress.interface.name", "src_int": "observer.ingress.interface.name",
    "srcip": "source.ip", "dstip": "destination.ip", "srcmac": "source.mac",
    "transip": "source.nat.ip", "tranip": "destination.nat.ip",
    "group": "source.user.group.name", "policyid": "rule.id", "poluuid": "rule.uuid",
    "policyname": "rule.name", "hostname": "url.domain", "app": "network.application",
    "srcdomain": "source.domain", "dstname": "destination.address", "saddr": "source.address",
    "daddr": "destination.address", "agent": "user_agent.original", "qname": "dns.question.name",
    "qtype": "dns.question.type", "qclass": "dns.question.class", "xid": "dns.id",
    "filename": "file.name", "file": "file.name", "error_num": "error.code",
    "logdesc": "rule.description", "comment": "rule.description", "vulncat": "vulnerability.category",
    "ref": "event.reference",
}  # fmt: skip
_INTS = {
    "srcport": "source.port", "dstport": "destination.port", "sentbyte": "source.bytes",
    "rcvdbyte": "destination.bytes", "sentpkt": "source.packets", "rcvdpkt": "destination.packets",
    "transport": "source.nat.port", "tranport": "destination.nat.port", "filesize": "file.size",
}  # fmt: skip
_EVENT_ALT = {
    "remip": "destination.ip",
    "locip": "source.ip",
    "remport": "destination.port",
    "locport": "source.port",
}
_SKIP = frozenset({"date", "time", "tz", "eventtime", "type", "subtype", "action", "proto", "service", "url",
                   "duration", "user", "unauthuser", "direction", "dir", "appcat", "catdesc", "policytype",
                   "profile", "ipaddr", "cat"})  # fmt: skip


def _err(reason: str, fld: str) -> ParseError:
    return ParseError(reason, parser=PARSER_NAME, field=fld)


def _put(event: Event, path: str, value: Any) -> None:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(parts[-1], value)


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() else None


def _timestamp(kv: dict[str, str], tzname: str) -> datetime:
    date, time = kv.get("date"), kv.get("time")
    if not date or not time:
        raise _err("no date= and time= pair: not a FortiOS log line", "date" if not date else "time")
    try:
        local = datetime.fromisoformat(f"{date}T{time}")
    except ValueError:
        raise _err(f"bad date/time {date!r} {time!r}: expected YYYY-MM-DD hh:mm:ss", "date") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=resolve_timezone(tzname))
    return local.astimezone(UTC)


def _eventtime(text: str) -> datetime | None:
    """``eventtime`` in s, ms, us or ns since the epoch (Filebeat: >18 digits are ns, >11 ms)."""
    if not (text.isascii() and text.isdigit()):
        return None
    if len(text) > 18:
        text = text[:-6]
    try:
        if len(text) > 11:
            return _EPOCH + timedelta(milliseconds=int(text))
        return _EPOCH + timedelta(seconds=int(text))
    except OverflowError:
        return None


def _categorize(ev: dict[str, Any], kv: dict[str, str], kind: str) -> None:
    """``event.category`` / ``type`` / ``outcome`` as Filebeat's per-type pipelines set them."""
    action = kv.get("action")
    subtype = kv.get("subtype", "")
    cats: list[str] = []
    types: list[str] = []
    if kind == "traffic":
        cats.append("network")
        types.append("connection")
        if action:
            ev["outcome"] = "success"
            types.append("start" if action == "start" else "end")
        utm = kv.get("utmaction")
        if kv.get("app") and action != "deny":
            types.append("protocol")
        if utm is None and action != "deny":
            types.append("allowed")
        if utm == "block" or action == "deny":
            types.append("denied")
    elif kind in ("utm", "dns"):
        cats.append("network")
        if subtype == "ips":
            cats.append("intrusion_detection")
        if subtype in _ALERT_SUBTYPES:
            ev["kind"] = "alert"
        if action:
            ev["outcome"] = "success"
            if action in _UTM_DENIED:
                types.append("denied")
            elif action in _UTM_ALLOWED:
                types.append("allowed")
        if subtype == "dns" or kind == "dns":
            types.append("info")
    elif kind == "event":
        if kv.get("result") == "ERROR" or kv.get("status") == "negotiate_error":
            ev["outcome"] = "failure"
        elif kv.get("result") == "OK" or action in _LOGON or action in _LOGOFF:
            ev["outcome"] = "success"
        if action in _LOGON:
            types += ["user", "start"]
        elif action in _LOGOFF:
            types += ["user", "end"]
        if subtype == "vpn":
            types.append("connection")
            cats.append("network")
        if action == "perf-stats":
            types.append("info")
            cats.append("host")
        if subtype == "update":
            types.append("info")
            cats += ["host", "malware"]
        if subtype == "user":
            cats.append("authentication")
    if cats:
        ev["category"] = cats
    if types:
        ev["type"] = types


@dataclass
class FortigateParser:
    """FortiGate (FortiOS) ``key=value`` traffic, UTM and event logs to ECS."""

    timezone: str = "Asia/Ho_Chi_Minh"
    name: str = field(default=PARSER_NAME, init=False)

    def __post_init__(self) -> None:
        resolve_timezone(self.timezone)

    def detect(self, raw: bytes) -> bool:
        """True for a line with FortiOS's ``logid=`` and ``type=`` keys and a device or date key."""
        head = raw[:600]
        if b"logid=" not in head or b"type=" not in head:
            return False
        return b"devid=" in head or b"devname=" in head or (b"date=" in head and b"time=" in head)

    def parse(self, record: RawRecord) -> list[Event]:
        text = record.raw.decode("utf-8", "replace").rstrip("\x00\r\n ")
        if text.startswith("<"):
            end = text.find(">", 1, 5)
            if end > 1 and text[1:end].isdigit():
                text = text[end + 1 :]
        try:
            kv, first = split_kv(text)
        except KVError as exc:
            raise _err(exc.reason + f" (column {exc.column})", "message") from None
        if first < 0:
            raise _err("no key=value pairs", "message")
        kv = {k: v for k, v in kv.items() if v not in _DROP}
        kind = kv.get("type")
        if not kind:
            raise _err("no type= key (traffic, utm, event ...)", "type")
        line_tz = kv.get("tz")
        tzname = record_timezone(record, self.timezone)
        if line_tz:
            try:
                resolve_timezone(line_tz)
            except ValueError:
                raise _err(f"bad tz={line_tz!r}", "tz") from None
            tzname = line_tz
        try:
            ts = _timestamp(kv, tzname)
        except ValueError as exc:  # a bad zone name in the record's meta
            raise _err(str(exc), "timezone") from None
        ev: dict[str, Any] = {"kind": "event", "module": "fortinet", "dataset": "fortinet.firewall"}
        if line_tz or tzname:
            ev["timezone"] = tzname
        event: Event = {
            "@timestamp": format_ts_cached(ts),
            "event": ev,
            "observer": {"vendor": "Fortinet", "product": "Fortigate", "type": "firewall"},
        }
        self._map(event, kv, kind)
        _categorize(ev, kv, kind)
        return [event]

    @staticmethod
    def _map(event: Event, kv: dict[str, str], kind: str) -> None:
        ev = event["event"]
        rest: dict[str, str] = {}
        for key, value in kv.items():
            path = _COMMON.get(key)
            if path is not None:
                _put(event, path, value)
                continue
            path = _INTS.get(key)
            if path is not None:
                number = _int(value)
                if number is not None:
                    _put(event, path, number)
                continue
            if key not in _SKIP:
                rest[key] = value
        if kind == "event":
            for key, path in _EVENT_ALT.items():
                value = kv.get(key)
                if value and get_field(event, path) is None:
                    number = _int(value) if path.endswith("port") else None
                    _put(event, path, number if path.endswith("port") else value)
                    rest.pop(key, None)
        if "action" in kv:
            ev["action"] = kv["action"]
        start = _eventtime(kv.get("eventtime", ""))
        if start is not None:
            ev["start"] = format_ts(start)
        duration = _int(kv.get("duration", ""))
        if duration is not None:
            ev["duration"] = duration * 1_000_000_000
        user = kv.get("unauthuser") or kv.get("user")
        if user:
            _put(event, "source.user.name", user)
            _put(event, "user.name", user)
        proto = kv.get("proto")
        network: dict[str, Any] = event.setdefault("network", {})
        if proto:
            network["iana_number"] = proto
            if proto in _IANA:
                network["transport"] = _IANA[proto]
        if kv.get("service"):
            network["protocol"] = kv["service"].lower()
        direction = kv.get("direction") or kv.get("dir")
        if direction and kind != "traffic":
            network["direction"] = _DIRECTION.get(direction.lower(), direction.lower())
        rule: dict[str, Any] = event.setdefault("rule", {})
        if kind == "traffic":
            if kv.get("policytype"):
                rule["ruleset"] = kv["policytype"]
            if kv.get("appcat"):
                rule["category"] = kv["appcat"].replace(".", "-")
            if kv.get("url"):
                _put(event, "url.path", kv["url"])
        elif kind in ("utm", "dns"):
            if kv.get("profile"):
                rule["ruleset"] = kv["profile"]
            if kv.get("catdesc"):
                rule["category"] = kv["catdesc"]
            if kv.get("url"):
                url = kv["url"]
                _put(event, "url.original", url)
                path = url.split("://", 1)[1] if "://" in url else url
                if "://" in url:
                    _put(event, "url.scheme", url.split("://", 1)[0])
                    slash = path.find("/")
                    if slash > 0:
                        _put(event, "url.domain", path[:slash])
                    path = path[slash:] if slash >= 0 else "/"
                query = path.find("?")
                _put(event, "url.path", path if query < 0 else path[:query])
                if query >= 0:
                    _put(event, "url.query", path[query + 1 :])
            if kv.get("ipaddr"):
                _put(event, "dns.resolved_ip", [ip.strip() for ip in kv["ipaddr"].split(",") if ip.strip()])
        elif kv.get("url"):
            _put(event, "url.path", kv["url"])
        if not rule:
            del event["rule"]
        src, dst = event.get("source", {}), event.get("destination", {})
        if "bytes" in src and "bytes" in dst:
            network["bytes"] = src["bytes"] + dst["bytes"]
        if "packets" in src and "packets" in dst:
            network["packets"] = src["packets"] + dst["packets"]
        ips = [ip for ip in (src.get("ip"), dst.get("ip")) if ip]
        if ips:
            network["type"] = "ipv6" if ":" in ips[0] else "ipv4"
            event["related"] = {"ip": ips}
        if src.get("user", {}).get("name"):
            event.setdefault("related", {})["user"] = [src["user"]["name"]]
        if not network:
            del event["network"]
        rest["type"] = kind
        if kv.get("subtype"):
            rest["subtype"] = kv["subtype"]
        event["fortinet"] = {"firewall": rest}
