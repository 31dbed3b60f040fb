"""Shared helpers for collector tests: dataset location and running an input in a thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from collectors.inputs.base import InputContext, MemoryCheckpoints
from soc.event import RawRecord


def datasets_dir() -> Path:
    """``$SOC_DATASETS``, else ``/work/shared/datasets`` beside the repo."""
    env = os.environ.get("SOC_DATASETS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


def dataset(*parts: str) -> Path:
    """A dataset path; skips the test with the reason when it is absent."""
    path = datasets_dir().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"dataset {path} not found (set SOC_DATASETS to the shared datasets folder)")
    return path


class Collector:
    """An ``accept`` callable that keeps every batch, optionally slowed or gated."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[RawRecord]] = []
        self.lock = threading.Lock()
        self.gate = gate

    def __call__(self, batch: list[RawRecord]) -> None:
        if self.gate is not None:
            self.gate.wait()
        with self.lock:
            self.batches.append(list(batch))

    @property
    def records(self) -> list[RawRecord]:
        with self.lock:
            return [r for b in self.batches for r in b]

    def wait_for(self, n: int, timeout: float = 10.0) -> list[RawRecord]:
        """Wait until at least ``n`` records arrived; fails the test on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.records
            if len(recs) >= n:
                return recs
            time.sleep(0.01)
        raise AssertionError(f"expected {n} records within {timeout}s, got {len(self.records)}")


@contextmanager
def running(
    inp: Any, accept: Callable[[list[RawRecord]], None], checkpoints: Any = None, *, oneshot: bool = False
) -> Iterator[InputContext]:
    """Run ``inp`` in a thread until the block ends; re-raises an error of ``run``.

    With ``oneshot`` the block's end waits for ``run`` to return by itself (a
    one-shot file read) before setting ``stop``.
    """
    ctx = InputContext(accept=accept, stop=threading.Event(), checkpoints=checkpoints or MemoryCheckpoints())
    errors: list[BaseException] = []

    def target() -> None:
        try:
            inp.run(ctx)
        except BaseException as exc:
            errors.append(exc)
            inp.ready.set()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert inp.ready.wait(10), "input never became ready"
    if errors:
        raise errors[0]
    try:
        yield ctx
        if oneshot:
            thread.join(60)
            assert not thread.is_alive(), "one-shot input did not return by itself"
    finally:
        ctx.stop.set()
        thread.join(10)
        assert not thread.is_alive(), "input did not return after stop"
    if errors:
        raise errors[0]
