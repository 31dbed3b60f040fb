"""The engine's notification service from ``soc.config.NotificationsConfig``."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from soc.metrics import Metrics
from soc.notify.content import MessageBuilder
from soc.notify.email_channel import EmailChannel, EmailSettings
from soc.notify.metrics import NotificationMetrics
from soc.notify.queue import NotificationQueue
from soc.notify.ratelimit import RateLimiter
from soc.notify.secrets import read_secret
from soc.notify.templates import TemplateRenderer
from soc.notify.webhook_channel import WebhookChannel, WebhookSettings
from soc.notify.worker import NotificationChannel, NotificationService
from soc.state import StateStore


def build_channels(
    settings: Any, *, environ: Mapping[str, str] | None = None, resolve: Callable[[str], Path] = Path
) -> dict[str, NotificationChannel]:
    """The configured channels (secrets read from their env variables or files)."""
    channels: dict[str, NotificationChannel] = {}
    mail = settings.email
    if mail.enabled:
        password = None
        if mail.username:
            password = read_secret(
                "notifications.email", env_name=mail.password_env, file_path=mail.password_file,
                environ=environ, resolve=resolve,
            )  # fmt: skip
        channels["email"] = EmailChannel(
            EmailSettings(
                host=mail.host,
                port=mail.port,
                from_address=mail.from_address,
                security=mail.security,
                username=mail.username,
                password=password,
                ca_file=str(resolve(mail.ca_file)) if mail.ca_file else None,
                timeout_s=mail.timeout_s,
            )
        )
    if settings.webhooks:
        hooks = []
        for hook in settings.webhooks:
            secret = read_secret(
                f"notifications.webhooks[{hook.name}]", env_name=hook.secret_env, file_path=hook.secret_file,
                environ=environ, resolve=resolve,
            )  # fmt: skip
            hooks.append(
                WebhookSettings(
                    name=hook.name,
                    url=hook.url,
                    secret=(secret or "").encode(),
                    ca_file=str(resolve(hook.ca_file)) if hook.ca_file else None,
                    verify_tls=hook.verify_tls,
                    timeout_s=hook.timeout_s,
                )
            )
        channels["webhook"] = WebhookChannel(hooks)
    return channels


def build_notifications(
    soc_settings: Any,
    state: StateStore,
    metrics: Metrics,
    *,
    resolve: Callable[[str], Path] = Path,
    environ: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> NotificationService | None:
    """The notification service of a ``soc.config.SocConfig`` (``None`` when off)."""
    n = soc_settings.notifications
    if not n.enabled:
        return None
    templates = n.templates.model_dump()
    renderer = TemplateRenderer({k: str(resolve(v)) for k, v in templates.items() if v})
    builder = MessageBuilder(
        renderer, zone=n.timezone or soc_settings.timezone, soc_name=soc_settings.forwarding.reporter.name
    )
    return NotificationService(
        NotificationQueue(state, dedup_window=timedelta(minutes=n.dedup_window_minutes)),
        build_channels(n, environ=environ, resolve=resolve),
        builder,
        NotificationMetrics(metrics),
        limiter=RateLimiter(
            (n.channel_rate.per_minute, n.channel_rate.burst),
            (n.recipient_rate.per_minute, n.recipient_rate.burst),
        ),
        max_attempts=n.max_attempts,
        base_backoff_s=n.base_backoff_s,
        max_backoff_s=n.max_backoff_s,
        max_digest_items=n.max_digest_items,
        rng=rng,
    )
