"""Scheduled evaluation: rules run as queries over the event store, one window at a time.

* :mod:`.windows`: which windows are due (consecutive, half-open, bounded by the horizon).
* :mod:`.runlog`: every run and each rule's position and state, in the state store.
* :mod:`.scheduler`: :class:`RuleScheduler` on APScheduler (catch-up, retries, metrics).
* :mod:`.selfmonitor`: the dead-man's switch, alerts on the engine itself (``soc.engine.*``).
* :mod:`.health`: log-source flatline rules for the configured inputs and their devices.
* :mod:`.status`: per-rule status for ``soc rules status`` and ``GET /api/v1/rules/status``.
* :mod:`.setup`: the scheduler as ``detection.scheduler`` describes it, for the engine.

The rules themselves implement :class:`detectors.base.ScheduledRule` (Sigma query rules in
:mod:`detectors.sigma.query.scheduled`, log-source flatlines in :mod:`detectors.health`).
"""

from soc.scheduling.runlog import RunLog, RunRecord
from soc.scheduling.scheduler import RuleProvider, RuleScheduler, RunSummary, SchedulerError, repository_sink
from soc.scheduling.selfmonitor import SelfMonitor
from soc.scheduling.windows import Plan, Window, plan_windows

__all__ = [
    "Plan",
    "RuleProvider",
    "RuleScheduler",
    "RunLog",
    "RunRecord",
    "RunSummary",
    "SchedulerError",
    "SelfMonitor",
    "Window",
    "plan_windows",
    "repository_sink",
]
