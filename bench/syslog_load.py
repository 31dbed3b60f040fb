"""Syslog load test of `soc run` on the embedded store (DuckDB): TCP, then UDP.

    python bench/syslog_load.py [--rate 50000] [--seconds 60] [--udp-seconds 20]
                                [--sender auto|loggen|python] [--size 200] [--keep DIR]

Starts `soc run` as a subprocess (data directory in a temp folder, one TCP and one UDP
syslog input on free ports, the shipped Sigma rules), sends ``--rate`` lines/s for
``--seconds`` over TCP with syslog-ng's ``loggen`` (Debian package syslog-ng-core; a
Python sender if loggen is missing: the output says which), waits until the engine has
processed everything it accepted, and prints: lines sent, events stored, lost, the
achieved send rate, the time to drain, the drain rate and the peak spool backlog.
Then the same over UDP for ``--udp-seconds``, where loss is allowed and reported
(datagrams dropped by the kernel or by the input while the spool is full).

"Stored" counts events written plus records sent to dead letters (loggen's lines
are RFC 3164 and parse; a dead letter would still be a record kept, not lost).
The figures come from the engine's /healthz and /metrics.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers_engine import EngineProcess, write_config

_RECEIVED = re.compile(r'^soc_events_received_total\{input="([^"]+)"\} ([0-9.e+]+)$', re.M)


def free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sample:
    processed: int  # events stored + dead letters
    backlog: int
    received: dict[str, int]


class Monitor:
    """Polls the engine every 0.25 s and keeps the peak spool backlog."""

    def __init__(self, engine: EngineProcess) -> None:
        self.engine = engine
        self.peak_backlog = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> Sample:
        health = self.engine.health()
        with urllib.request.urlopen(self.engine.api_url + "/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        received = {name: int(float(v)) for name, v in _RECEIVED.findall(metrics)}
        backlog = int(health["spool_backlog_records"])
        self.peak_backlog = max(self.peak_backlog, backlog)
        return Sample(int(health["events_stored"]) + int(health["dead_letters"]), backlog, received)

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            try:
                self.sample()
            except OSError:
                pass

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def send_loggen(proto: str, port: int, rate: int, seconds: int, size: int) -> int:
    """Run loggen; the number of lines it reports sent."""
    kind = "--stream" if proto == "tcp" else "--dgram"
    proc = subprocess.run(
        ["loggen", "--inet", kind, "--rate", str(rate), "--interval", str(seconds), "--size", str(size),
         "127.0.0.1", str(port)],
        capture_output=True, text=True, timeout=seconds + 120,
    )  # fmt: skip
    # loggen prints a line per second and, last, the run's "average rate = .., count=N, .."
    counts = re.findall(r"average rate = [0-9.]+ msg/sec, count=(\d+)", proc.stderr)
    if proc.returncode != 0 or not counts:
        raise SystemExit(f"loggen failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return int(counts[-1])


def send_python(proto: str, port: int, rate: int, seconds: int, size: int) -> int:
    """A paced Python sender (10 ms ticks); the number of lines sent."""
    stamp = time.strftime("%b %e %H:%M:%S")
    head = f"<38>{stamp} loadhost bench[1]: seq: "
    pad = "x" * max(0, size - len(head) - 12)
    tick, sent = 0.01, 0
    per_tick = max(1, int(rate * tick))
    sock = socket.create_connection(("127.0.0.1", port)) if proto == "tcp" else None
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if proto == "udp" else None
    start = time.monotonic()
    total = rate * seconds
    while sent < total:
        lines = [f"{head}{sent + i:010d} {pad}".encode() for i in range(min(per_tick, total - sent))]
        if sock is not None:
            sock.sendall(b"\n".join(lines) + b"\n")
        else:
            assert udp is not None
            for line in lines:
                udp.sendto(line, ("127.0.0.1", port))
        sent += len(lines)
        delay = start + (sent / rate) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    for s in (sock, udp):
        if s is not None:
            s.close()
    return sent


def phase(engine: EngineProcess, proto: str, port: int, args: argparse.Namespace, sender: str) -> None:
    send = send_loggen if sender == "loggen" else send_python
    seconds = args.seconds if proto == "tcp" else args.udp_seconds
    with Monitor(engine) as mon:
        before = mon.sample()
        start = time.monotonic()
        sent = send(proto, port, args.rate, seconds, args.size)
        send_s = time.monotonic() - start
        # drained: every record the input accepted is processed, the spool is empty and,
        # over TCP, every line sent was accepted (or 30 s passed); over UDP, for 1 s
        # nothing more was accepted (the socket buffer is empty).
        stable_since, prev_accepted = time.monotonic(), -1
        while True:
            if engine.proc.poll() is not None:
                raise SystemExit(f"soc run exited {engine.proc.returncode}:\n{engine.output()[-3000:]}")
            last = mon.sample()
            accepted = last.received.get(proto, 0) - before.received.get(proto, 0)
            processed = last.processed - before.processed
            if accepted != prev_accepted:
                stable_since, prev_accepted = time.monotonic(), accepted
            settled = last.backlog == 0 and processed >= accepted
            if proto == "tcp":
                done = accepted >= sent or time.monotonic() - stable_since > 30
            else:
                done = time.monotonic() - stable_since > 1.0
            if settled and done:
                break
            time.sleep(0.2)
        drain_s = time.monotonic() - start - send_s
    stored = last.processed - before.processed
    total_s = send_s + drain_s
    print(f"== {proto.upper()} ({sender}) ==")
    print(f"  lines sent         {sent:>12,}  (target {args.rate * seconds:,})")
    print(f"  accepted by input  {accepted:>12,}")
    print(f"  events stored      {stored:>12,}")
    lost = sent - stored
    print(f"  lost               {lost:>12,}  ({100 * lost / max(1, sent):.2f}%)")
    print(f"  send rate          {sent / send_s:>12,.0f} lines/s over {send_s:.1f} s")
    print(f"  drain after send   {drain_s:>12.1f} s")
    print(f"  end-to-end rate    {stored / total_s:>12,.0f} events/s (stored / (send + drain))")
    print(f"  peak spool backlog {mon.peak_backlog:>12,} records")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=50_000, help="lines per second to send")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of TCP sending")
    parser.add_argument(
        "--udp-seconds", type=int, default=None, help="seconds of UDP sending (default: --seconds)"
    )
    parser.add_argument("--size", type=int, default=200, help="bytes per line")
    parser.add_argument("--sender", choices=("auto", "loggen", "python"), default="auto")
    parser.add_argument("--keep", type=Path, default=None, help="keep the data directory here")
    args = parser.parse_args()
    if args.udp_seconds is None:
        args.udp_seconds = args.seconds
    sender = args.sender
    if sender == "auto":
        sender = "loggen" if shutil.which("loggen") else "python"
    elif sender == "loggen" and not shutil.which("loggen"):
        raise SystemExit("loggen not found: apt-get install syslog-ng-core, or use --sender python")
    if sender == "python":
        print("loggen not found: using the Python sender (apt-get install syslog-ng-core for loggen)")

    with tempfile.TemporaryDirectory(prefix="soc-syslog-load-") as tmp:
        root = args.keep or Path(tmp)
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)
        tcp, udp = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM)
        config = write_config(
            root / "soc.yaml",
            inputs=[
                {"type": "syslog", "name": "tcp", "protocol": "tcp", "port": tcp, "timezone": "UTC"},
                {"type": "syslog", "name": "udp", "protocol": "udp", "port": udp, "timezone": "UTC"},
            ],
        )
        engine = EngineProcess(config, data)
        try:
            print(f"soc run pid {engine.proc.pid}, data {data}, tcp {tcp}, udp {udp}; sender {sender}")
            print(
                f"rate {args.rate:,} lines/s of {args.size} bytes; "
                f"TCP {args.seconds} s, UDP {args.udp_seconds} s"
            )
            phase(engine, "tcp", tcp, args, sender)
            phase(engine, "udp", udp, args, sender)
        finally:
            code = engine.stop()
            if code != 0:
                print(engine.output()[-3000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
