"""Nothing is lost while the cluster is unreachable: the real engine ingests auth lines
(100,000 on a real cluster, 30,000 on osmem in CI; see ``EVENTS``) through a TCP proxy
to the server; the proxy refuses connections, then black-holes them, for 30 s of
continued ingest in the middle; afterwards every event is stored exactly once."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from collectors.inputs.base import MemoryCheckpoints
from soc.config import load_config
from soc.event import RawRecord
from soc.pipeline.engine import Engine
from soc.store import Query
from tests.helpers_engine import auth_lines, write_config
from tests.helpers_es import es_url, open_es_store

pytestmark = pytest.mark.elasticsearch

# 100,000 events, cut refused then black-holed for 30 s of continued ingest, restored.
# osmem (the in-memory server CI uses) spends about 2.1 ms of CPU per event document
# (segment building, analysis, GC; the client spends 0.1 ms; see bench/es_ingest.py), so
# this test takes about 6 minutes on a 2-core machine. SOC_TEST_ES_OUTAGE_EVENTS sets
# another count for a quicker local run.
EVENTS = int(os.environ.get("SOC_TEST_ES_OUTAGE_EVENTS") or 100_000)


class Proxy:
    """A TCP proxy on 127.0.0.1: ``up`` forwards, ``refuse`` closes the port (connections
    refused), ``blackhole`` accepts and reads but never answers."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.mode = "up"
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._listen()

    def _listen(self) -> None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(client)
            if self.mode == "refuse":  # accepted just before the port closed
                _reset(client)
                continue
            if self.mode == "blackhole":
                threading.Thread(target=self._drain, args=(client,), daemon=True).start()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns.append(server)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client), daemon=True).start()

    def _drain(self, sock: socket.socket) -> None:
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while self.mode == "up":
                data = src.recv(65536)
                if not data:
                    break
                if self.mode != "up":
                    break  # black-holed: swallow and stop answering
                dst.sendall(data)
        except OSError:
            pass
        if self.mode != "blackhole":  # pass the close on; refused: reset the client
            _reset(src)
            _reset(dst)

    def _close_all(self) -> None:
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            _reset(s)

    def refuse(self) -> None:
        self.mode = "refuse"
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._close_all()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        if self._listener is None:
            self._listen()

    def restore(self) -> None:
        self.mode = "up"
        self._close_all()
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.refuse()


def _reset(sock: socket.socket) -> None:
    """Shut down (which wakes a thread blocked in ``recv``; ``close`` alone would not)
    and close."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def test_cluster_outage_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    url = es_url()
    host, port = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    proxy = Proxy((host, int(port)))
    scheme = url.split("://", 1)[0]
    store = open_es_store(
        str(tmp_path),
        hosts=[f"{scheme}://127.0.0.1:{proxy.port}"],
        # a bulk of one engine batch (2000 events) takes osmem several seconds, more on a
        # loaded CI machine; a shorter timeout only re-sends bulks the server is still
        # indexing. Black-holed requests end when the proxy is restored (it resets them).
        request_timeout_s=120.0,
        refresh=False,
        bulk_retries=1,
    )
    config = load_config(
        write_config(
            tmp_path / "soc.yaml",
            store={"backend": "memory"},
            pipeline={"batch_size": 2000, "batch_wait_ms": 50},
        ),
        environ={},
    )
    engine = Engine(
        config,
        tmp_path / "data",
        inputs=[],
        serve_api=False,
        checkpoints=MemoryCheckpoints(),
        store=store,
        detectors=[],
    )
    lines = auth_lines(EVENTS)
    cut = [EVENTS * k // 10 for k in (3, 5, 7)]
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1

    def feed(lo: int, hi: int) -> None:
        for start in range(lo, hi, 1000):
            engine.accept(
                [
                    RawRecord(
                        raw=lines[i].encode(),
                        source="file:/var/log/auth.log",
                        position=offsets[i],
                        meta={"input": "file", "path": "/var/log/auth.log"},
                    )
                    for i in range(start, min(start + 1000, hi))
                ],
                "test",
            )

    engine.start()
    try:
        feed(0, cut[0])
        time.sleep(1.0)  # some batches are stored, others are in flight
        proxy.refuse()
        t0 = time.monotonic()
        feed(cut[0], cut[1])
        time.sleep(max(0.0, 15 - (time.monotonic() - t0)))
        errors_while_refused = engine.counters.store_errors
        proxy.blackhole()
        feed(cut[1], cut[2])
        time.sleep(max(0.0, 30 - (time.monotonic() - t0)))
        assert errors_while_refused > 0, "the outage was not noticed"
        proxy.restore()
        feed(cut[2], EVENTS)
        assert engine.wait_drained(max(300, EVENTS / 100)), (
            "the backlog did not drain after the cluster came back"
        )
    finally:
        engine.stop()
        proxy.close()

    check = open_es_store(str(tmp_path))
    check.flush()
    assert check.count(Query()) == EVENTS
    seen: set[str] = set()
    after = None
    while True:
        page = check.search(Query(), size=5_000, after=after)
        seen.update(e["event"]["id"] for e in page.events)
        if page.cursor is None:
            break
        after = page.cursor
    assert len(seen) == EVENTS
    check.close()
