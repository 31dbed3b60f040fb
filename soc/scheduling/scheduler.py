"""RuleScheduler: runs :class:`~detectors.base.ScheduledRule` objects over the store, window
by window, on APScheduler 3.x.

Each rule is one interval job (``run_every``) on a ``BackgroundScheduler`` whose thread pool
has ``max_workers`` threads; jobs coalesce and never run twice at once, so a slow rule makes
its later fires merge into one run, which then evaluates every window due by then. A run:

1. plans the due windows (:func:`~soc.scheduling.windows.plan_windows`) after the last
   committed one; windows beyond the catch-up horizon are recorded as ``skipped`` (with the
   reason) and raise ``soc.engine.windows_skipped``;
2. evaluates them in order; each success records its run, the rule's new position and its
   ``snapshot()`` in one state-store transaction (:class:`~soc.scheduling.runlog.RunLog`),
   after its matches became alerts through the engine's alert sink;
3. stops at the first failure (a ``StoreError`` or any error of the rule), records it as an
   ``error`` run, puts the rule's state back to the last committed snapshot, and leaves the
   window to the next run: a window is retried until it succeeds, never skipped silently.

The clock is injectable (``now``); :meth:`RuleScheduler.run_rule` and
:meth:`RuleScheduler.run_all` run synchronously, which is how tests and the benchmark drive it.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from detectors.base import Match, ScheduledRule
from soc.event import utcnow
from soc.metrics import Metrics
from soc.scheduling.runlog import RunLog, RunRecord
from soc.scheduling.selfmonitor import AlertSink, SelfMonitor
from soc.scheduling.windows import Window, plan_windows
from soc.state import StateStore
from soc.store.base import StoreError

log = logging.getLogger(__name__)

class _DropBusyFires(logging.Filter):
    """APScheduler warns at every fire dropped because the rule still runs; those are counted
    (``missed_fires``) and harmless (the next run evaluates every due window), so not logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in record.getMessage()


_APS_LOG = logging.getLogger("soc.scheduling.apscheduler")
_APS_LOG.addFilter(_DropBusyFires())

RuleProvider = Callable[[Any], Sequence[ScheduledRule]]
"""Gives scheduled rules for a store (Sigma query rules, log-source health, stateful rules);
called at start and again every ``refresh_every`` to pick up new ones (new devices)."""


class SchedulerError(Exception):
    """A scheduled rule cannot be added (bad timing, duplicate id); names the rule."""


@dataclass(slots=True)
class RunSummary:
    """What one run of one rule did."""

    rule_id: str
    windows: list[Window] = field(default_factory=list)
    hits: int = 0
    alerts: int = 0
    error: str | None = None
    skipped: Window | None = None


@dataclass(slots=True)
class _Entry:
    rule: ScheduledRule
    lock: threading.Lock
    window_end: datetime | None
    committed_state: dict[str, Any]
    consecutive_failures: int


def _check_timing(rule: ScheduledRule) -> None:
    rid = getattr(getattr(rule, "rule", None), "id", None) or repr(rule)
    for name in ("run_every", "buffer_time", "query_delay"):
        value = getattr(rule, name, None)
        if not isinstance(value, timedelta):
            raise SchedulerError(f"scheduled rule {rid}: {name} must be a timedelta, got {value!r}")
    if rule.run_every <= timedelta(0) or rule.buffer_time <= timedelta(0):
        raise SchedulerError(f"scheduled rule {rid}: run_every and buffer_time must be positive")
    if rule.query_delay < timedelta(0):
        raise SchedulerError(f"scheduled rule {rid}: query_delay must not be negative")


class RuleScheduler:
    """Scheduled rules over ``store``, their runs and state in ``state``.

    ``sink`` turns matches into alerts (the engine passes its ``_record_matches``);
    ``monitor`` is the dead-man's switch (engine alerts); ``providers`` are asked for rules
    at :meth:`start` and every ``refresh_every``.
    """

    def __init__(
        self,
        store: Any,
        state: StateStore,
        sink: AlertSink,
        *,
        max_workers: int = 4,
        catchup_horizon: timedelta = timedelta(days=1),
        max_windows_per_run: int = 1000,
        history: timedelta = timedelta(days=7),
        metrics: Metrics | None = None,
        monitor: SelfMonitor | None = None,
        probe_every: timedelta = timedelta(seconds=30),
        providers: Sequence[RuleProvider] = (),
        refresh_every: timedelta = timedelta(hours=1),
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers}")
        if catchup_horizon <= timedelta(0):
            raise ValueError(f"catchup_horizon must be positive, got {catchup_horizon}")
        self.store = store
        self.runlog = RunLog(state)
        self.sink = sink
        self.max_workers = max_workers
        self.catchup_horizon = catchup_horizon
        self.max_windows_per_run = max_windows_per_run
        self.history = history
        self.metrics = metrics
        self.monitor = monitor
        self.probe_every = probe_every
        self.providers = list(providers)
        self.refresh_every = refresh_every
        self.now = now
        self.missed_fires = 0
        """Fires APScheduler dropped because the rule's previous run was still going (the
        next run evaluates every window due by then, so no window is lost)."""
        self._entries: dict[str, _Entry] = {}
        self._entries_lock = threading.Lock()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._aps: BackgroundScheduler | None = None
        if metrics is not None:
            metrics.gauge_dict(
                "rule_lag_seconds",
                "Seconds between now and the end of the last window a scheduled rule evaluated.",
                "rule",
                self.lags,
            )

    # rules ----------------------------------------------------------------------------------

    @property
    def rules(self) -> list[ScheduledRule]:
        with self._entries_lock:
            return [e.rule for e in self._entries.values()]

    def add(self, rules: Iterable[ScheduledRule]) -> list[str]:
        """Register rules (restoring each one's committed state) and, when running, schedule
        them. Rules whose id is already scheduled are left alone. Returns the ids added."""
        added = []
        for rule in rules:
            _check_timing(rule)
            rid = rule.rule.id
            with self._entries_lock:
                if rid in self._entries:
                    continue
            resume = self.runlog.register(rule.rule, rule.run_every, rule.buffer_time, rule.query_delay)
            if resume.state is not None:
                rule.restore(resume.state)
            entry = _Entry(rule, threading.Lock(), resume.window_end, rule.snapshot(),
                           resume.consecutive_failures)
            with self._entries_lock:
                if rid in self._entries:
                    continue
                self._entries[rid] = entry
            added.append(rid)
            if self._aps is not None:
                self._schedule(entry)
        return added

    def refresh(self) -> list[str]:
        """Ask every provider for rules again and add the new ones."""
        added: list[str] = []
        for provider in self.providers:
            try:
                rules = list(provider(self.store))
            except Exception:
                log.exception("scheduled rule provider %r failed; its rules are not (re)loaded", provider)
                continue
            for rule in rules:  # one bad rule does not keep the others out
                try:
                    added += self.add([rule])
                except SchedulerError as exc:
                    log.error("%s; not scheduled", exc)
        if added:
            log.info("scheduler: %d new scheduled rules", len(added))
        return added

    # running --------------------------------------------------------------------------------

    def run_rule(self, rule_id: str) -> RunSummary:
        """Evaluate every window of the rule due now, in order (synchronously)."""
        with self._entries_lock:
            entry = self._entries.get(rule_id)
        if entry is None:
            raise KeyError(f"no scheduled rule {rule_id!r}")
        with entry.lock:
            return self._run(entry)

    def run_all(self) -> list[RunSummary]:
        """One run of every rule, in id order (synchronously)."""
        with self._entries_lock:
            ids = sorted(self._entries)
        return [self.run_rule(rid) for rid in ids]

    def _run(self, entry: _Entry) -> RunSummary:
        rule = entry.rule
        info = rule.rule
        summary = RunSummary(info.id)
        now = self.now()
        plan = plan_windows(
            entry.window_end,
            now,
            length=rule.buffer_time,
            delay=rule.query_delay,
            horizon=self.catchup_horizon,
            limit=self.max_windows_per_run,
        )
        if plan.skipped is not None:
            self._skip(entry, plan.skipped, now)
            summary.skipped = plan.skipped
        for window in plan.windows:
            if self._stopping.is_set():
                break
            started = self.now()
            t0 = time.perf_counter()
            try:
                matches = rule.evaluate(self.store, window.start, window.end)
                alerts = self.sink(matches) if matches else 0
            except Exception as exc:
                self._failed(entry, window, started, time.perf_counter() - t0, exc)
                summary.error = f"{type(exc).__name__}: {exc}"
                break
            duration = time.perf_counter() - t0
            state = rule.snapshot()
            run = RunRecord(info.id, window.start, window.end, started, duration * 1000, len(matches),
                            alerts, "ok")
            self.runlog.commit(run, state)
            entry.window_end = window.end
            entry.committed_state = state
            entry.consecutive_failures = 0
            summary.windows.append(window)
            summary.hits += len(matches)
            summary.alerts += alerts
            if self.monitor is not None:
                self.monitor.store_ok()
            self._count(info.id, "ok", duration, len(matches), alerts)
        return summary

    def _failed(self, entry: _Entry, window: Window, started: datetime, duration: float,
                exc: Exception) -> None:
        info = entry.rule.rule
        message = f"{type(exc).__name__}: {exc}"[:2000]
        log.warning("scheduled rule %s failed on [%s, %s): %s; retried next run",
                    info.id, window.start, window.end, message)
        try:
            entry.rule.restore(entry.committed_state)  # back to the last committed window
        except Exception:
            log.exception("scheduled rule %s: restoring its committed state failed", info.id)
        run = RunRecord(info.id, window.start, window.end, started, duration * 1000, 0, 0, "error", message)
        try:
            entry.consecutive_failures = self.runlog.fail(run)
        except Exception:
            entry.consecutive_failures += 1
            log.exception("scheduled rule %s: recording the failed run failed", info.id)
        self._count(info.id, "error", duration, 0, 0)
        if self.monitor is not None:
            now = self.now()
            if isinstance(exc, StoreError):
                self.monitor.store_failed(now, exc)
            self.monitor.rule_failed(info, entry.consecutive_failures, message, now)

    def _skip(self, entry: _Entry, span: Window, now: datetime) -> None:
        info = entry.rule.rule
        reason = (
            f"windows [{span.start.isoformat()}, {span.end.isoformat()}) are older than the catch-up "
            f"horizon ({self.catchup_horizon}) at {now.isoformat()}"
        )
        log.error("scheduled rule %s: %s; recorded as skipped", info.id, reason)
        self.runlog.skip(RunRecord(info.id, span.start, span.end, now, 0.0, 0, 0, "skipped", reason))
        entry.window_end = span.end
        self._count(info.id, "skipped", None, 0, 0)
        if self.monitor is not None:
            self.monitor.windows_skipped(info, span.start, span.end, reason, now)

    def _count(self, rule_id: str, status: str, duration: float | None, hits: int, alerts: int) -> None:
        m = self.metrics
        if m is None:
            return
        m.rule_runs.labels(rule=rule_id, status=status).inc()
        if duration is not None:
            m.rule_run_seconds.labels(rule=rule_id).observe(duration)
        if status == "error":
            m.rule_errors.labels(rule=rule_id).inc()
        if hits:
            m.rule_hits.labels(rule=rule_id).inc(hits)
        if alerts:
            m.rule_alerts.labels(rule=rule_id).inc(alerts)

    def lags(self) -> dict[str, float]:
        """Seconds from the end of each rule's last evaluated window to now."""
        now = self.now()
        with self._entries_lock:
            entries = list(self._entries.values())
        return {
            e.rule.rule.id: (now - e.window_end).total_seconds() for e in entries if e.window_end is not None
        }

    def health(self) -> dict[str, Any]:
        """Facts for ``/healthz``: rules, those failing, the worst lag, dropped fires, and
        since when the store is down (when it is)."""
        with self._entries_lock:
            entries = list(self._entries.values())
        lags = self.lags()
        down = self.monitor.store_down_since if self.monitor is not None else None
        return {
            "rules": len(entries),
            "failing": sorted(e.rule.rule.id for e in entries if e.consecutive_failures),
            "max_lag_s": round(max(lags.values(), default=0.0), 3),
            "missed_fires": self.missed_fires,
            "store_down_since": down.isoformat() if down else None,
        }

    # APScheduler ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start firing every rule on its interval. The providers are asked for rules in the
        background right away (finding devices in a large store takes a while; the engine
        does not wait for it): :meth:`wait_ready` waits for that first round."""
        if self._aps is not None:
            return
        self._stopping.clear()
        self._ready.clear()
        aps = BackgroundScheduler(
            logger=_APS_LOG,
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(self.max_workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        aps.add_listener(self._on_missed, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        self._aps = aps
        with self._entries_lock:
            entries = list(self._entries.values())
        for entry in entries:
            self._schedule(entry)
        if self.monitor is not None:
            aps.add_job(self._probe, IntervalTrigger(seconds=self.probe_every.total_seconds()),
                        id="soc.scheduler.probe")
        aps.add_job(self._housekeeping, IntervalTrigger(seconds=self.refresh_every.total_seconds()),
                    id="soc.scheduler.housekeeping", next_run_time=datetime.now(UTC))
        aps.start()
        log.info("scheduler started: %d rules, %d workers", len(entries), self.max_workers)

    def _schedule(self, entry: _Entry) -> None:
        """A resumed rule (with a committed window) runs at once to catch up; a new rule first
        runs one interval from now. Starts are spread over the interval by rule id."""
        assert self._aps is not None
        rule = entry.rule
        every = rule.run_every.total_seconds()
        spread = (zlib.crc32(rule.rule.id.encode()) % 1000) / 1000 * min(every, 10.0)
        delay = spread if entry.window_end is not None else every + spread
        first = datetime.now(UTC) + timedelta(seconds=delay)
        self._aps.add_job(self._job, IntervalTrigger(seconds=every), args=[rule.rule.id],
                          id=rule.rule.id, next_run_time=first, replace_existing=True)

    def _job(self, rule_id: str) -> None:
        try:
            self.run_rule(rule_id)
        except Exception:  # a bug outside evaluate (state store down): logged, retried next fire
            log.exception("scheduled rule %s: run failed", rule_id)

    def _probe(self) -> None:
        if self.monitor is not None:
            self.monitor.probe(self.store, self.now())

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the providers' rules of the first round are added (True when they are)."""
        return self._ready.wait(timeout)

    def _housekeeping(self) -> None:
        self.refresh()
        self._ready.set()
        try:
            self.runlog.prune(self.now() - self.history)
        except Exception:
            log.exception("pruning old scheduled run records failed")

    def _on_missed(self, event: JobExecutionEvent) -> None:
        self.missed_fires += 1

    def stop(self, *, wait: bool = True) -> None:
        """Stop firing; runs in progress finish their current window (``wait``)."""
        self._stopping.set()
        if self._aps is not None:
            self._aps.shutdown(wait=wait)
            self._aps = None

    @property
    def running(self) -> bool:
        return self._aps is not None


def repository_sink(alerts: Any) -> AlertSink:
    """A sink recording matches straight into an :class:`~soc.alerts.AlertRepository` (no
    forwarding or alerts index): for tools and tests that run a scheduler without an engine."""

    def record(matches: Sequence[Match]) -> int:
        return sum(1 for m in matches if alerts.record(m) is not None)

    return record
