"""Log-source health rules for the configured inputs and the devices seen from them.

Every input of the config gets a :class:`~detectors.health.LogSourceSilentRule` over the
events it produced (selected by ``input.type``, and ``log.file.path`` for file inputs), and
every device seen from it in the last ``device_lookback`` (``observer.hostname`` for network
inputs, ``host.name`` for files, from the store's ``count_by``) gets one of its own.
:func:`log_source_provider` gives them to the scheduler, which asks again every hour, so a
new device is watched from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from detectors.health import DeviceCounts, LogSource, LogSourceSilentRule
from soc.config import LogSourceHealthConfig
from soc.event import Event, get_field, utcnow
from soc.pipeline.enrich import AgencyEnricher
from soc.store.base import FieldFilter, Query, StoreError

log = logging.getLogger(__name__)

GLOB_CHARS = "*?["


def source_of(settings: Any) -> LogSource:
    """The events an input produces, as store filters, and the field naming its devices."""
    kind = settings.type
    if kind == "syslog":
        return LogSource(settings.name, (FieldFilter("input.type", "eq", f"syslog-{settings.protocol}"),),
                         "observer.hostname")
    if kind == "file":
        literal = [p for p in settings.paths if not any(c in p for c in GLOB_CHARS)]
        filters = [FieldFilter("input.type", "eq", "file")]
        if len(literal) == len(settings.paths):
            filters.append(FieldFilter("log.file.path", "in", literal))
        elif len(settings.paths) == 1:
            head = settings.paths[0]
            prefix = head[: min(head.index(c) for c in GLOB_CHARS if c in head)]
            filters.append(FieldFilter("log.file.path", "prefix", prefix))
        return LogSource(settings.name, tuple(filters), "host.name")
    if kind == "netflow":  # flows carry the transport as their input type
        return LogSource(settings.name, (FieldFilter("input.type", "eq", "udp"),), "observer.ip")
    return LogSource(settings.name, (FieldFilter("input.type", "eq", kind),), "observer.hostname")


def _with_agency(source: LogSource, enrich: AgencyEnricher) -> LogSource:
    if source.device is None or source.device_field is None:
        return source
    probe: Event = {}
    if source.device_field.endswith(".ip"):
        probe["observer"] = {"ip": source.device}
    else:
        probe["host"] = {"name": source.device}
    enrich(probe)
    return LogSource(source.name, source.filters, source.device_field, source.device,
                     get_field(probe, "organization.id"), get_field(probe, "organization.name"))


def log_source_rules(
    inputs: Sequence[Any],
    store: Any,
    settings: LogSourceHealthConfig,
    *,
    agencies: Sequence[Any] = (),
    query_delay: timedelta = timedelta(seconds=30),
    now: datetime | None = None,
) -> list[LogSourceSilentRule]:
    """One rule per input and (with ``settings.devices``) one per device seen from it."""
    if not settings.enabled:
        return []
    now = now or utcnow()
    enrich = AgencyEnricher(agencies)
    timing = {
        "timeframe": timedelta(seconds=settings.timeframe_s),
        "threshold": settings.threshold,
        "run_every": timedelta(seconds=settings.run_every_s),
        "query_delay": query_delay,
        "evidence_lookback": timedelta(seconds=settings.device_lookback_s),
    }
    rules = []
    for item in inputs:
        source = source_of(item)
        rules.append(LogSourceSilentRule(source, **timing))
        if not settings.devices or source.device_field is None:
            continue
        lookback = timedelta(seconds=settings.device_lookback_s)
        query = Query(filters=source.filters, start=now - lookback, end=now)
        try:
            buckets = store.count_by(query, source.device_field, size=settings.max_devices)
        except StoreError as exc:
            log.warning("log source %s: devices not looked up (%s); retried at the next refresh",
                        source.name, exc)
            continue
        counts = DeviceCounts(size=settings.max_devices)  # one count_by per window for all devices
        for bucket in buckets:
            device = LogSource(source.name, source.filters, source.device_field, str(bucket.key))
            rules.append(LogSourceSilentRule(_with_agency(device, enrich), counts=counts, **timing))
    return rules


def log_source_provider(
    inputs: Sequence[Any],
    settings: LogSourceHealthConfig,
    *,
    agencies: Sequence[Any] = (),
    query_delay: timedelta = timedelta(seconds=30),
    now: Callable[[], datetime] = utcnow,
) -> Callable[[Any], list[LogSourceSilentRule]]:
    """A scheduler rule provider giving :func:`log_source_rules` for the store it is handed."""

    def provide(store: Any) -> list[LogSourceSilentRule]:
        return log_source_rules(
            inputs, store, settings, agencies=agencies, query_delay=query_delay, now=now()
        )

    return provide
