"""Server-side TLS for network inputs: one context builder shared by syslog and HTTP.

:func:`server_context` turns a :class:`TlsServerConfig` into an ``ssl.SSLContext``
with TLS 1.2 as the floor, the server certificate and key loaded, and, when a
``ca_file`` is given, client certificates verified against it (required with
``require_client_cert``, otherwise optional). Every problem with a file is a
:class:`TlsConfigError` naming the config key (``tls.cert_file``) and the file.
Private key contents are never put in a message.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TlsConfigError(ValueError):
    """A TLS setting that cannot be used: names the input, the key and the file."""


@dataclass(frozen=True)
class TlsServerConfig:
    """TLS of a listener.

    ``cert_file``: PEM server certificate (with its chain); ``key_file``: its PEM
    private key; ``ca_file``: PEM CA bundle that client certificates must chain to;
    ``require_client_cert``: refuse clients without a valid certificate (needs
    ``ca_file``); ``min_version``: ``"1.2"`` (default) or ``"1.3"``.
    """

    cert_file: str
    key_file: str
    ca_file: str | None = None
    require_client_cert: bool = False
    min_version: str = "1.2"


_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def _check_file(owner: str, key: str, path: str | None) -> Path:
    if not path:
        raise TlsConfigError(f"{owner}: tls.{key} is required")
    file = Path(path)
    if not file.is_file():
        raise TlsConfigError(f"{owner}: tls.{key}: no such file {file}")
    try:
        with open(file, "rb"):
            pass
    except OSError as exc:
        raise TlsConfigError(f"{owner}: tls.{key}: cannot read {file}: {exc.strerror}") from exc
    return file


def server_context(config: TlsServerConfig, owner: str = "input") -> ssl.SSLContext:
    """A server ``SSLContext`` for ``config``; ``owner`` (``syslog input 'x'``) starts
    every error message."""
    if config.min_version not in _VERSIONS:
        raise TlsConfigError(f"{owner}: tls.min_version must be '1.2' or '1.3', got {config.min_version!r}")
    if config.require_client_cert and not config.ca_file:
        raise TlsConfigError(f"{owner}: tls.require_client_cert needs tls.ca_file (the CA of the clients)")
    cert = _check_file(owner, "cert_file", config.cert_file)
    key = _check_file(owner, "key_file", config.key_file)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[config.min_version]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    # No TLS 1.3 session tickets: a sender that writes and closes without reading
    # (loggen, many agents) would leave them unread, its kernel would answer with an
    # RST, and ours would discard the records still in the receive buffer.
    ctx.num_tickets = 0
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise TlsConfigError(
            f"{owner}: tls.cert_file {cert} / tls.key_file {key}: not a PEM certificate and its "
            f"matching private key ({exc.reason or exc})"
        ) from exc
    if config.ca_file:
        ca = _check_file(owner, "ca_file", config.ca_file)
        try:
            ctx.load_verify_locations(cafile=str(ca))
        except ssl.SSLError as exc:
            raise TlsConfigError(
                f"{owner}: tls.ca_file {ca}: no PEM CA certificate in it ({exc.reason or exc})"
            ) from exc
        ctx.verify_mode = ssl.CERT_REQUIRED if config.require_client_cert else ssl.CERT_OPTIONAL
    return ctx


def peer_common_name(peercert: dict[str, Any] | None) -> str | None:
    """The subject CN of a verified peer certificate (``SSLSocket.getpeercert()``)."""
    if not peercert:
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
