"""``LogSourceSilentRule``: a flatline over one log source, or one device of a source.

Each window counts the source's events (its filters AND-ed, the device's too). The rule
keeps the counts of the windows covering the last ``timeframe`` (its snapshot); when they
add up to fewer than ``threshold`` over a whole ``timeframe`` it raises one alert, "log
source silent / nguồn log im lặng", with the source, the device and its agency, and, as
evidence, the newest event of the last window in which the rule saw it speak (one search
inside that window: a search back over days of events would be one large scan). It raises
again only after the source has spoken and fallen silent once more. The first window also
counts the ``timeframe`` before it, so a source already silent when the engine starts is
reported on the first run (without evidence when it spoke before that).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from detectors.base import Match, RuleInfo, Severity
from soc.event import format_ts, get_field, parse_ts
from soc.store.base import FieldFilter, Query

TITLE = "Log source silent / Nguồn log im lặng"


@dataclass(frozen=True, slots=True)
class LogSource:
    """Which events come from one source: ``name`` (the input), the ``filters`` selecting
    its events, and optionally one ``device`` (a value of ``device_field``)."""

    name: str
    filters: tuple[FieldFilter, ...]
    device_field: str | None = None
    device: str | None = None
    agency_id: str | None = None
    agency_name: str | None = None

    @property
    def query_filters(self) -> tuple[FieldFilter, ...]:
        if self.device is None or self.device_field is None:
            return self.filters
        return (*self.filters, FieldFilter(self.device_field, "eq", self.device))

    @property
    def label(self) -> str:
        return f"{self.name} / {self.device}" if self.device else self.name


@dataclass(slots=True)
class _Span:
    lock: threading.Lock = field(default_factory=threading.Lock)
    counts: dict[str, int] | None = None
    complete: bool = True


class DeviceCounts:
    """Events per device of one source over one span, shared by that source's device rules:
    one ``count_by`` per span answers all of them (instead of one ``count`` per device).
    A device missing from a ``count_by`` that hit ``size`` is counted on its own."""

    def __init__(self, size: int = 1000, spans: int = 64) -> None:
        self.size = size
        self._spans: OrderedDict[tuple[str, str, datetime, datetime], _Span] = OrderedDict()
        self._spans_kept = spans
        self._lock = threading.Lock()
        self.queries = 0

    def count(self, store: Any, source: LogSource, start: datetime, end: datetime) -> int:
        if source.device is None or source.device_field is None:
            return int(store.count(Query(filters=source.query_filters, start=start, end=end)))
        key = (repr(source.filters), source.device_field, start, end)
        with self._lock:
            span = self._spans.get(key)
            if span is None:
                span = self._spans[key] = _Span()
                while len(self._spans) > self._spans_kept:
                    self._spans.popitem(last=False)
        with span.lock:
            if span.counts is None:  # a failed count_by leaves it None: the next rule retries
                query = Query(filters=source.filters, start=start, end=end)
                buckets = store.count_by(query, source.device_field, size=self.size)
                self.queries += 1
                span.counts = {str(b.key): int(b.count) for b in buckets}
                span.complete = len(buckets) < self.size
        if source.device in span.counts:
            return span.counts[source.device]
        if span.complete:
            return 0
        return int(store.count(Query(filters=source.query_filters, start=start, end=end)))


class LogSourceSilentRule:
    """A :class:`~detectors.base.ScheduledRule`: alert when ``source`` sends fewer than
    ``threshold`` events for ``timeframe``."""

    def __init__(
        self,
        source: LogSource,
        *,
        timeframe: timedelta,
        threshold: int = 1,
        run_every: timedelta = timedelta(minutes=5),
        query_delay: timedelta = timedelta(seconds=30),
        evidence_lookback: timedelta = timedelta(days=7),
        severity: Severity = "high",
        counts: DeviceCounts | None = None,
    ) -> None:
        if timeframe <= timedelta(0) or threshold < 1:
            raise ValueError(f"log source {source.label}: timeframe must be positive and threshold >= 1")
        self.source = source
        suffix = f":{source.device}" if source.device else ""
        self.rule = RuleInfo(
            id=f"soc.health.silent:{source.name}{suffix}",
            title=TITLE,
            type="flatline",
            severity=severity,
            description=f"Fewer than {threshold} events from {source.label} in {timeframe}.",
            author="soc engine",
            tags=("log_source_health",),
        )
        self.timeframe = timeframe
        self.threshold = threshold
        self.run_every = run_every
        self.buffer_time = run_every
        self.query_delay = query_delay
        self.evidence_lookback = evidence_lookback
        self.counts = counts or DeviceCounts()
        self._windows: list[tuple[datetime, datetime, int]] = []
        self._alerted = False
        self._last_active: tuple[datetime, datetime] | None = None

    def __repr__(self) -> str:
        return f"LogSourceSilentRule({self.rule.id!r})"

    def evaluate(self, store: Any, start: datetime, end: datetime) -> list[Match]:
        windows = list(self._windows)
        if not windows and end - self.timeframe < start:
            seed = end - self.timeframe
            windows.append((seed, start, self.counts.count(store, self.source, seed, start)))
        windows.append((start, end, self.counts.count(store, self.source, start, end)))
        cutoff = end - self.timeframe
        for w_start, w_end, n in windows:
            if n and (self._last_active is None or w_end > self._last_active[1]):
                self._last_active = (w_start, w_end)
        windows = [w for w in windows if w[1] > cutoff]
        total = sum(w[2] for w in windows)
        covered = windows[0][0] <= cutoff
        matches: list[Match] = []
        if total >= self.threshold:
            self._alerted = False
        elif covered and not self._alerted:
            matches.append(self._match(store, end, total))
            self._alerted = True
        self._windows = windows
        return matches

    def _match(self, store: Any, end: datetime, total: int) -> Match:
        src = self.source
        evidence = self._last_event(store, end)
        last_seen = evidence[0].get("@timestamp") if evidence else None
        agency_id = src.agency_id or (get_field(evidence[0], "organization.id") if evidence else None)
        agency_name = src.agency_name or (get_field(evidence[0], "organization.name") if evidence else None)
        group: dict[str, Any] = {"log.source": src.name}
        if src.device:
            group["host.name"] = src.device
        details = {
            "message": f"log source silent / nguồn log im lặng: {src.label}",
            "source": src.name,
            "device": src.device,
            "device_field": src.device_field,
            "agency_id": agency_id,
            "agency_name": agency_name,
            "events_in_timeframe": total,
            "threshold": self.threshold,
            "timeframe_s": self.timeframe.total_seconds(),
            "last_event": last_seen,
            "silent_for_s": (
                (end - parse_ts(last_seen)).total_seconds() if isinstance(last_seen, str) else None
            ),
        }
        return Match(rule=self.rule, events=evidence, timestamp=end, group=group, details=details)

    def _last_event(self, store: Any, end: datetime) -> list[Any]:
        """The newest event of the last window the source spoke in (within the evidence
        lookback), or none."""
        if self._last_active is None or self._last_active[1] < end - self.evidence_lookback:
            return []
        start, stop = self._last_active
        page = store.search(Query(filters=self.source.query_filters, start=start, end=stop), size=1)
        return page.events[:1]

    def snapshot(self) -> dict[str, Any]:
        active = self._last_active
        return {
            "windows": [[format_ts(s), format_ts(e), n] for s, e, n in self._windows],
            "alerted": self._alerted,
            "last_active": [format_ts(active[0]), format_ts(active[1])] if active else None,
        }

    def restore(self, state: dict[str, Any]) -> None:
        windows: Sequence[Any] = state.get("windows") or []
        self._windows = [(parse_ts(s), parse_ts(e), int(n)) for s, e, n in windows]
        self._alerted = bool(state.get("alerted"))
        active = state.get("last_active")
        self._last_active = (parse_ts(active[0]), parse_ts(active[1])) if active else None
