"""The contract between an input and the pipeline.

The pipeline builds an :class:`InputContext` and calls ``Input.run(ctx)`` in a thread
of its own. The input hands batches of :class:`~soc.event.RawRecord` to
``ctx.accept`` (durable once it returns; it may block to push back), keeps its
resume points in ``ctx.checkpoints`` and returns soon after ``ctx.stop`` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from soc.event import RawRecord


class CheckpointStore(Protocol):
    """Where inputs keep resume points: a small JSON-able dict per key."""

    def get(self, key: str) -> dict[str, Any] | None: ...

    def put(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryCheckpoints:
    """An in-memory :class:`CheckpointStore` for tests and one-shot reads (thread-safe)."""

    def __init__(self) -> None:
        self._data: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            value = self._data.get(key)
            return dict(value) if value is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._lock:
            self._data[key] = dict(value)


@dataclass
class InputContext:
    """What the pipeline hands an input.

    ``accept`` durably accepts records (appends to the disk spool); it is
    thread-safe and may block (backpressure). ``stop`` is set at shutdown.
    ``counters`` are plain named counts (``syslog.udp.dropped``, ``file.lines``)
    that the pipeline exports as metrics.
    """

    accept: Callable[[list[RawRecord]], None]
    stop: threading.Event
    checkpoints: CheckpointStore
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to counter ``name``."""
        self.counters[name] = self.counters.get(name, 0) + n


class Input(Protocol):
    """A source of raw records: ``ready`` is set once listening / opened."""

    name: str
    ready: threading.Event

    def run(self, ctx: InputContext) -> None: ...
