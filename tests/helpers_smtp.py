"""A real SMTP server for the notification tests: aiosmtpd on 127.0.0.1, with STARTTLS
(a certificate from ``tests/helpers_tls.py``), optional AUTH, and scripted replies."""

from __future__ import annotations

import email
import email.policy
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers_api import free_port
from tests.helpers_tls import Pki


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated_as: str | None


@dataclass
class SmtpHandler:
    script: list[str] = field(default_factory=list)
    """Replies to DATA in turn (e.g. ``"451 4.3.0 try again later"``), then ``250``."""
    received: list[ReceivedMail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.script:
            return self.script.pop(0)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data
        self.received.append(
            ReceivedMail(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message,  # type: ignore[arg-type]
                session.ssl is not None,
                login if session.authenticated else None,
            )
        )
        return "250 OK"


class SmtpServer:
    """``with SmtpServer(pki) as smtp:`` a server on ``smtp.port``; ``pki=None``: no STARTTLS."""

    def __init__(
        self, pki: Pki | None, *, users: dict[str, str] | None = None, script: list[str] | None = None
    ):
        self.handler = SmtpHandler(script=list(script or []))
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if pki is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
            kwargs.update(tls_context=ctx, require_starttls=True)
        if users is not None:

            def authenticator(
                server: Any, session: Any, envelope: Any, mechanism: str, data: Any
            ) -> AuthResult:
                ok = (
                    isinstance(data, LoginPassword)
                    and users.get(data.login.decode()) == data.password.decode()
                )
                return AuthResult(success=ok, auth_data=data.login if ok else None)

            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=pki is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
