"""Per-rule status of the scheduled rules, from the state store: what ``soc rules status``
prints and ``GET /api/v1/rules/status`` returns.

``state`` is ``failing`` when the last run failed, ``catching-up`` when the rule is more
than one window (plus its delay and interval) behind, ``pending`` before its first window,
else ``ok``. ``lag_s`` is the time from the end of the last evaluated window to now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from soc.event import parse_ts, utcnow
from soc.scheduling.runlog import RunLog

STATES = ("ok", "failing", "catching-up", "pending")


def rule_state(row: dict[str, Any], lag_s: float | None) -> str:
    if row.get("consecutive_failures"):
        return "failing"
    if lag_s is None:
        return "pending"
    allowed = sum(row.get(k) or 0 for k in ("buffer_time_s", "query_delay_s", "run_every_s"))
    return "catching-up" if lag_s > allowed else "ok"


def rule_status(runlog: RunLog, now: datetime | None = None) -> list[dict[str, Any]]:
    """One JSON-ready dict per scheduled rule, by rule id."""
    now = now or utcnow()
    out = []
    for row in runlog.schedule_rows():
        end = row.get("window_end")
        lag = (now - parse_ts(end)).total_seconds() if end else None
        out.append(
            {
                "rule_id": row["rule_id"],
                "title": row["title"],
                "type": row["type"],
                "state": rule_state(row, lag),
                "last_run": row["last_run"],
                "window_start": row["window_start"],
                "window_end": end,
                "last_duration_ms": row["last_duration_ms"],
                "last_hits": row["last_hits"],
                "last_alerts": row["last_alerts"],
                "runs": row["runs"],
                "hits": row["hits"],
                "alerts": row["alerts"],
                "errors": row["errors"],
                "skipped": row["skipped"],
                "consecutive_failures": row["consecutive_failures"],
                "last_error": row["last_error"],
                "last_error_at": row["last_error_at"],
                "lag_s": round(lag, 3) if lag is not None else None,
                "run_every_s": row["run_every_s"],
                "buffer_time_s": row["buffer_time_s"],
                "query_delay_s": row["query_delay_s"],
            }
        )
    return out
