"""Who makes a change, as the audit log records it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """A person or service changing alerts: ``name``, ``role`` and ``source`` (the client
    address, or ``cli:<host>`` for a command run on the SOC machine)."""

    name: str
    role: str = ""
    source: str = ""
