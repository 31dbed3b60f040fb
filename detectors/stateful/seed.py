"""Seeding a ``new_term`` baseline from stored events (``terms_window_size`` back).

Reads the window's events through the store interface (pushed-down filter, oldest
first, cursor pages), so it works on every backend; the rule's own filter decides in
memory what counts. At most ``max_events`` are read, oldest first (a rule whose filter
is only a Sigma ``detection`` pushes nothing down, so on a big store the cap decides;
reaching it is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from soc.event import Event
from soc.store.base import Query, Sort

log = logging.getLogger(__name__)
PAGE = 1000


def iter_window(
    store: Any, query: Query, start: datetime, end: datetime, *, limit: int | None = None
) -> Iterator[Event]:
    """The events of ``[start, end)`` matching ``query``'s filters, oldest first."""
    q = Query(filters=query.filters, start=start, end=end, text=query.text)
    after: str | None = None
    n = 0
    while True:
        page = store.search(q, size=PAGE, sort=Sort("@timestamp", descending=False), after=after)
        for event in page.events:
            yield event
            n += 1
            if limit is not None and n >= limit:
                return
        if page.cursor is None or not page.events:
            return
        after = page.cursor


def seed_new_terms(runtime: Any, store: Any, now: datetime, *, max_events: int = 200_000) -> int:
    """Learn the terms of the past ``terms_window_size`` into ``runtime``'s baseline."""
    window = getattr(runtime.kind, "terms_window", None)
    if window is None:
        return 0
    start = now - window
    read = 0

    def counted() -> Iterator[Event]:
        nonlocal read
        for event in iter_window(store, runtime.rule.filter.query, start, now, limit=max_events):
            read += 1
            yield event

    learnt = runtime.learn(counted())
    if read >= max_events:
        log.warning("new_term rule %s: seeding stopped after %d stored events", runtime.rule.id, read)
    log.info("new_term rule %s: baseline seeded from %d stored events", runtime.rule.id, learnt)
    return learnt
