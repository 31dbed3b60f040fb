"""``StatefulDetector``: the streaming detector running the stateful rules (``mode: streaming``).

Every event goes to every rule's :class:`~detectors.stateful.runtime.RuleRuntime`, with
its ``@timestamp`` as the time. ``tick(now)`` gives time-driven matches (flatline, closed
windows, due aggregations) at the detector's event-time clock: the newest ``@timestamp``
observed, advanced by the wall clock since it was observed when the data is live (that
timestamp was within ``live_skew_s`` of the wall clock), so a silent source is noticed
even when nothing else arrives, while replayed old logs are judged on their own time.

State: :meth:`checkpoint` serializes the rules that changed (call it from the thread that
calls ``observe``); the result is written to the state store by ``commit``. At start the
saved state of each rule id is restored; a new ``new_term`` rule without saved state
seeds its baseline from ``store`` over ``terms_window_size``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from detectors.base import Match
from detectors.checkpoint import PendingCheckpoint, RuleStateTable
from detectors.sigma.engine import event_time
from detectors.sigma.fieldmap import FieldMap
from detectors.stateful.loader import iter_rule_files, load_rules
from detectors.stateful.params import RuleError
from detectors.stateful.runtime import DEFAULT_MAX_EVENT_IDS, RuleRuntime, adopt
from detectors.stateful.seed import seed_new_terms
from soc.event import Event, utcnow
from soc.state import StateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReloadReport:
    changed_files: tuple[str, ...]
    removed_files: tuple[str, ...]
    rules: int
    errors: tuple[RuleError, ...]


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


class StatefulDetector:
    """Streaming detector for the stateful rule types."""

    name = "stateful"

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        state: StateStore | None = None,
        store: Any = None,
        fields: FieldMap | None = None,
        max_event_ids: int = DEFAULT_MAX_EVENT_IDS,
        live_skew_s: float = 600.0,
    ) -> None:
        self._paths = [Path(p) for p in paths]
        self._state = state
        self._store = store
        self._fields = fields
        self._max_event_ids = max_event_ids
        self._live_skew = live_skew_s
        self.watermark: datetime | None = None
        self._watermark_wall = 0.0
        self._live = False
        self.reloads = 0
        self.checkpoints = 0
        self.runtimes: dict[str, RuleRuntime] = {}
        self.errors: list[RuleError] = []
        self._load(restore=True)

    # ------------------------------------------------------------------ loading

    def _load(self, *, restore: bool) -> list[RuleError]:
        self._signatures = {str(p): _signature(p) for p in iter_rule_files(self._paths)}
        rules, errors = load_rules(self._paths, self._fields)
        saved: dict[str, dict[str, Any]] = {}
        if restore and self._state is not None:
            saved = RuleStateTable(self._state).load()
        runtimes: dict[str, RuleRuntime] = {}
        for rule in rules:
            if rule.mode != "streaming" or not rule.enabled:
                continue
            runtime = RuleRuntime(rule, max_event_ids=self._max_event_ids)
            old = self.runtimes.get(rule.id)
            if old is not None:
                adopt(runtime, old)  # a reload keeps windows when the type is unchanged
            elif rule.id in saved:
                if not runtime.restore(saved[rule.id]):
                    log.warning("stateful rule %s changed type: its saved state is dropped", rule.id)
            elif rule.type == "new_term" and self._store is not None:
                try:
                    seed_new_terms(runtime, self._store, utcnow())
                except Exception as exc:  # the store may be down; the baseline then starts empty
                    log.warning("new_term rule %s: could not seed its baseline: %s", rule.id, exc)
            runtimes[rule.id] = runtime
        if restore and self._state is not None and not errors:  # rules deleted since: drop their state
            known = {rule.id for rule in rules}
            orphans = [rid for rid in saved if rid not in known and not rid.startswith("sigma-correlation:")]
            if orphans:
                RuleStateTable(self._state).delete(orphans)
                log.info("stateful rules removed since the last run: state of %s dropped", ", ".join(orphans))
        if restore and self.watermark is None:
            marks = [r.watermark for r in runtimes.values() if r.watermark is not None]
            if marks:
                self.watermark = datetime.fromtimestamp(max(marks), UTC)
        self.runtimes = runtimes
        self.errors = list(errors)
        self.rules_failed = len({(e.path, e.rule) for e in errors})
        for error in errors:
            log.warning("stateful rule not loaded: %s", error)
        return errors

    def reload(self) -> ReloadReport:
        """Re-read the rules when a file changed (state carried over by rule id); refresh
        value files of blacklist/whitelist rules. A rule file that fails keeps nothing of
        the failed rule (its errors are reported); the other rules keep running."""
        list_errors: list[RuleError] = []
        for runtime in self.runtimes.values():
            refresh = getattr(runtime.kind, "refresh", None)
            if refresh is not None:
                for msg in refresh():
                    list_errors.append(RuleError(runtime.rule.info.source_path, None, msg))
        current = {str(p): _signature(p) for p in iter_rule_files(self._paths)}
        changed = tuple(k for k, sig in current.items() if self._signatures.get(k) != sig)
        removed = tuple(k for k in self._signatures if k not in current)
        if not changed and not removed:
            return ReloadReport((), (), len(self.runtimes), tuple(list_errors))
        kept = dict(self.runtimes)
        errors = self._load(restore=False)
        failed_files = {e.path for e in errors}
        for rid, runtime in kept.items():  # a broken edit keeps the previous version running
            if rid not in self.runtimes and runtime.rule.info.source_path in failed_files:
                self.runtimes[rid] = runtime
        self.reloads += 1
        return ReloadReport(changed, removed, len(self.runtimes), tuple(errors) + tuple(list_errors))

    # ------------------------------------------------------------------ streaming

    def observe(self, event: Event) -> list[Match]:
        when = event_time(event)
        if self.watermark is None or when > self.watermark:
            self.watermark = when
            wall = time.time()
            self._watermark_wall = wall
            self._live = abs(wall - when.timestamp()) <= self._live_skew
        out: list[Match] = []
        for runtime in self.runtimes.values():
            out.extend(runtime.observe(event, when))
        return out

    def clock(self, now: datetime | None = None) -> datetime | None:
        """Event-time now: the watermark, advanced by wall time while the data is live."""
        if self.watermark is None:
            return None
        if not self._live:
            return self.watermark
        wall = (now or utcnow()).timestamp()
        return self.watermark + timedelta(seconds=max(0.0, wall - self._watermark_wall))

    def tick(self, now: datetime) -> list[Match]:
        clock = self.clock(now)
        if clock is None:
            return []
        out: list[Match] = []
        for runtime in self.runtimes.values():
            out.extend(runtime.tick(clock))
        return out

    # ------------------------------------------------------------------ state

    def checkpoint(self) -> PendingCheckpoint:
        """Serialize the rules changed since the last checkpoint (in the observing thread)."""
        pending = PendingCheckpoint()
        for rid, runtime in self.runtimes.items():
            if runtime.dirty:
                pending.deltas[rid] = runtime.delta()
        self.checkpoints += 1
        return pending

    def save(self, state: StateStore | None = None) -> int:
        """Checkpoint and write now (at stop, or where one thread does everything)."""
        target = state or self._state
        if target is None:
            return 0
        pending = self.checkpoint()
        pending.commit(target)
        return len(pending)

    @property
    def stats(self) -> dict[str, Any]:
        totals: dict[str, int] = {
            "rules": len(self.runtimes),
            "rules_failed": self.rules_failed,
            "reloads": self.reloads,
            "checkpoints": self.checkpoints,
        }
        per_rule: dict[str, dict[str, int]] = {}
        for rid, runtime in self.runtimes.items():
            stats = runtime.stats
            per_rule[rid] = stats
            for key, value in stats.items():
                totals[key] = totals.get(key, 0) + value
        return {**totals, "per_rule": per_rule}
