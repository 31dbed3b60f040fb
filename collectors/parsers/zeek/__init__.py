"""Zeek network security monitor logs (``zeek``), mapped as Filebeat's ``zeek`` module maps them.

Two encodings:

* **JSON**, one object a line, with dotted (``id.orig_h``) or underscore
  (``id_orig_h``, RockNSM / Security Onion style, with ``@stream``) field names. The
  log type comes from ``meta["zeek_log"]``, else ``@stream``/``_path``, else the file
  name (``meta["path"]``), else the fields themselves (:func:`infer_log`).
* **TSV** with ``#separator``/``#fields``/``#types`` headers: read such files with
  :func:`read_zeek_tsv`, which puts the header in each record's ``meta`` so that this
  stateless parser can decode a data line. Header lines give no event.

The ECS mapping per log is in :mod:`collectors.parsers.zeek.mapping`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from collectors.parsers.base import ParseError
from collectors.parsers.zeek.mapping import MAPPERS, MappingError, to_ecs
from collectors.parsers.zeek.tsv import TsvError, decode_line, read_zeek_tsv, zeek_log_from_path
from soc.event import Event, RawRecord

PARSER_NAME = "zeek"

__all__ = ["ZeekParser", "infer_log", "normalise_keys", "read_zeek_tsv"]

# Underscore-style name prefixes that stand for dotted Zeek record fields, by log ("*" = all logs).
_UNDERSCORE_PREFIXES: dict[str, tuple[tuple[str, str], ...]] = {
    "*": (("id_orig_", "id.orig_"), ("id_resp_", "id.resp_")),
    "x509": (
        ("certificate_", "certificate."),
        ("san_", "san."),
        ("basic_constraints_", "basic_constraints."),
    ),
    "intel": (("seen_", "seen."),),
    "kerberos": (("cert_", "cert."),),
}
_META_KEYS = frozenset({"@stream", "@system", "@proc", "_path", "_system_name", "_write_ts"})
_DETECT_MARKERS = (
    b'"uid":', b'"fuid":', b'"id.orig_h":', b'"id_orig_h":', b'"@stream":', b'"_path":', b'"note":',
    b'"certificate.version":', b'"certificate_version":', b'"peer":',
)  # fmt: skip

# Field sets that name a log when nothing else does, most specific first.
_SIGNATURES: tuple[tuple[str, frozenset[str]], ...] = (
    ("conn", frozenset({"conn_state"})),
    ("dns", frozenset({"qtype_name"})),
    ("dns", frozenset({"trans_id", "query"})),
    ("http", frozenset({"method", "uri"})),
    ("http", frozenset({"trans_depth", "status_code"})),
    ("files", frozenset({"fuid", "analyzers"})),
    ("files", frozenset({"fuid", "seen_bytes"})),
    ("x509", frozenset({"certificate.version"})),
    ("x509", frozenset({"certificate.serial"})),
    ("ssl", frozenset({"cipher", "established"})),
    ("ssl", frozenset({"server_name", "version"})),
    ("notice", frozenset({"note"})),
    ("ssh", frozenset({"auth_attempts"})),
    ("ssh", frozenset({"host_key_alg"})),
    ("kerberos", frozenset({"request_type", "client"})),
    ("dce_rpc", frozenset({"endpoint", "operation"})),
    ("smb_mapping", frozenset({"share_type"})),
    ("smb_files", frozenset({"action", "name", "path"})),
    ("dpd", frozenset({"analyzer", "failure_reason"})),
    ("intel", frozenset({"seen.indicator"})),
    ("weird", frozenset({"name", "notice", "peer"})),
    ("weird", frozenset({"name", "addl"})),
)


def normalise_keys(obj: dict[str, Any], log: str | None) -> dict[str, Any]:
    """Underscore-style names to Zeek's dotted ones (``id_orig_h`` -> ``id.orig_h``),
    and nested objects (``{"id": {"orig_h": ..}}``) flattened; ``@stream`` etc. dropped."""
    prefixes = _UNDERSCORE_PREFIXES["*"] + _UNDERSCORE_PREFIXES.get(log or "", ())
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in _META_KEYS:
            continue
        if isinstance(value, dict):
            for sub, v in normalise_keys(value, log).items():
                out[f"{key}.{sub}"] = v
            continue
        if "." not in key:
            for prefix, dotted in prefixes:
                if key.startswith(prefix) and len(key) > len(prefix):
                    key = dotted + key[len(prefix) :]
                    break
        out[key] = value
    return out


def infer_log(rec: dict[str, Any]) -> str | None:
    """The Zeek log a record's field names suggest, or ``None``."""
    for log, needed in _SIGNATURES:
        if needed <= rec.keys():
            return log
    return None


def _log_name(record: RawRecord, obj: dict[str, Any] | None) -> str | None:
    meta = record.meta
    name = meta.get("zeek_log")
    if not name and obj is not None:
        name = obj.get("@stream") or obj.get("_path")
    if not name and meta.get("path"):
        name = zeek_log_from_path(str(meta["path"]))
    if isinstance(name, str) and name:
        name = name.lower()
        return "conn" if name == "connection" else name
    return None


@dataclass
class ZeekParser:
    """Parser for Zeek JSON lines and (with header meta) TSV lines."""

    timezone: str = "UTC"  # Zeek times are epoch seconds; kept for the registry's common options
    name: str = field(default=PARSER_NAME, init=False)

    def detect(self, raw: bytes) -> bool:
        """True for a JSON object line with ``ts`` and a Zeek-only key (``uid``, ``id.orig_h`` ...)."""
        head = raw[:4096].lstrip()
        if not head.startswith(b"{") or b'"ts":' not in head or b'"event_type":' in head:
            return False
        return any(m in head for m in _DETECT_MARKERS)

    def parse(self, record: RawRecord) -> list[Event]:
        raw = record.raw
        if raw[:1] == b"#":
            return []  # a TSV header line
        stripped = raw.lstrip()
        if stripped[:1] in (b"{", b"["):
            return [self._parse_json(record, stripped)]
        return [self._parse_tsv(record)]

    def _fail(self, reason: str, field: str | None) -> ParseError:
        return ParseError(reason, parser=self.name, field=field)

    def _parse_json(self, record: RawRecord, raw: bytes) -> Event:
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise self._fail(f"not valid JSON: {exc}", "message") from None
        if not isinstance(obj, dict):
            raise self._fail(f"JSON {type(obj).__name__}, not an object", "message")
        log = _log_name(record, obj)
        rec = normalise_keys(obj, log)
        if log is None or log not in MAPPERS:
            log = infer_log(rec) or log
        if log is None:
            raise self._fail("cannot tell which Zeek log this is (no zeek_log, @stream or file name)", "log")
        return self._map(log, rec)

    def _parse_tsv(self, record: RawRecord) -> Event:
        meta = record.meta
        fields, types = meta.get("zeek_fields"), meta.get("zeek_types")
        if not fields or not types:
            raise self._fail(
                "a Zeek TSV line without its #fields/#types header (read the file with read_zeek_tsv)",
                "header",
            )
        try:
            text = record.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._fail(f"not UTF-8 at byte {exc.start}", "message") from None
        try:
            rec = decode_line(text, fields, types, meta.get("zeek_separators"))
        except TsvError as exc:
            raise self._fail(str(exc), exc.field) from None
        log = _log_name(record, None) or infer_log(rec)
        if log is None:
            raise self._fail("cannot tell which Zeek log this is (no #path header or file name)", "log")
        return self._map(log, rec)

    def _map(self, log: str, rec: dict[str, Any]) -> Event:
        try:
            return to_ecs(log, rec)
        except MappingError as exc:
            raise self._fail(str(exc), exc.field) from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise self._fail(f"unexpected value in a {log} record: {exc}", None) from None
