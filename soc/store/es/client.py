"""Building the official client from settings, and translating its errors.

Secrets are read from the environment variables the config names (``api_key_env``,
``password_env``), never from the config itself, and never appear in a repr or a log.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import elastic_transport
from elasticsearch import ApiError, Elasticsearch

from soc.store.base import StoreError

RETRY_STATUS = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class ClientSettings:
    """How to reach the cluster (the ``store.elasticsearch`` config section)."""

    hosts: Sequence[str] = ("http://localhost:9200",)
    api_key_env: str | None = None
    username: str | None = None
    password_env: str | None = None
    ca_file: str | None = None
    verify_tls: bool = True
    request_timeout_s: float = 10.0
    max_retries: int = 2
    node_class: Any = field(default=None, repr=False)
    """An ``elastic_transport`` node class (tests: one sending plain ``application/json``)."""


def _secret(env: str, what: str) -> str:
    value = os.environ.get(env)
    if not value:
        raise StoreError(f"elasticsearch: {what} environment variable {env!r} is not set", retryable=False)
    return value


def build_client(s: ClientSettings) -> Elasticsearch:
    if not s.hosts:
        raise ValueError("elasticsearch: hosts must name at least one URL")
    for host in s.hosts:
        if not str(host).startswith(("http://", "https://")):
            raise ValueError(f"elasticsearch: host {host!r} must start with http:// or https://")
    if s.ca_file is not None and not os.path.isfile(s.ca_file):
        raise ValueError(f"elasticsearch: ca_file {s.ca_file!r} does not exist")
    kwargs: dict[str, Any] = {
        "request_timeout": s.request_timeout_s,
        "max_retries": s.max_retries,
        "retry_on_status": RETRY_STATUS,
        "retry_on_timeout": True,
        "verify_certs": s.verify_tls,
    }
    if s.ca_file:
        kwargs["ca_certs"] = s.ca_file
    if not s.verify_tls:
        kwargs["ssl_show_warn"] = False
    if s.api_key_env:
        kwargs["api_key"] = _secret(s.api_key_env, "api_key_env")
    elif s.username:
        if not s.password_env:
            raise ValueError("elasticsearch: username needs password_env (the variable holding the password)")
        kwargs["basic_auth"] = (s.username, _secret(s.password_env, "password_env"))
    if s.node_class is not None:
        kwargs["node_class"] = s.node_class
    return Elasticsearch(list(s.hosts), **kwargs)


def translate(exc: Exception, doing: str) -> StoreError:
    """A :class:`StoreError` for a client error: retryable for outages, timeouts,
    429 and 5xx (and auth errors, which an operator fixes while the spool waits);
    not retryable for a request the server refuses as malformed (400, 413)."""
    if isinstance(exc, ApiError):
        status = exc.meta.status
        reason = _reason(exc.body) or str(exc.message)
        return StoreError(
            f"elasticsearch: {doing} failed: HTTP {status} {reason}"[:2000],
            retryable=status not in (400, 404, 413),
        )
    if isinstance(exc, elastic_transport.TransportError):
        return StoreError(
            f"elasticsearch: {doing} failed: cluster unreachable ({exc.message})", retryable=True
        )
    return StoreError(f"elasticsearch: {doing} failed: {exc}", retryable=True)


def _reason(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return item_reason(err)
        return str(err)
    return "" if body is None else str(body)[:500]


def item_reason(error: Any) -> str:
    """``type: reason (caused by ...)`` of a bulk item or response error."""
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return text
