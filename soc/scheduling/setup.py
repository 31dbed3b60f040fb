"""The scheduler as the config describes it (``detection.scheduler``), for the engine.

:func:`build_scheduler` makes the :class:`RuleScheduler` with its dead-man's switch and
the default rule providers: the Sigma rules run as scheduled queries
(``detection.sigma.mode: scheduled`` and ``detection.sigma.scheduled_paths``) and the
log-source health rules. More providers (the stateful rule types) are passed in
``providers``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from soc.config import LoadedConfig
from soc.metrics import Metrics
from soc.scheduling.health import log_source_provider
from soc.scheduling.scheduler import RuleProvider, RuleScheduler
from soc.scheduling.selfmonitor import AlertSink, SelfMonitor
from soc.state import StateStore

log = logging.getLogger(__name__)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def sigma_provider(config: LoadedConfig, sigma_config: Callable[[], dict[str, Any]]) -> RuleProvider | None:
    """The Sigma rules to run as scheduled queries, or None when there are none."""
    settings = config.settings
    sigma = settings.detection.sigma
    paths = list(sigma.scheduled_paths) + (list(sigma.paths) if sigma.mode == "scheduled" else [])
    if not sigma.enabled or not paths:
        return None
    sched = settings.detection.scheduler
    loaded: dict[str, Any] = {}

    def provide(store: Any) -> Sequence[Any]:
        if "rules" in loaded:  # loaded once; rule files are not re-read by the refresh
            return loaded["rules"]
        from detectors.sigma.query.scheduled import load_scheduled_sigma

        rules, errors = load_scheduled_sigma(
            [config.resolve(p) for p in paths],
            sigma_config(),
            store,
            run_every=_seconds(sched.run_every_s),
            buffer_time=_seconds(sched.buffer_time_s),
            query_delay=_seconds(sched.query_delay_s),
        )
        for error in errors:
            log.warning("scheduled sigma rule not loaded: %s", error)
        log.info("scheduled sigma: %d rules, %d not loaded", len(rules), len(errors))
        loaded["rules"] = rules
        return rules

    return provide


def build_scheduler(
    config: LoadedConfig,
    store: Any,
    state: StateStore,
    sink: AlertSink,
    *,
    metrics: Metrics | None = None,
    sigma_config: Callable[[], dict[str, Any]],
    providers: Sequence[RuleProvider] = (),
) -> RuleScheduler:
    """The scheduler of ``detection.scheduler`` with its default and extra rule providers."""
    settings = config.settings
    sched = settings.detection.scheduler
    watch = sched.self_monitor
    monitor = (
        SelfMonitor(
            sink,
            store_unreachable_after=_seconds(watch.store_unreachable_after_s),
            rule_failures=watch.rule_failures,
        )
        if watch.enabled
        else None
    )
    defaults: list[RuleProvider] = []
    if (sigma := sigma_provider(config, sigma_config)) is not None:
        defaults.append(sigma)
    if sched.log_source_health.enabled and settings.inputs:
        defaults.append(
            log_source_provider(
                settings.inputs,
                sched.log_source_health,
                agencies=settings.agencies,
                query_delay=_seconds(sched.query_delay_s),
            )
        )
    return RuleScheduler(
        store,
        state,
        sink,
        max_workers=sched.max_workers,
        catchup_horizon=_seconds(sched.catchup_horizon_s),
        max_windows_per_run=sched.max_windows_per_run,
        history=timedelta(days=sched.history_days),
        metrics=metrics,
        monitor=monitor,
        probe_every=_seconds(watch.probe_every_s),
        providers=[*defaults, *providers],
    )
