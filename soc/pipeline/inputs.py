"""Build collector inputs from the ``inputs`` section of the config."""

from __future__ import annotations

from collectors.inputs.base import Input
from collectors.inputs.file import FileInput, FileInputConfig
from collectors.inputs.syslog import SyslogInput, SyslogInputConfig
from soc.config import FileInputSettings, SyslogInputSettings


def build_input(settings: SyslogInputSettings | FileInputSettings) -> Input:
    """One configured input (``type: syslog`` or ``type: file``)."""
    if isinstance(settings, SyslogInputSettings):
        return SyslogInput(
            SyslogInputConfig(
                name=settings.name,
                protocol=settings.protocol,
                host=settings.host,
                port=settings.port,
                framing=settings.framing,
                max_message_bytes=settings.max_message_bytes,
                format=settings.format,
                timezone=settings.timezone,
            )
        )
    return FileInput(
        FileInputConfig(
            name=settings.name,
            paths=tuple(settings.paths),
            follow=settings.follow,
            start_at=settings.start_at,
            format=settings.format,
            timezone=settings.timezone,
            multiline=settings.multiline,
            multiline_pattern=settings.multiline_pattern,
            multiline_max_lines=settings.multiline_max_lines,
            multiline_flush_s=settings.multiline_flush_s,
        )
    )
