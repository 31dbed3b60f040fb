"""What the API is handed by the engine: the stores, metrics, token and hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from soc.access import AccessControl
from soc.alerts import AlertRepository
from soc.event import RawRecord
from soc.metrics import Metrics
from soc.pipeline.deadletter import DeadLetterStore
from soc.store.base import Store


def _version() -> str:
    import soc

    declared = getattr(soc, "__version__", None)
    if isinstance(declared, str):
        return declared
    try:
        return metadata.version("soc-engine")
    except metadata.PackageNotFoundError:
        return "0.0.0"


VERSION = _version()


def _no_health() -> dict[str, Any]:
    return {}


@dataclass
class ApiContext:
    """Everything the routes use; the engine builds one and calls ``create_app``.

    ``ingest`` accepts raw records durably (it may block for backpressure); when it
    is ``None`` (no engine running) the ingest routes answer 503. ``dead_letters`` and
    ``wait_drained`` serve the dead-letter routes (503 without them). ``health`` returns
    engine facts merged into ``/healthz``; a ``"status"`` key there (``"ok"`` or
    ``"degraded"``) sets the reported status. ``token`` is never logged or shown; it
    is the engine's own bearer token (admin). ``access`` holds users, API tokens and
    sessions; without it only the engine's token authenticates.
    """

    store: Store
    alerts: AlertRepository
    metrics: Metrics
    token: str = field(repr=False)
    ingest: Callable[[list[RawRecord]], None] | None = None
    health: Callable[[], dict[str, Any]] = _no_health
    dead_letters: DeadLetterStore | None = None
    wait_drained: Callable[[float], bool] | None = None
    sigma_rule_paths: list[Any] | None = None
    sigma_config: dict[str, Any] | None = None
    inventory: Any = None
    """The engine's asset inventory (:class:`soc.assets.Inventory`); without it the asset
    routes serve the assets imported into the state store."""
    metrics_public: bool = True
    state: Any = None
    """The state store (forwarding approvals and their audit entries); 503 without it."""
    notifications: Any = None
    """The notification service (``/api/v1/notifications``); 503 without it."""
    max_ingest_bytes: int = 8 * 1024 * 1024
    ingest_chunk_records: int = 1000
    access: AccessControl | None = None

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("ApiContext.token must be a non-empty secret")
