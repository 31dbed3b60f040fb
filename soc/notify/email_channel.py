"""E-mail notifications over SMTP, with STARTTLS required by default.

``security: starttls`` refuses a server that does not offer STARTTLS (nothing is sent
in clear text); ``tls`` is SMTPS (implicit TLS, port 465); ``none`` is only for a
relay on the same machine. Certificates are verified (``ca_file`` adds a CA). Each
message is ``multipart/alternative``: the text body and the HTML body.

Outcomes: 4xx SMTP replies, timeouts and connection errors are retryable; 5xx replies
(a refused recipient, failed authentication) and a missing STARTTLS are not.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from soc.forwarding import DeliveryError
from soc.notify.content import Message

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """The SMTP server. ``password`` is hidden from ``repr``."""

    host: str
    port: int
    from_address: str
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout_s: float = 15.0

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ValueError(f"email security {self.security!r} is not starttls, tls or none")
        if self.username and not self.password:
            raise ValueError(f"email: user {self.username!r} has no password (password_env or password_file)")


class EmailChannel:
    """Sends :class:`Message` objects to e-mail addresses."""

    name = "email"

    def __init__(self, settings: EmailSettings) -> None:
        self.settings = settings
        if settings.security == "none":
            log.warning("email notifications to %s:%d are sent without TLS", settings.host, settings.port)

    def __repr__(self) -> str:
        return f"EmailChannel(host={self.settings.host!r}, port={self.settings.port})"

    def knows(self, recipient: str) -> bool:
        return "@" in recipient

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def build(self, recipient: str, message: Message, *, notification_id: str = "") -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self.settings.from_address
        msg["To"] = recipient
        msg["Subject"] = message.subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain=self.settings.from_address.rpartition("@")[2] or None)
        if notification_id:
            msg["X-SOC-Notification-Id"] = notification_id
        alert = message.payload.get("alert") or {}
        if alert.get("id"):
            msg["X-SOC-Alert-Id"] = str(alert["id"])
        msg.set_content(message.text)
        if message.html:
            msg.add_alternative(message.html, subtype="html")
        return msg

    def send(self, recipient: str, message: Message, *, notification_id: str = "") -> None:
        """Deliver once; raises :class:`DeliveryError`."""
        s = self.settings
        msg = self.build(recipient, message, notification_id=notification_id)
        try:
            if s.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=s.timeout_s, context=self._tls_context()
                )
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
            with smtp:
                smtp.ehlo()
                if s.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise DeliveryError(
                            "starttls_unavailable",
                            f"SMTP server {s.host}:{s.port} does not offer STARTTLS; refusing to send "
                            "in clear text (notifications.email.security: starttls)",
                            retryable=False,
                        )
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password or "")
                smtp.send_message(msg, to_addrs=[recipient])
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(code, reply, "recipient_refused") from exc
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                "auth", f"SMTP authentication failed ({exc.smtp_code})", retryable=False
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(exc.smtp_code, exc.smtp_error, "smtp") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError("smtp_unsupported", str(exc), retryable=False) from exc
        except ssl.SSLError as exc:
            raise DeliveryError("tls", str(exc), retryable=True) from exc
        except TimeoutError as exc:
            raise DeliveryError("timeout", str(exc) or "timed out", retryable=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError("connection", f"{type(exc).__name__}: {exc}", retryable=True) from exc


def _by_code(code: int, reply: bytes | str, label: str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return DeliveryError(f"{label}_{code}", text[:200], retryable=400 <= code < 500)
