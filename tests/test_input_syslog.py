"""Tests of the syslog network input, with the real ``logger`` command and raw sockets."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time

import pytest

from collectors.inputs.syslog import SyslogInput, SyslogInputConfig
from collectors.parsers import get_parser
from tests.helpers_collectors import Collector, running

LOGGER = shutil.which("logger")
needs_logger = pytest.mark.skipif(LOGGER is None, reason="util-linux `logger` command not installed")


def _input(protocol: str, **kw) -> SyslogInput:
    kw.setdefault("batch_wait_ms", 10)
    return SyslogInput(SyslogInputConfig(protocol=protocol, port=0, **kw))


def _logger(*args: str) -> None:
    subprocess.run([LOGGER, *args], check=True, timeout=10)


@needs_logger
@pytest.mark.parametrize("rfc", ["--rfc3164", "--rfc5424"])
def test_udp_with_logger(rfc):
    inp = _input("udp", format="linux_auth", timezone="UTC")
    col = Collector()
    with running(inp, col):
        _logger("--udp", rfc, "-n", "127.0.0.1", "-P", str(inp.bound_port), "-t", "sshd", "hello over udp")
        (rec,) = col.wait_for(1)
    assert rec.position == -1
    assert rec.source == "syslog:udp:127.0.0.1"
    assert rec.meta["input"] == "syslog" and rec.meta["transport"] == "udp"
    assert rec.meta["peer"] == "127.0.0.1" and isinstance(rec.meta["peer_port"], int)
    assert rec.meta["format"] == "linux_auth" and rec.meta["timezone"] == "UTC"
    assert rec.raw.startswith(b"<13>") and rec.raw.endswith(b"hello over udp")
    (ev,) = get_parser("syslog").parse(rec)
    assert ev["message"] == "hello over udp"
    assert ev["process"]["name"] == "sshd"


@needs_logger
@pytest.mark.parametrize("framing", [[], ["--octet-count"]])
@pytest.mark.parametrize("rfc", ["--rfc3164", "--rfc5424"])
def test_tcp_with_logger_both_framings(rfc, framing):
    inp = _input("tcp")
    col = Collector()
    with running(inp, col):
        _logger(
            "--tcp", *framing, rfc, "-n", "127.0.0.1", "-P", str(inp.bound_port), "-t", "app", "first msg"
        )
        _logger(
            "--tcp", *framing, rfc, "-n", "127.0.0.1", "-P", str(inp.bound_port), "-t", "app", "second msg"
        )
        recs = col.wait_for(2)
    assert sorted(r.raw[-10:] for r in recs) == [b" first msg", b"second msg"]
    assert len(recs) == 2
    for r in recs:
        assert r.source == "syslog:tcp:127.0.0.1" and r.meta["transport"] == "tcp"
        (ev,) = get_parser("syslog").parse(r)
        assert ev["process"]["name"] == "app"


def test_udp_datagram_with_newlines_is_split():
    inp = _input("udp")
    col = Collector()
    with running(inp, col):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(
                b"<13>Jan  1 00:00:00 h a: one\n<13>Jan  1 00:00:00 h a: two\r\n",
                ("127.0.0.1", inp.bound_port),
            )
        recs = col.wait_for(2)
    assert [r.raw for r in recs] == [b"<13>Jan  1 00:00:00 h a: one", b"<13>Jan  1 00:00:00 h a: two"]


def test_tcp_many_connections_mixed_framing_and_partial_on_close():
    inp = _input("tcp", batch_max=64)
    col = Collector()
    n_conn, per_conn = 60, 50
    with running(inp, col) as ctx:
        socks = [socket.create_connection(("127.0.0.1", inp.bound_port)) for _ in range(n_conn)]
        for i, s in enumerate(socks):
            msgs = [f"<13>Jan  1 00:00:00 h c{i}: m{j}".encode() for j in range(per_conn)]
            # odd: octet counted; even: newline framed, the last one unterminated (emitted at close)
            data = b"".join(b"%d %s" % (len(m), m) for m in msgs) if i % 2 else b"\n".join(msgs)
            s.sendall(data)
        for s in socks:
            s.close()
        recs = col.wait_for(n_conn * per_conn)
        assert ctx.counters["syslog.tcp.connections"] == n_conn
    assert len(recs) == n_conn * per_conn
    assert len({r.raw for r in recs}) == n_conn * per_conn
    assert all(len(b) <= 64 for b in col.batches)


def test_shutdown_flushes_open_connection_partials():
    inp = _input("tcp", batch_wait_ms=10_000)  # only size or shutdown flushes
    col = Collector()
    with running(inp, col):
        s = socket.create_connection(("127.0.0.1", inp.bound_port))
        s.sendall(b"<13>Jan  1 00:00:00 h a: done\n<13>Jan  1 00:00:00 h a: partial")
        time.sleep(0.2)
        assert col.records == []  # waiting in the batch
    s.close()
    assert [r.raw for r in col.records] == [
        b"<13>Jan  1 00:00:00 h a: done",
        b"<13>Jan  1 00:00:00 h a: partial",
    ]


def test_tcp_backpressure_when_accept_blocks():
    gate = threading.Event()
    col = Collector(gate=gate)
    inp = _input("tcp", batch_max=10)
    line = b"<13>Jan  1 00:00:00 h a: " + b"x" * 1000 + b"\n"
    total = 20_000
    data = line * total
    sent = 0
    with running(inp, col):
        s = socket.create_connection(("127.0.0.1", inp.bound_port))
        s.setblocking(False)
        deadline = time.monotonic() + 3
        while sent < len(data) and time.monotonic() < deadline:
            try:
                sent += s.send(data[sent : sent + 65536])
            except BlockingIOError:
                time.sleep(0.01)
        assert sent < len(data), "the sender was never pushed back"
        assert len(col.records) == 0  # accept is blocked: nothing accepted yet
        gate.set()
        s.setblocking(True)
        s.sendall(data[sent:])
        s.close()
        col.wait_for(total, timeout=20)
    assert len(col.records) == total
    assert {r.raw for r in col.records} == {line[:-1]}


def test_udp_drops_are_counted_when_accept_blocks():
    gate = threading.Event()
    inp = _input("udp", batch_max=5)
    col = Collector(gate=gate)
    with running(inp, col) as ctx:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for i in range(200):
                s.sendto(b"<13>Jan  1 00:00:00 h a: %d" % i, ("127.0.0.1", inp.bound_port))
        deadline = time.monotonic() + 5
        while ctx.counters.get("syslog.udp.dropped", 0) == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        dropped = ctx.counters.get("syslog.udp.dropped", 0)
        gate.set()
    assert dropped > 0
    # every datagram was either accepted or counted as dropped; nothing buffered without bound
    assert len(col.records) == ctx.counters["syslog.udp.messages"]
    assert ctx.counters["syslog.udp.messages"] + ctx.counters["syslog.udp.dropped"] == 200


def test_config_validation_and_bind_error():
    with pytest.raises(ValueError, match="protocol must be 'udp' or 'tcp'"):
        SyslogInputConfig(protocol="sctp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port 70000"):
        SyslogInputConfig(port=70000)
    first = _input("tcp")
    with running(first, Collector()):
        second = SyslogInput(SyslogInputConfig(protocol="tcp", port=first.bound_port))
        with pytest.raises(OSError, match=r"cannot bind tcp 127\.0\.0\.1"), running(second, Collector()):
            pass
