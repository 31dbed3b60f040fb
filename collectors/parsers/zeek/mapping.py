"""Zeek log records (dicts of typed values) to ECS, as Filebeat's ``zeek`` module maps them.

Every log gets ``@timestamp`` (``ts``), ``event.module``/``dataset``, ``zeek.session_id``
and ``event.id`` (``uid``), the connection 4-tuple as ``source.*``/``destination.*``,
``network.transport`` and ``related.ip``. Each log's own fields go under
``zeek.<fileset>.*`` (``conn`` is the ``connection`` fileset) and the log's mapper
(:data:`MAPPERS`) adds its ECS fields (``dns.*``, ``url.*``, ``tls.*``, ``file.*`` ...).
Logs without a mapper keep their fields under ``zeek.<log>.*`` with the common fields.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from soc.event import Event, format_ts, parse_ts

FILESETS = {"conn": "connection"}
TCP_LOGS = frozenset({"http", "ssl", "ssh", "kerberos", "dce_rpc", "smb_files", "smb_mapping", "ntlm", "rdp"})
_COMMON = frozenset({"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"})
_DN_KEYS = {
    "CN": "common_name", "C": "country", "L": "locality", "O": "organization",
    "OU": "organizational_unit", "ST": "state",
}  # fmt: skip
CONN_STATES: dict[str, tuple[str, list[str]]] = {
    "S0": ("Connection attempt seen, no reply.", ["connection", "start"]),
    "S1": ("Connection established, not terminated.", ["connection", "start"]),
    "SF": ("Normal establishment and termination.", ["connection", "start", "end"]),
    "REJ": ("Connection attempt rejected.", ["connection", "start", "denied"]),
    "S2": (
        "Connection established and close attempt by originator seen (but no reply from responder).",
        ["connection", "info"],
    ),
    "S3": (
        "Connection established and close attempt by responder seen (but no reply from originator).",
        ["connection", "info"],
    ),
    "RSTO": ("Connection established, originator aborted (sent a RST).", ["connection", "info"]),
    "RSTR": ("Responder sent a RST.", ["connection", "info"]),
    "RSTOS0": (
        "Originator sent a SYN followed by a RST, we never saw a SYN-ACK from the responder.",
        ["connection", "info"],
    ),
    "RSTRH": (
        "Responder sent a SYN ACK followed by a RST, we never saw a SYN from the (purported) originator.",
        ["connection", "info"],
    ),
    "SH": (
        "Originator sent a SYN followed by a FIN, we never saw a SYN ACK from the responder "
        "(hence the connection was 'half' open).",
        ["connection", "info"],
    ),
    "SHR": (
        "Responder sent a SYN ACK followed by a FIN, we never saw a SYN from the originator.",
        ["connection", "info"],
    ),
    "OTH": (
        "No SYN seen, just midstream traffic (a 'partial connection' that was not later closed).",
        ["connection", "info"],
    ),
}


class MappingError(ValueError):
    """A Zeek record whose value cannot be mapped; ``field`` names it."""

    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.field = field


# -- small helpers ---------------------------------------------------------------------


def put(event: Event, path: str, value: Any) -> None:
    """Set a dotted path in a nested event (creating objects on the way)."""
    node = event
    parts = path.split(".")
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def epoch_ts(value: Any, field: str) -> str:
    """A Zeek time (epoch seconds, or ISO 8601 text as ``--json-iso8601`` writes it) as ECS text."""
    if isinstance(value, bool):
        raise MappingError(f"{field} is a boolean, not a time", field)
    if isinstance(value, int | float):
        try:
            return format_ts(datetime.fromtimestamp(float(value), UTC))
        except (OverflowError, OSError, ValueError):
            raise MappingError(f"{field} {value!r} is out of range", field) from None
    if isinstance(value, str):
        try:
            return format_ts(parse_ts(value))
        except ValueError:
            try:
                return epoch_ts(float(value), field)
            except ValueError:
                raise MappingError(f"{field} {value[:40]!r} is not a time", field) from None
    raise MappingError(f"{field} has type {type(value).__name__}, not a time", field)


@lru_cache(maxsize=65536)
def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def ip_of(value: Any) -> str | None:
    return _ip(value) if isinstance(value, str) else None


def int_of(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def num_of(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def parse_dn(dn: str) -> dict[str, str]:
    """``CN=x,O=Acme\\, Inc.,C=US`` -> ``{"common_name": "x", "organization": "Acme Inc.", ...}``
    (Filebeat drops an escaped comma rather than keeping it)."""
    out: dict[str, str] = {}
    for part in dn.replace("\\,", "").split(","):
        key, eq, value = part.strip().partition("=")
        name = _DN_KEYS.get(key.strip())
        if eq and name and name not in out:
            out[name] = value
    return out


def tls_version(text: str) -> tuple[str, str] | None:
    """``TLSv12`` / ``TLS 1.2`` / ``SSLv3`` -> (``1.2``, ``tls``) / (``3.0``, ``ssl``)."""
    t = text.replace(" ", "").upper()
    for proto in ("TLS", "SSL", "DTLS"):
        if t.startswith(proto):
            digits = t[len(proto) :].lstrip("V")
            if not digits:
                return None
            if "." not in digits:
                digits = digits[0] + "." + (digits[1:] or "0")
            return digits, proto.lower()
    return None


def _ecs_dn(event: Event, prefix: str, dn: dict[str, str]) -> None:
    for key, value in dn.items():
        put(event, f"{prefix}.{'state_or_province' if key == 'state' else key}", value)


# -- per-log mappers -------------------------------------------------------------------
# Each takes (record, event, ns) where ns is the zeek.<fileset> dict of the event, and
# moves record fields into ECS (and into ns under Filebeat's names).

Mapper = Callable[[dict[str, Any], Event, dict[str, Any]], None]


def _conn(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    if "service" in rec:
        ev.setdefault("network", {})["protocol"] = rec["service"]
    dur = num_of(rec.get("duration"))
    if dur is not None:
        e["duration"] = round(dur * 1e9)
    src, dst = ev.setdefault("source", {}), ev.setdefault("destination", {})
    for key, node, leaf in (
        ("orig_ip_bytes", src, "bytes"), ("resp_ip_bytes", dst, "bytes"),
        ("orig_pkts", src, "packets"), ("resp_pkts", dst, "packets"),
    ):  # fmt: skip
        if key in rec:
            node[leaf] = rec[key]
    net = ev.setdefault("network", {})
    for leaf in ("bytes", "packets"):
        a, b = int_of(src.get(leaf)), int_of(dst.get(leaf))
        if a is not None and b is not None:
            net[leaf] = a + b
    if rec.get("proto") == "icmp":
        for key, leaf, node in (("id.orig_p", "type", src), ("id.resp_p", "code", dst)):
            if key in rec:
                ns.setdefault("icmp", {})[leaf] = rec[key]
                node.pop("port", None)
    state = rec.get("conn_state")
    if isinstance(state, str):
        ns["state"] = state
        known = CONN_STATES.get(state)
        if known:
            ns["state_message"], e["type"] = known[0], list(known[1])
    for key in ("history", "local_orig", "local_resp", "missed_bytes", "vlan", "inner_vlan"):
        if key in rec:
            ns[key] = rec[key]
    tags = ev.setdefault("tags", [])
    for key in ("local_orig", "local_resp"):
        if rec.get(key) is True:
            tags.insert(len(tags) - 1, key)
    lo, lr = rec.get("local_orig"), rec.get("local_resp")
    if lo is not None or lr is not None:
        net["direction"] = ("internal" if lr else "outbound") if lo else ("inbound" if lr else "external")
    for key in ("orig_bytes", "resp_bytes", "tunnel_parents", "orig_l2_addr", "resp_l2_addr", "service"):
        if key in rec:
            ns[key] = rec[key]


def _dns(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["type"] = ["connection", "info", "protocol"]
    ev.setdefault("network", {})["protocol"] = "dns"
    ns.update({k: v for k, v in rec.items() if k not in _COMMON})
    dns: dict[str, Any] = {}
    if "trans_id" in rec:
        ns["trans_id"] = dns["id"] = str(rec["trans_id"])
    q: dict[str, Any] = {}
    if isinstance(rec.get("query"), str):
        q["name"] = rec["query"]
    if "qtype_name" in rec:
        q["type"] = rec["qtype_name"]
    if rec.get("qclass_name") == "C_INTERNET":
        q["class"] = "IN"
    if q:
        dns["question"] = q
    if "rcode_name" in rec:
        dns["response_code"] = rec["rcode_name"]
        e["outcome"] = "success" if rec["rcode_name"] == "NOERROR" else "failure"
    flags = [f for f in ("AA", "TC", "RD", "RA") if rec.get(f) is True]
    if flags:
        dns["header_flags"] = flags
    answers = rec.get("answers")
    if isinstance(answers, list) and answers:
        dns["type"] = "answer"
        ttls = rec.get("TTLs") if isinstance(rec.get("TTLs"), list) else []
        out = []
        for i, data in enumerate(answers):
            ans: dict[str, Any] = {"data": data}
            if i < len(ttls) and num_of(ttls[i]) is not None:
                ans["ttl"] = int(ttls[i])
            out.append(ans)
        dns["answers"] = out
        resolved = [a for a in answers if ip_of(a)]
        if resolved:
            dns["resolved_ip"] = resolved
    else:
        dns["type"] = "query"
    if isinstance(rec.get("TTLs"), list):
        ns["TTLs"] = [int(t) if num_of(t) is not None else t for t in rec["TTLs"]]
    rtt = num_of(rec.get("rtt"))
    if rtt is not None:
        e["duration"] = round(rtt * 1e9)
    ev["dns"] = dns


def _http(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["category"] = ["network", "web"]
    e["type"] = ["connection", "info", "protocol"]
    ev.setdefault("network", {})["protocol"] = "http"
    http: dict[str, Any] = {}
    url: dict[str, Any] = {}
    if isinstance(rec.get("method"), str):
        http.setdefault("request", {})["method"] = rec["method"]
        e["action"] = rec["method"].lower()
    if "request_body_len" in rec:
        http.setdefault("request", {})["body"] = {"bytes": rec["request_body_len"]}
    if "response_body_len" in rec:
        http.setdefault("response", {})["body"] = {"bytes": rec["response_body_len"]}
    status = int_of(rec.get("status_code"))
    if status is not None:
        http.setdefault("response", {})["status_code"] = status
        e["outcome"] = "success" if status < 400 else "failure"
    if "version" in rec:
        http["version"] = str(rec["version"])
    if "referrer" in rec:
        http.setdefault("request", {})["referrer"] = rec["referrer"]
    if "host" in rec:
        url["domain"] = rec["host"]
    if "uri" in rec:
        url["original"] = rec["uri"]
    if "id.resp_p" in rec:
        url["port"] = rec["id.resp_p"]
    if isinstance(rec.get("username"), str):
        url["username"] = rec["username"]
        ev["user"] = {"name": rec["username"]}
        ev.setdefault("related", {})["user"] = [rec["username"]]
    if "password" in rec:
        url["password"] = rec["password"]
    if "user_agent" in rec:
        ev["user_agent"] = {"original": rec["user_agent"]}
    if http:
        ev["http"] = http
    if url:
        ev["url"] = url
    moved = {
        "method", "request_body_len", "response_body_len", "status_code", "version", "referrer", "host",
        "uri", "username", "password", "user_agent",
    }  # fmt: skip
    ns.update({k: v for k, v in rec.items() if k not in _COMMON and k not in moved})


def _files(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["category"], e["type"] = ["file"], ["info"]
    ns.update(
        {k: v for k, v in rec.items() if k not in _COMMON and k not in ("conn_uids", "tx_hosts", "rx_hosts")}
    )
    uids = rec.get("conn_uids")
    if isinstance(uids, list) and uids:
        ns["session_ids"] = uids
        ev["zeek"]["session_id"] = e["id"] = uids[0]
    related_ip: list[str] = []
    for key, leaf, role in (("tx_hosts", "tx_host", "server"), ("rx_hosts", "rx_host", "client")):
        hosts = rec.get(key)
        if isinstance(hosts, list) and hosts:
            ns[leaf] = hosts[0]
            ev[role] = {"ip": hosts[0]}
            related_ip.extend(h for h in hosts if ip_of(h))
    file: dict[str, Any] = {}
    hashes = {k: rec[k] for k in ("md5", "sha1", "sha256") if isinstance(rec.get(k), str)}
    if hashes:
        file["hash"] = hashes
        ev.setdefault("related", {})["hash"] = list(hashes.values())
    if "mime_type" in rec:
        file["mime_type"] = rec["mime_type"]
    if "filename" in rec:
        file["name"] = rec["filename"]
    if "total_bytes" in rec:
        file["size"] = rec["total_bytes"]
    if file:
        ev["file"] = file
    if related_ip:
        ev.setdefault("related", {})["ip"] = related_ip


def _ssl(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["type"] = ["connection", "protocol"]
    tls: dict[str, Any] = {}
    for key in ("cipher", "curve", "established", "resumed", "next_protocol", "last_alert"):
        if key in rec:
            ns[key] = rec[key]
            if key in ("cipher", "curve", "established", "resumed", "next_protocol"):
                tls[key] = rec[key]
    if isinstance(rec.get("version"), str):
        ns["version"] = rec["version"]
        ver = tls_version(rec["version"])
        if ver:
            tls["version"], tls["version_protocol"] = ver
    server: dict[str, Any] = {}
    if "server_name" in rec:
        server["name"] = rec["server_name"]
        tls.setdefault("client", {})["server_name"] = rec["server_name"]
    for key, leaf in (("subject", "subject"), ("issuer", "issuer")):
        if isinstance(rec.get(key), str):
            dn = parse_dn(rec[key])
            server[leaf] = dn
            tls.setdefault("server", {})[leaf] = rec[key].replace("\\,", "")
            _ecs_dn(ev, f"tls.server.x509.{leaf}", dn)
    for key, node, leaf in (
        ("client_subject", "client", "subject"), ("client_issuer", "client", "issuer"),
    ):  # fmt: skip
        if isinstance(rec.get(key), str):
            dn = parse_dn(rec[key])
            ns.setdefault("client", {})[leaf] = dn
            tls.setdefault("client", {})[leaf] = rec[key].replace("\\,", "")
            _ecs_dn(ev, f"tls.{node}.x509.{leaf}", dn)
    if isinstance(rec.get("cert_chain_fuids"), list) and rec["cert_chain_fuids"]:
        server["cert_chain_fuids"] = rec["cert_chain_fuids"]
    if isinstance(rec.get("client_cert_chain_fuids"), list) and rec["client_cert_chain_fuids"]:
        ns.setdefault("client", {})["cert_chain_fuids"] = rec["client_cert_chain_fuids"]
    if server:
        ns["server"] = server
    if "validation_status" in rec:
        ns["validation"] = {"status": rec["validation_status"]}
    if "ja3" in rec:
        tls.setdefault("client", {})["ja3"] = rec["ja3"]
    if "ja3s" in rec:
        tls.setdefault("server", {})["ja3s"] = rec["ja3s"]
    if tls:
        ev["tls"] = _merge(ev.get("tls", {}), tls)
    if "id.orig_h" in rec:
        ev["client"] = {"address": rec["id.orig_h"]}
    if "id.resp_h" in rec:
        ev["server"] = {"address": rec["id.resp_h"]}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a[k] = v
    return a


def _notice(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["kind"], e["category"] = "alert", ["intrusion_detection"]
    e["type"] = ["info", "denied" if rec.get("dropped") is True else "allowed"]
    ns.update({k: v for k, v in rec.items() if k not in _COMMON and k not in ("src", "dst", "p")})
    rule: dict[str, Any] = {}
    if "note" in rec:
        rule["name"] = rec["note"]
    if "msg" in rec:
        rule["description"] = rec["msg"]
    if rule:
        ev["rule"] = rule
    for key, role in (("src", "source"), ("dst", "destination")):
        if isinstance(rec.get(key), str):
            node = ev.setdefault(role, {})
            node.setdefault("address", rec[key])
            if ip_of(rec[key]):
                node.setdefault("ip", rec[key])
    if "p" in rec and "port" not in ev.get("destination", {}):
        ev.setdefault("destination", {})["port"] = rec["p"]
    if num_of(rec.get("suppress_for")) is not None and float(rec["suppress_for"]).is_integer():
        ns["suppress_for"] = int(rec["suppress_for"])


def _weird(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["kind"], e["type"] = "alert", ["info"]
    ns.update({k: v for k, v in rec.items() if k not in _COMMON})
    if "name" in rec:
        ev["rule"] = {"name": rec["name"]}


def _x509(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e.pop("category", None)
    e["type"] = ["info"]
    if isinstance(rec.get("id"), str):
        ev.setdefault("zeek", {})["session_id"] = e["id"] = rec["id"]
    cert: dict[str, Any] = {}
    x509: dict[str, Any] = {}
    simple = {
        "version": "version", "serial": "serial", "exponent": "exponent", "sig_alg": "signature_algorithm",
        "curve": "curve",
    }  # fmt: skip
    for key, leaf in simple.items():
        if f"certificate.{key}" in rec:
            cert[leaf] = rec[f"certificate.{key}"]
    key_fields = {"key_alg": "algorithm", "key_type": "type", "key_length": "length"}
    for key, leaf in key_fields.items():
        if f"certificate.{key}" in rec:
            cert.setdefault("key", {})[leaf] = rec[f"certificate.{key}"]
    for key, leaf in (("not_valid_before", "from"), ("not_valid_after", "until")):
        if f"certificate.{key}" in rec:
            ts = epoch_ts(rec[f"certificate.{key}"], f"certificate.{key}")
            cert.setdefault("valid", {})[leaf] = ts
            x509["not_before" if leaf == "from" else "not_after"] = ts
    for leaf in ("subject", "issuer"):
        if isinstance(rec.get(f"certificate.{leaf}"), str):
            dn = parse_dn(rec[f"certificate.{leaf}"])
            cert[leaf] = dn
            x509[leaf] = {("state_or_province" if k == "state" else k): v for k, v in dn.items()}
    if cert:
        ns["certificate"] = cert
    for key, value in rec.items():
        if key.startswith(("san.", "basic_constraints.")):
            put(ns, key, value)
        elif key not in ("ts", "id") and not key.startswith("certificate."):
            ns[key] = value
    if "version" in cert:
        x509["version_number"] = str(cert["version"])
    if "serial" in cert:
        x509["serial_number"] = cert["serial"]
    if "key" in cert:
        if "algorithm" in cert["key"]:
            x509["public_key_algorithm"] = cert["key"]["algorithm"]
        if "length" in cert["key"]:
            x509["public_key_size"] = cert["key"]["length"]
    if int_of(cert.get("exponent")) is not None:
        x509["public_key_exponent"] = int_of(cert["exponent"])
    if "signature_algorithm" in cert:
        x509["signature_algorithm"] = _SIG_ALGS.get(cert["signature_algorithm"], cert["signature_algorithm"])
    names = rec.get("san.dns")
    if isinstance(names, list) and names:
        x509["alternative_names"] = names
    if x509:
        ev["file"] = {"x509": x509}


_SIG_ALGS = {
    "sha256WithRSAEncryption": "SHA256-RSA", "sha1WithRSAEncryption": "SHA1-RSA",
    "sha384WithRSAEncryption": "SHA384-RSA", "sha512WithRSAEncryption": "SHA512-RSA",
    "md5WithRSAEncryption": "MD5-RSA", "ecdsa-with-SHA256": "ECDSA-SHA256",
    "ecdsa-with-SHA384": "ECDSA-SHA384", "ecdsa-with-SHA512": "ECDSA-SHA512",
}  # fmt: skip


def _ssh(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["type"] = ["connection", "protocol"]
    ev.setdefault("network", {})["protocol"] = "ssh"
    algs = {
        "cipher_alg": "cipher", "compression_alg": "compression", "host_key_alg": "host_key",
        "kex_alg": "key_exchange", "mac_alg": "mac",
    }  # fmt: skip
    for key, value in rec.items():
        if key in _COMMON:
            continue
        if key in algs:
            ns.setdefault("algorithm", {})[algs[key]] = value
        elif key == "auth_attempts":
            ns.setdefault("auth", {})["attempts"] = value
        elif key == "auth_success":
            ns.setdefault("auth", {})["success"] = value
        else:
            ns[key] = value
    if isinstance(rec.get("auth_success"), bool):
        e["outcome"] = "success" if rec["auth_success"] else "failure"


def _kerberos(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["type"] = ["authentication", "connection", "protocol"]
    ev.setdefault("network", {})["protocol"] = "kerberos"
    for key, value in rec.items():
        if key in _COMMON:
            continue
        if key in ("from", "till"):
            ns.setdefault("valid", {})["from" if key == "from" else "until"] = epoch_ts(value, key)
        elif key.startswith("cert.") or key in ("client_cert_subject", "server_cert_subject"):
            side = "client" if "client" in key else "server"
            subject = str(value).replace("\\,", "")
            ns.setdefault("cert", {}).setdefault(side, {})["subject"] = subject
            _ecs_dn(ev, f"tls.{side}.x509.subject", parse_dn(subject))
        elif key in ("client_cert_fuid", "server_cert_fuid"):
            ns.setdefault("cert", {}).setdefault(key.split("_")[0], {})["fuid"] = value
        else:
            ns[key] = value
    if "request_type" in rec:
        e["action"] = rec["request_type"]
    if isinstance(rec.get("success"), bool):
        e["outcome"] = "success" if rec["success"] else "failure"
    client = rec.get("client")
    if isinstance(client, str) and client:
        name, _, domain = client.partition("/")
        ev["user"] = {"name": name, **({"domain": domain} if domain else {})}
        ev.setdefault("related", {})["user"] = [name]
    if "id.orig_h" in rec:
        ev["client"] = {"address": rec["id.orig_h"]}
    if "id.resp_h" in rec:
        ev["server"] = {"address": rec["id.resp_h"]}


def _dpd(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    ev["event"]["type"] = ["connection", "info"]
    ns.update({k: v for k, v in rec.items() if k not in _COMMON})


def _intel(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e.pop("category", None)
    e["kind"], e["type"] = "alert", ["info"]
    for key, value in rec.items():
        if key not in _COMMON:
            put(ns, key, value)


def _dce_rpc(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["type"] = ["connection", "protocol"]
    ev.setdefault("network", {})["protocol"] = "dce_rpc"
    ns.update({k: v for k, v in rec.items() if k not in _COMMON})
    if "operation" in rec:
        e["action"] = rec["operation"]
    rtt = num_of(rec.get("rtt"))
    if rtt is not None:
        e["duration"] = round(rtt * 1e9)


def _smb(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    e = ev["event"]
    e["type"] = ["connection", "protocol"]
    ev.setdefault("network", {})["protocol"] = "smb"
    ns.update({k: v for k, v in rec.items() if k not in _COMMON})
    if "action" in rec:
        e["action"] = rec["action"]
    if isinstance(rec.get("name"), str):
        ev["file"] = {"name": rec["name"], **({"path": rec["path"]} if "path" in rec else {})}


def _generic(rec: dict[str, Any], ev: Event, ns: dict[str, Any]) -> None:
    for key, value in rec.items():
        if key not in _COMMON:
            put(ns, key, value)


MAPPERS: dict[str, Mapper] = {
    "conn": _conn, "dns": _dns, "http": _http, "files": _files, "ssl": _ssl, "notice": _notice,
    "weird": _weird, "x509": _x509, "ssh": _ssh, "kerberos": _kerberos, "dpd": _dpd, "intel": _intel,
    "dce_rpc": _dce_rpc, "smb_files": _smb, "smb_mapping": _smb,
}  # fmt: skip


def to_ecs(log: str, rec: dict[str, Any]) -> Event:
    """One Zeek record of log ``log`` as an ECS event (see the module docstring)."""
    if "ts" not in rec:
        raise MappingError("the record has no ts", "ts")
    fileset = FILESETS.get(log, log)
    ns: dict[str, Any] = {}
    ev: Event = {
        "@timestamp": epoch_ts(rec["ts"], "ts"),
        "event": {
            "kind": "event", "module": "zeek", "dataset": f"zeek.{fileset}", "category": ["network"],
        },
        "zeek": {fileset: ns},
        "tags": [f"zeek.{fileset}"],
    }  # fmt: skip
    uid = rec.get("uid")
    if isinstance(uid, str):
        ev["zeek"]["session_id"] = ev["event"]["id"] = uid
    related: list[str] = []
    for host, port, role in (("id.orig_h", "id.orig_p", "source"), ("id.resp_h", "id.resp_p", "destination")):
        if host in rec:
            node: dict[str, Any] = {"address": rec[host]}
            ip = ip_of(rec[host])
            if ip:
                node["ip"] = rec[host]
                related.append(rec[host])
            if int_of(rec.get(port)) is not None:
                node["port"] = int_of(rec[port])
            ev[role] = node
    if isinstance(rec.get("proto"), str):
        ev["network"] = {"transport": rec["proto"].lower()}
    elif log in TCP_LOGS:
        ev["network"] = {"transport": "tcp"}
    MAPPERS.get(log, _generic)(rec, ev, ns)
    for role in ("source", "destination"):
        ip = ev.get(role, {}).get("ip")
        if ip and ip not in related:
            related.append(ip)
    if related:
        rel = ev.setdefault("related", {})
        rel["ip"] = list(dict.fromkeys([*rel.get("ip", []), *related]))
    if not ns:
        del ev["zeek"][fileset]
    return ev
