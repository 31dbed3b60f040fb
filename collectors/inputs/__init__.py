"""Inputs: where raw records come from (``syslog`` network listener, ``file`` tailer)."""

from __future__ import annotations

from collectors.inputs.base import CheckpointStore, Input, InputContext, MemoryCheckpoints
from collectors.inputs.file import FileInput, FileInputConfig, read_records
from collectors.inputs.syslog import SyslogInput, SyslogInputConfig

INPUTS: dict[str, type] = {"file": FileInput, "syslog": SyslogInput}
"""Input classes by config ``type`` name."""

INPUT_CONFIGS: dict[str, type] = {"file": FileInputConfig, "syslog": SyslogInputConfig}

__all__ = [
    "INPUTS",
    "INPUT_CONFIGS",
    "CheckpointStore",
    "FileInput",
    "FileInputConfig",
    "Input",
    "InputContext",
    "MemoryCheckpoints",
    "SyslogInput",
    "SyslogInputConfig",
    "read_records",
]
