"""Suricata EVE JSON (``suricata``), mapped as Filebeat's ``suricata/eve`` module maps it.

One JSON object a line with ``timestamp`` and ``event_type``. Everything Suricata
wrote stays under ``suricata.eve.*`` (``flow_id`` as text), except what Filebeat moves
to ECS: the 5-tuple (``source.*``, ``destination.*``, ``network.transport``/``protocol``),
``ether`` MACs, ``community_id``, alert -> ``rule.*``, ``event.severity``, ``message`` and
``event.type`` (the action), alert metadata (``threat.tactic.id``, ``file.name`` ...),
flow counters -> ``source/destination/network.bytes|packets`` and ``event.start/end/
duration``, HTTP -> ``http.*``, ``url.*``, ``destination.domain``, ``user_agent.original``,
fileinfo -> ``file.path/size``, DNS v1 (one answer a line) and v2 (``answers``) ->
``dns.*``, TLS -> ``tls.*``. ``event.kind`` is ``alert``, ``metric`` (stats) or ``event``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.jsonload import loads_json
from collectors.parsers.syslog import format_ts_cached
from soc.event import Event, RawRecord

PARSER_NAME = "suricata"

_TOP_MOVED = frozenset(
    {"timestamp", "src_ip", "src_port", "dest_ip", "dest_port", "proto", "app_proto", "ether", "community_id"}
)
_APP_EVENTS = frozenset(
    {"dns", "http", "tls", "ssh", "smtp", "ftp", "smb", "nfs", "dhcp", "krb5", "ikev2", "rdp", "sip", "snmp",
     "tftp", "mqtt", "http2", "dnp3", "modbus", "rfb", "quic", "ntp"}
)  # fmt: skip
_DN_KEYS = {
    "CN": "common_name", "C": "country", "L": "locality", "O": "organization",
    "OU": "organizational_unit", "ST": "state_or_province",
}  # fmt: skip
_DETECT = (b'"event_type":', b'"timestamp":')


@lru_cache(maxsize=65536)
def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ts(text: Any, field: str) -> str:
    """Suricata's ISO 8601 time (``2018-07-05T15:01:09.820360-0400``) as ECS UTC text."""
    if not isinstance(text, str):
        raise ValueError(f"{field} is not text")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return format_ts_cached(dt)


def _ms(text: str) -> str:
    """An ECS timestamp truncated to milliseconds (Filebeat's ``date`` processor precision)."""
    return text[:23] + "Z" if len(text) > 24 else text


def _dn(dn: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in dn.split(", "):
        key, eq, value = part.partition("=")
        name = _DN_KEYS.get(key.strip())
        if eq and name and name not in out:
            out[name] = value
    return out


def _tls_version(text: str) -> tuple[str, str] | None:
    t = text.replace(" ", "").upper()
    for proto in ("TLS", "SSL"):
        if t.startswith(proto):
            digits = t[len(proto) :].lstrip("V")
            if not digits:
                return None
            if "." not in digits:
                digits = digits[0] + "." + (digits[1:] or "0")
            return digits, proto.lower()
    return None


def _put(event: Event, path: str, value: Any) -> None:
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _Builder:
    """Builds one ECS event from one EVE object (``obj``); ``eve`` is ``suricata.eve``."""

    def __init__(self, obj: dict[str, Any]) -> None:
        self.obj = obj
        self.eve: dict[str, Any] = {k: v for k, v in obj.items() if k not in _TOP_MOVED}
        etype = str(obj.get("event_type", "")).lower()
        self.eve["event_type"] = etype
        self.etype = etype
        self.ev: Event = {
            "event": {
                "kind": "event",
                "module": "suricata",
                "dataset": "suricata.eve",
                "category": ["network"],
            },
            "suricata": {"eve": self.eve},
            "tags": ["suricata"],
        }
        self.related_ip: list[str] = []
        self.related_hosts: list[str] = []

    def build(self) -> Event:
        obj, ev, e = self.obj, self.ev, self.ev["event"]
        ev["@timestamp"] = _ts(obj["timestamp"], "timestamp")
        if "flow_id" in obj:
            self.eve["flow_id"] = str(obj["flow_id"])
        self._endpoints()
        if self.etype == "stats":
            e["kind"] = "metric"
        elif self.etype in _APP_EVENTS:
            e["type"] = ["protocol"]
        self._alert()
        self._flow()
        self._http()
        self._fileinfo()
        self._dns()
        self._tls()
        rel: dict[str, Any] = {}
        if self.related_ip:
            rel["ip"] = list(dict.fromkeys(self.related_ip))
        if self.related_hosts:
            rel["hosts"] = list(dict.fromkeys(self.related_hosts))
        if rel:
            ev.setdefault("related", {}).update(rel)
        for key in [k for k, v in self.eve.items() if v == {}]:
            del self.eve[key]
        return ev

    def _endpoints(self) -> None:
        obj, ev = self.obj, self.ev
        for ip_key, port_key, role in (
            ("src_ip", "src_port", "source"),
            ("dest_ip", "dest_port", "destination"),
        ):
            if ip_key in obj:
                node: dict[str, Any] = {"address": obj[ip_key]}
                if isinstance(obj[ip_key], str) and _is_ip(obj[ip_key]):
                    node["ip"] = obj[ip_key]
                    self.related_ip.append(obj[ip_key])
                if isinstance(obj.get(port_key), int):
                    node["port"] = obj[port_key]
                ev[role] = node
        ether = obj.get("ether")
        if isinstance(ether, dict):
            for key, role in (("src_mac", "source"), ("dest_mac", "destination")):
                if isinstance(ether.get(key), str):
                    ev.setdefault(role, {})["mac"] = ether[key]
        net: dict[str, Any] = {}
        if isinstance(obj.get("proto"), str):
            net["transport"] = obj["proto"].lower()
        app = obj.get("app_proto")
        if isinstance(app, str) and app.lower() not in ("failed", "unknown"):
            net["protocol"] = app.lower()
        elif self.etype in _APP_EVENTS:
            net["protocol"] = self.etype
        if isinstance(obj.get("community_id"), str):
            net["community_id"] = obj["community_id"]
        if net:
            ev["network"] = net

    def _alert(self) -> None:
        alert = self.eve.get("alert")
        if not isinstance(alert, dict):
            return
        alert = self.eve["alert"] = dict(alert)
        ev, e = self.ev, self.ev["event"]
        if self.etype == "alert":
            e["kind"] = "alert"
            e["category"] = ["network", "intrusion_detection"]
        rule: dict[str, Any] = {}
        if "category" in alert:
            ev["message"] = str(alert["category"])
            rule["category"] = alert["category"]
        if "signature_id" in alert:
            rule["id"] = str(alert["signature_id"])
        if "signature" in alert:
            rule["name"] = alert["signature"]
        if rule:
            ev["rule"] = rule
        action = alert.pop("action", None)
        if isinstance(action, str):
            e["type"] = ["denied" if action == "blocked" else action]
        if "severity" in alert:
            e["severity"] = alert.pop("severity")
        metadata = alert.pop("metadata", None)
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                if key == "mitre_attack":
                    _put(ev, "threat.tactic.id", value)
                elif key == "filename":
                    _put(ev, "file.name", value)
                elif key in ("created_at", "updated_at") and isinstance(value, list) and value:
                    alert[key] = f"{str(value[0]).replace('_', '-')}T00:00:00.000Z"
                else:
                    alert[key] = value

    def _flow(self) -> None:
        flow = self.eve.get("flow")
        if not isinstance(flow, dict):
            return
        flow = self.eve["flow"] = dict(flow)
        ev, e = self.ev, self.ev["event"]
        src, dst = ev.setdefault("source", {}), ev.setdefault("destination", {})
        for key, node, leaf in (
            ("pkts_toserver", src, "packets"), ("pkts_toclient", dst, "packets"),
            ("bytes_toserver", src, "bytes"), ("bytes_toclient", dst, "bytes"),
        ):  # fmt: skip
            if key in flow:
                node[leaf] = flow.pop(key)
        sb, db = _int(src.get("bytes")), _int(dst.get("bytes"))
        sp, dp = _int(src.get("packets")), _int(dst.get("packets"))
        net = ev.setdefault("network", {})
        if sb + db > 0:
            net["bytes"] = sb + db
        if sp + dp > 0:
            net["packets"] = sp + dp
        start = end = None
        for key in ("start", "end"):
            if key in flow:
                value = flow.pop(key)
                try:
                    e[key] = _ms(_ts(value, f"flow.{key}"))
                except ValueError:
                    continue
        start, end = e.get("start"), e.get("end")
        if start and end:
            a, b = datetime.fromisoformat(start), datetime.fromisoformat(end)
            if a <= b:
                e["duration"] = int((b - a).total_seconds() * 1e9)
        if self.etype == "flow":
            e["type"] = ["connection", "start"] if flow.get("state") != "closed" else ["connection", "end"]

    def _http(self) -> None:
        http = self.eve.get("http")
        if not isinstance(http, dict):
            return
        http = self.eve["http"] = dict(http)
        ev, e = self.ev, self.ev["event"]
        out: dict[str, Any] = {}
        if "http_method" in http:
            out.setdefault("request", {})["method"] = http.pop("http_method")
        if "status" in http:
            out.setdefault("response", {})["status_code"] = http.pop("status")
        if "length" in http:
            out.setdefault("response", {})["body"] = {"bytes": http.pop("length")}
        if "http_refer" in http:
            out.setdefault("request", {})["referrer"] = http.pop("http_refer")
        if out:
            ev["http"] = out
        url: dict[str, Any] = {}
        host = http.pop("hostname", None)
        if isinstance(host, str):
            ev.setdefault("destination", {})["domain"] = host
            url["domain"] = host
            self.related_hosts.append(host)
        if isinstance(http.get("http_port"), int):
            url["port"] = http.pop("http_port")
        raw_url = http.pop("url", None)
        if isinstance(raw_url, str):
            url.update(_split_url(raw_url))
        if url:
            ev["url"] = url
        if "http_user_agent" in http:
            ev["user_agent"] = {"original": http.pop("http_user_agent")}
        if self.etype == "http":
            e["category"] = ["network", "web"]
            e["type"] = ["access", "protocol"]
            status = out.get("response", {}).get("status_code")
            if isinstance(status, int):
                e["outcome"] = "success" if status < 400 else "failure"

    def _fileinfo(self) -> None:
        info = self.eve.get("fileinfo")
        if not isinstance(info, dict):
            return
        info = self.eve["fileinfo"] = dict(info)
        file: dict[str, Any] = {}
        if "filename" in info:
            file["path"] = info.pop("filename")
        if "size" in info:
            file["size"] = info.pop("size")
        if file:
            self.ev.setdefault("file", {}).update(file)

    def _dns(self) -> None:
        src = self.eve.get("dns")
        if not isinstance(src, dict):
            return
        d = self.eve["dns"] = dict(src)
        dns: dict[str, Any] = {}
        if "id" in d:
            dns["id"] = str(d["id"])
        if "rcode" in d:
            dns["response_code"] = d["rcode"]
        if "type" in d:
            dns["type"] = d["type"]
        v2 = d.get("version") == 2
        if dns.get("type") == "query" or v2:
            q = {k: d[k] for k, k2 in (("rrname", "name"), ("rrtype", "type")) if k in d}
            if q:
                dns["question"] = {("name" if k == "rrname" else "type"): v for k, v in q.items()}
        resolved: list[str] = []
        if dns.get("type") == "answer" and not v2:
            pairs = (("rrname", "name"), ("rdata", "data"), ("rrtype", "type"), ("ttl", "ttl"))
            ans = {k2: d[k] for k, k2 in pairs if k in d}
            if ans:
                dns["answers"] = [ans]
            if d.get("rrtype") in ("A", "AAAA") and "rdata" in d:
                resolved.append(d["rdata"])
        elif dns.get("type") == "answer" and isinstance(d.get("answers"), list):
            answers = []
            for a in d.pop("answers"):
                if not isinstance(a, dict):
                    continue
                b = {{"rrname": "name", "rrtype": "type", "rdata": "data"}.get(k, k): v for k, v in a.items()}
                answers.append(b)
                if b.get("type") in ("A", "AAAA") and "data" in b:
                    resolved.append(b["data"])
            dns["answers"] = answers
        if resolved:
            dns["resolved_ip"] = resolved
            self.related_ip.extend(r for r in resolved if isinstance(r, str))
        flags = [f.upper() for f in ("aa", "tc", "rd", "ra") if d.get(f) is True]
        if flags:
            dns["header_flags"] = flags
        for key in ("aa", "tc", "rd", "ra", "qr", "version", "flags", "grouped"):
            d.pop(key, None)
        if dns:
            self.ev["dns"] = dns

    def _tls(self) -> None:
        t = self.eve.get("tls")
        if not isinstance(t, dict):
            return
        ev = self.ev
        tls: dict[str, Any] = {}
        server: dict[str, Any] = {}
        client: dict[str, Any] = {}
        if isinstance(t.get("version"), str):
            ver = _tls_version(t["version"])
            if ver:
                tls["version"], tls["version_protocol"] = ver
        if "session_resumed" in t:
            tls["resumed"] = t["session_resumed"]
        if isinstance(t.get("sni"), str):
            t["sni"] = t["sni"].rstrip(".")
            client["server_name"] = t["sni"]
            ev.setdefault("destination", {})["domain"] = t["sni"]
        for key, leaf in (("subject", "subject"), ("issuerdn", "issuer")):
            if isinstance(t.get(key), str):
                server[leaf] = t[key]
                dn = _dn(t[key])
                if dn:
                    server.setdefault("x509", {})[leaf] = dn
        for key, leaf in (("notbefore", "not_before"), ("notafter", "not_after")):
            if isinstance(t.get(key), str):
                try:
                    value = _ms(_ts(t[key], f"tls.{key}"))
                except ValueError:
                    continue
                server[leaf] = value
                server.setdefault("x509", {})[leaf] = value
        if isinstance(t.get("serial"), str):
            server.setdefault("x509", {})["serial_number"] = t["serial"].replace(":", "")
        if isinstance(t.get("fingerprint"), str):
            sha1 = t["fingerprint"].replace(":", "").upper()
            server["hash"] = {"sha1": sha1}
            ev.setdefault("related", {}).setdefault("hash", []).append(sha1)
        for key, node, leaf in (("ja3", client, "ja3"), ("ja3s", server, "ja3s")):
            if isinstance(t.get(key), dict) and "hash" in t[key]:
                node[leaf] = t[key]["hash"]
        if server:
            tls["server"] = server
        if client:
            tls["client"] = client
        if tls:
            ev["tls"] = tls


def _split_url(raw: str) -> dict[str, Any]:
    """``url.original``, ``path``, ``query``, ``fragment``, ``extension`` (and ``scheme``,
    ``domain``, ``port`` for an absolute URL) as Filebeat's grok + uri_parts give them."""
    out: dict[str, Any] = {"original": raw}
    rest = raw
    if "://" in raw.split("?", 1)[0]:
        scheme, _, rest = raw.partition("://")
        out["scheme"] = scheme.lower()
        hostport, slash, tail = rest.partition("/")
        rest = slash + tail
        host, colon, port = hostport.rpartition(":") if hostport.count(":") == 1 else (hostport, "", "")
        out["domain"] = host
        if colon and port.isdigit():
            out["port"] = int(port)
    path, _, frag = rest.partition("#")
    path, q, query = path.partition("?")
    out["path"] = path
    if q:
        out["query"] = query
    if frag:
        out["fragment"] = frag
    last = path.rsplit("/", 1)[-1]
    if "." in last and not last.endswith("."):
        out["extension"] = last.rsplit(".", 1)[1]
    return out


@dataclass
class SuricataParser:
    """Parser for Suricata EVE JSON lines."""

    timezone: str = "UTC"  # EVE times carry their offset; kept for the registry's common options
    name: str = field(default=PARSER_NAME, init=False)

    def detect(self, raw: bytes) -> bool:
        """True for a JSON object line with ``timestamp`` and ``event_type``."""
        head = raw[:8192].lstrip()
        return head.startswith(b"{") and all(m in head for m in _DETECT)

    def parse(self, record: RawRecord) -> list[Event]:
        try:
            obj = loads_json(record.raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"not valid JSON: {exc}", parser=self.name, field="message") from None
        if not isinstance(obj, dict):
            raise ParseError(f"JSON {type(obj).__name__}, not an object", parser=self.name, field="message")
        for key in ("timestamp", "event_type"):
            if key not in obj:
                raise ParseError(f"an EVE record without {key}", parser=self.name, field=key)
        try:
            return [_Builder(obj).build()]
        except ValueError as exc:
            raise ParseError(f"bad timestamp: {exc}", parser=self.name, field="timestamp") from None
        except (TypeError, AttributeError, KeyError) as exc:
            raise ParseError(f"unexpected value in an EVE record: {exc}", parser=self.name) from None
