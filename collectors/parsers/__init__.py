"""The parser registry: one name -> class dict, a constructor and format detection.

Parsers are constructed with keyword options (``timezone``: the zone for timestamps
without one, default ``Asia/Ho_Chi_Minh``); a record's ``meta["timezone"]``
overrides it per record.
"""

from __future__ import annotations

from typing import Any

from collectors.parsers.auditd import AuditdParser
from collectors.parsers.base import ParseError, Parser
from collectors.parsers.cef import CefParser
from collectors.parsers.checkpoint import CheckpointParser
from collectors.parsers.cisco_asa import CiscoAsaParser
from collectors.parsers.fortigate import FortigateParser
from collectors.parsers.iptables import IptablesParser
from collectors.parsers.leef import LeefParser
from collectors.parsers.linux_auth import LinuxAuthParser
from collectors.parsers.netflow import NetflowParser
from collectors.parsers.packet import PacketParser
from collectors.parsers.panos import PanosParser
from collectors.parsers.pfsense import PfsenseParser
from collectors.parsers.suricata import SuricataParser
from collectors.parsers.syslog import SyslogParser
from collectors.parsers.weblog import WebAccessParser
from collectors.parsers.windows import WindowsParser
from collectors.parsers.zeek import ZeekParser

PARSERS: dict[str, type] = {
    "netflow": NetflowParser,
    "packet": PacketParser,
    "windows": WindowsParser,
    "suricata": SuricataParser,
    "zeek": ZeekParser,
    "cef": CefParser,
    "leef": LeefParser,
    "checkpoint": CheckpointParser,
    "cisco_asa": CiscoAsaParser,
    "fortigate": FortigateParser,
    "panos": PanosParser,
    "pfsense": PfsenseParser,
    "iptables": IptablesParser,
    "auditd": AuditdParser,
    "linux_auth": LinuxAuthParser,
    "weblog": WebAccessParser,
    "syslog": SyslogParser,
}
"""Parser classes by registry name, most specific first (the order of detection)."""

_DETECTORS: list[Parser] = []
_DETECTOR_NAMES: list[str] = []

__all__ = ["PARSERS", "ParseError", "Parser", "detect_format", "get_parser"]


def get_parser(name: str, **options: Any) -> Parser:
    """A new parser by name; ``ValueError`` naming the known parsers if unknown."""
    cls = PARSERS.get(name)
    if cls is None:
        known = ", ".join(sorted(PARSERS))
        raise ValueError(f"unknown parser {name!r}: known parsers are {known}")
    return cls(**options)


def detect_format(raw: bytes) -> str | None:
    """The name of the most specific parser whose ``detect(raw)`` is true, or ``None``."""
    if list(PARSERS) != _DETECTOR_NAMES:  # built once, again only if the registry changed
        _DETECTORS[:] = [cls() for cls in PARSERS.values()]
        _DETECTOR_NAMES[:] = list(PARSERS)
    for parser in _DETECTORS:
        if parser.detect(raw):
            return parser.name
    return None
