"""Build collector inputs from the ``inputs`` section of the config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collectors.inputs.base import Input
from collectors.inputs.file import FileInput, FileInputConfig
from collectors.inputs.http import HttpInput, HttpInputConfig, HttpSourceConfig
from collectors.inputs.netflow import NetflowInput, NetflowInputConfig
from collectors.inputs.pcap import PcapInput, PcapInputConfig
from collectors.inputs.syslog import SyslogInput, SyslogInputConfig
from collectors.inputs.tls import TlsServerConfig
from soc.config import (
    FileInputSettings,
    HttpInputSettings,
    InputSettings,
    NetflowInputSettings,
    PcapInputSettings,
    SyslogInputSettings,
    TlsServerSettings,
)


def _tls(settings: TlsServerSettings | None, resolve: Callable[[str], Path]) -> TlsServerConfig | None:
    if settings is None:
        return None
    return TlsServerConfig(
        cert_file=str(resolve(settings.cert_file)),
        key_file=str(resolve(settings.key_file)),
        ca_file=str(resolve(settings.ca_file)) if settings.ca_file else None,
        require_client_cert=settings.require_client_cert,
        min_version=settings.min_version,
    )


def build_input(settings: InputSettings, resolve: Callable[[str], Path] = Path) -> Input:
    """One configured input, by its ``type``; ``resolve`` turns the config's relative
    file paths (certificates) into absolute ones."""
    if isinstance(settings, HttpInputSettings):
        return HttpInput(
            HttpInputConfig(
                name=settings.name,
                host=settings.host,
                port=settings.port,
                path=settings.path,
                sources=tuple(HttpSourceConfig(s.name, s.token_env, s.format) for s in settings.sources),
                max_body_bytes=settings.max_body_bytes,
                accept_timeout_s=settings.accept_timeout_s,
                tls=_tls(settings.tls, resolve),
            )
        )
    if isinstance(settings, NetflowInputSettings):
        return NetflowInput(NetflowInputConfig(**settings.model_dump(exclude={"type"})))
    if isinstance(settings, PcapInputSettings):
        return PcapInput(PcapInputConfig(**settings.model_dump(exclude={"type"})))
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
                tls=_tls(settings.tls, resolve),
            )
        )
    assert isinstance(settings, FileInputSettings)
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
