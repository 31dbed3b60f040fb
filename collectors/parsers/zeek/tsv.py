"""Zeek's tab-separated log format: the header, and one data line decoded by it.

A Zeek TSV log starts with ``#separator \\x09``, ``#set_separator``, ``#empty_field``,
``#unset_field``, ``#path``, ``#open``, ``#fields`` and ``#types`` lines, then one
record a line, and may end with ``#close``. A data line cannot be read without the
header, so :func:`read_zeek_tsv` keeps the header while it reads the file and puts it
in every record's ``meta`` (``zeek_log``, ``zeek_fields``, ``zeek_types``,
``zeek_separators``); :func:`decode_line` turns one line back into a dict of typed
values with that meta alone.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from collectors.inputs.file import CHUNK_BYTES, LineSplitter
from soc.event import RawRecord

_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")
_INT_TYPES = frozenset({"count", "int", "port", "counter"})
_FLOAT_TYPES = frozenset({"time", "double", "interval"})
DEFAULT_SEPARATORS = {"separator": "\t", "set_separator": ",", "empty_field": "(empty)", "unset_field": "-"}


class TsvError(ValueError):
    """A TSV line that does not fit its header; ``field`` names the column."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


def _unescape(text: str) -> str:
    return _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text) if "\\x" in text else text


def _scalar(text: str, kind: str, name: str) -> Any:
    if kind in _INT_TYPES:
        try:
            return int(text)
        except ValueError:
            raise TsvError(f"column {name!r} of type {kind} holds {text[:40]!r}", name) from None
    if kind in _FLOAT_TYPES:
        try:
            return float(text)
        except ValueError:
            raise TsvError(f"column {name!r} of type {kind} holds {text[:40]!r}", name) from None
    if kind == "bool":
        if text in ("T", "F"):
            return text == "T"
        raise TsvError(f"column {name!r} of type bool holds {text[:40]!r}", name)
    return _unescape(text)


def decode_line(
    line: str, fields: Sequence[str], types: Sequence[str], separators: dict[str, str] | None = None
) -> dict[str, Any]:
    """One TSV data line as ``{field: typed value}``; unset (``-``) columns are left out.

    Raises :class:`TsvError` when the column count or a value does not fit the header.
    """
    seps = separators or DEFAULT_SEPARATORS
    values = line.split(seps["separator"])
    if len(values) != len(fields):
        raise TsvError(f"{len(values)} columns where the #fields header names {len(fields)}", "fields")
    unset, empty, set_sep = seps["unset_field"], seps["empty_field"], seps["set_separator"]
    out: dict[str, Any] = {}
    for name, kind, text in zip(fields, types, values, strict=False):
        if text == unset:
            continue
        if kind.startswith(("set[", "vector[", "table[")):
            inner = kind[kind.index("[") + 1 : -1]
            out[name] = [] if text == empty else [_scalar(v, inner, name) for v in text.split(set_sep)]
        elif text == empty:
            out[name] = ""
        else:
            out[name] = _scalar(text, kind, name)
    return out


def _header_value(line: str, seps: dict[str, str]) -> tuple[str, str]:
    """``#key<sep>value`` -> (key, value); ``#separator`` is space separated."""
    if line.startswith("#separator"):
        return "separator", _unescape(line[len("#separator") :].strip())
    key, _, value = line[1:].partition(seps["separator"])
    return key, value


def read_zeek_tsv(path: str | os.PathLike[str]) -> Iterator[RawRecord]:
    """Every data line of a Zeek TSV log as a raw record whose ``meta`` carries the header.

    ``position`` is the byte offset of the line start. Header lines (``#...``) are not
    emitted; a header repeated mid-file (Zeek appends after a restart) replaces the
    previous one for the lines that follow. Lines before any ``#fields`` header are
    emitted without ``zeek_fields`` (the parser then rejects them with a clear reason).
    """
    abs_path = os.path.abspath(path)
    source = f"file:{abs_path}"
    seps = dict(DEFAULT_SEPARATORS)
    header: dict[str, Any] = {}
    base_log = zeek_log_from_path(abs_path)
    splitter = LineSplitter(0, 1 << 20)
    with open(abs_path, "rb", buffering=0) as fh:
        while True:
            data = fh.read(CHUNK_BYTES)
            lines = splitter.feed(data) if data else splitter.flush()
            now = datetime.now(UTC)
            for off, raw, _ in lines:
                if raw.startswith(b"#"):
                    key, value = _header_value(raw.decode("utf-8", "replace"), seps)
                    if key in seps:
                        seps[key] = value
                    elif key == "path":
                        header["zeek_log"] = value
                    elif key == "fields":
                        header["zeek_fields"] = value.split(seps["separator"])
                    elif key == "types":
                        header["zeek_types"] = value.split(seps["separator"])
                    continue
                meta: dict[str, Any] = {
                    "input": "file",
                    "path": abs_path,
                    "format": "zeek",
                    "zeek_log": header.get("zeek_log", base_log),
                    "zeek_separators": dict(seps),
                }
                if "zeek_fields" in header:
                    meta["zeek_fields"] = header["zeek_fields"]
                    meta["zeek_types"] = header.get("zeek_types", ["string"] * len(header["zeek_fields"]))
                yield RawRecord(raw=raw, source=source, position=off, received=now, meta=meta)
            if not data:
                return


KNOWN_LOGS = frozenset(
    {
        "conn", "connection", "dns", "http", "ssl", "files", "notice", "x509", "ssh", "smb_files",
        "smb_mapping", "smb_cmd", "dce_rpc", "kerberos", "weird", "dpd", "intel", "ntlm", "rdp", "pe",
        "analyzer", "packet_filter", "sip", "smtp", "snmp", "socks", "ftp", "irc", "modbus", "mysql",
        "radius", "rfb", "signatures", "software", "syslog", "tunnel", "dhcp", "dnp3", "capture_loss",
        "stats", "traceroute", "known_hosts", "known_services", "known_certs", "ocsp", "loaded_scripts",
        "reporter", "ntp", "quic", "ldap", "ldap_search",
    }
)  # fmt: skip


def zeek_log_from_path(path: str) -> str | None:
    """The Zeek log name a file name suggests: ``conn.log``, ``UTICA-A_dce_rpc.log``,
    ``conn.09:00:00-10:00:00.log``, ``http-json.log`` -> ``conn``, ``dce_rpc``, ``conn``, ``http``;
    ``None`` when it names no known log."""
    name = os.path.basename(path).split(".", 1)[0].lower()
    if name.endswith("-json"):
        name = name[:-5]
    best = None
    for log in KNOWN_LOGS:
        if (name == log or name.endswith(("_" + log, "-" + log))) and (best is None or len(log) > len(best)):
            best = log
    return best
