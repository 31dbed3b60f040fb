"""Which windows a scheduled rule evaluates next: consecutive, half-open, never in the future.

A rule's windows have the length ``buffer_time`` and follow each other with no gap and
no overlap. A window is due once real time is ``query_delay`` past its end. The first
window of a rule never run before is the newest due window aligned to the epoch (so
windows are predictable); after that each window starts where the last committed one
ended. Windows that ended more than ``horizon`` before the due point are not run: they
are returned as one skipped span (the scheduler records it and raises an engine alert).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime


@dataclass(slots=True)
class Plan:
    """Windows to evaluate in order, and a span skipped for being beyond the horizon."""

    windows: list[Window] = field(default_factory=list)
    skipped: Window | None = None


def align_down(ts: datetime, length: timedelta) -> datetime:
    """The latest multiple of ``length`` since the epoch at or before ``ts``."""
    return EPOCH + ((ts - EPOCH) // length) * length


def plan_windows(
    last_end: datetime | None,
    now: datetime,
    *,
    length: timedelta,
    delay: timedelta,
    horizon: timedelta,
    limit: int,
) -> Plan:
    """The next due windows (at most ``limit``) after ``last_end`` at time ``now``."""
    if length <= timedelta(0):
        raise ValueError(f"window length (buffer_time) must be positive, got {length}")
    due = now - delay
    plan = Plan()
    if last_end is None:
        end = align_down(due, length)
        plan.windows.append(Window(end - length, end))
        return plan
    start = last_end
    oldest = align_down(due - horizon, length)
    if start < oldest:
        plan.skipped = Window(start, oldest)
        start = oldest
    while start + length <= due and len(plan.windows) < limit:
        plan.windows.append(Window(start, start + length))
        start += length
    return plan
