"""Helpers for the NetFlow / pcap tests: golden comparison, a running input, UDP payloads of a pcap."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from collectors.inputs.base import InputContext, MemoryCheckpoints
from collectors.inputs.netflow import NetflowInput, NetflowInputConfig
from soc.event import RawRecord, parse_ts


def udp_payloads(path: Path) -> Iterator[tuple[bytes, str]]:
    """``(payload, "src_ip:src_port")`` of every UDP datagram in a capture file."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether  # noqa: F401  (registers the link type)
    from scapy.utils import PcapReader

    with PcapReader(str(path)) as reader:
        for pkt in reader:
            if UDP in pkt and IP in pkt:
                yield bytes(pkt[UDP].payload), f"{pkt[IP].src}:{pkt[UDP].sport}"


def _same(expected: Any, actual: Any) -> bool:
    if (
        isinstance(expected, str)
        and isinstance(actual, str)
        and expected[:2].isdigit()
        and expected.endswith("Z")
    ):
        try:
            return parse_ts(expected) == parse_ts(actual)
        except ValueError:
            return expected == actual
    return expected == actual


def leaf_agreement(
    expected: dict[str, Any], actual: dict[str, Any], prefix: str = ""
) -> tuple[int, int, list[str]]:
    """(agreeing leaves, expected leaves, differing paths) of ``expected`` within ``actual``."""
    agree = total = 0
    diffs: list[str] = []
    for key, value in expected.items():
        path = f"{prefix}{key}"
        got = actual.get(key) if isinstance(actual, dict) else None
        if isinstance(value, dict):
            a, t, d = leaf_agreement(value, got if isinstance(got, dict) else {}, path + ".")
            agree, total = agree + a, total + t
            diffs.extend(d)
            continue
        total += 1
        if _same(value, got):
            agree += 1
        else:
            diffs.append(f"{path}: expected {value!r}, got {got!r}")
    return agree, total, diffs


class Collected:
    """An :class:`InputContext` whose ``accept`` keeps the records in memory."""

    def __init__(self) -> None:
        self.records: list[RawRecord] = []
        self.lock = threading.Lock()
        self.ctx = InputContext(accept=self._accept, stop=threading.Event(), checkpoints=MemoryCheckpoints())

    def _accept(self, batch: list[RawRecord]) -> None:
        with self.lock:
            self.records.extend(batch)

    def snapshot(self) -> list[RawRecord]:
        with self.lock:
            return list(self.records)


@contextmanager
def running_netflow(**options: Any) -> Iterator[tuple[NetflowInput, Collected]]:
    """A :class:`NetflowInput` on 127.0.0.1 (ephemeral port) running in a thread."""
    inp = NetflowInput(NetflowInputConfig(host="127.0.0.1", port=0, batch_wait_ms=50, **options))
    got = Collected()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            inp.run(got.ctx)
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    assert inp.ready.wait(5), f"netflow input did not start: {errors}"
    try:
        yield inp, got
    finally:
        got.ctx.stop.set()
        thread.join(5)
        assert not thread.is_alive(), "netflow input did not stop"
        assert not errors, errors
