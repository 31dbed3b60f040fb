"""Mechanics shared by the durable delivery queues of the state store and the services
draining them: the notification queue (:mod:`soc.notify.queue`, drained by
:mod:`soc.notify.worker`) and the forwarding outbox (:mod:`soc.forwarding.outbox`,
drained by :mod:`soc.forwarding.worker`).

Rows carry ``status``, ``attempts``, ``next_attempt_at`` (epoch seconds) and
``last_error``; a failed attempt is retried after an exponential, capped, jittered
delay; a pass stops early for a receiver that looks down.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from soc.state import StateStore

MAX_ERROR_CHARS = 500
UNREACHABLE_REASONS = frozenset({"connection", "timeout", "tls"})
"""Delivery error reasons meaning the receiver did not answer (the rest of a pass waits)."""


def epoch(ts: datetime, what: str) -> float:
    """``ts`` as epoch seconds; ``what`` names the queue in the error for a naive time."""
    if ts.tzinfo is None:
        raise ValueError(f"naive datetime {ts!r}: {what} times must be timezone-aware")
    return ts.timestamp()


def error_text(error: str) -> str:
    """The error as kept in ``last_error`` (truncated)."""
    return error[:MAX_ERROR_CHARS]


def backoff_delay(attempts: int, base_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds before attempt ``attempts + 1``: exponential, capped, with jitter
    (uniform in the upper half, so retries of many rows spread out)."""
    delay = min(max_s, base_s * (2 ** max(attempts - 1, 0)))
    return delay / 2 + rng.uniform(0, delay / 2)


def receiver_answered(reason: str) -> bool:
    """Whether a failure with this reason came from a receiver that answered (so the
    pass may go on to its next row)."""
    return reason not in UNREACHABLE_REASONS


def newest_first(
    state: StateStore,
    table: str,
    statuses: Sequence[str],
    status: str | None,
    limit: int,
    equals: Sequence[tuple[str, Any]] = (),
) -> list[Any]:
    """Rows of ``table`` newest first, of one ``status`` (checked against ``statuses``)
    when given and with each ``(column, value)`` of ``equals`` whose value is not None."""
    if status is not None and status not in statuses:
        raise ValueError(f"status: {status!r} is not one of {', '.join(statuses)}")
    where, params = [], []
    for column, value in (("status", status), *equals):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    return list(state.query(sql, tuple(params)))


def drain_until_stopped(
    stop: threading.Event,
    wake: threading.Event,
    one_pass: Callable[[], int],
    poll_interval_s: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Run ``one_pass`` (returning how many rows it completed) until ``stop`` is set:
    again at once after a productive pass, else after ``poll_interval_s`` or a ``wake``.
    A failing pass is logged and the loop goes on (the rows stay queued)."""
    while not stop.is_set():
        try:
            done = one_pass()
        except Exception:  # keep the loop alive; the queue keeps the rows
            log.exception("%s pass failed", what)
            done = 0
        if done and not stop.is_set():
            continue  # more may be due right away
        wake.wait(poll_interval_s)
        wake.clear()
