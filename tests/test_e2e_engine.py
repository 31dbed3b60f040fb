"""End to end: `soc run` as a subprocess on free ports, real syslog senders over UDP
and TCP, detection, alerts through the API, the CLI against the running engine."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.helpers_engine import EngineProcess, run_soc, wait_for, write_config

ATTACKER = "198.51.100.77"


def send_udp(port: int, lines: list[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for line in lines:
            sock.sendto(line.encode(), ("127.0.0.1", port))
            time.sleep(0.001)


def send_tcp_octet(port: int, lines: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for line in lines:
            data = line.encode()
            sock.sendall(f"{len(data)} ".encode() + data)


@pytest.fixture
def engine(tmp_path: Path, data_dir: Path):
    udp, tcp = free_port(socket.SOCK_DGRAM), free_port()
    config = write_config(
        tmp_path / "soc.yaml",
        inputs=[
            {"type": "syslog", "name": "udp", "protocol": "udp", "host": "127.0.0.1", "port": udp},
            {"type": "syslog", "name": "tcp", "protocol": "tcp", "host": "127.0.0.1", "port": tcp},
        ],
    )
    proc = EngineProcess(config, data_dir)
    proc.config = config  # type: ignore[attr-defined]
    yield proc
    assert proc.stop() == 0, proc.output()


def test_syslog_udp_and_tcp_to_alert_through_api(engine: EngineProcess, data_dir: Path) -> None:
    ports = engine.inputs()
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime())
    # an invalid user and a burst of failed passwords over UDP (RFC 3164)
    udp_lines = [f"<38>{stamp} portal01 sshd[4242]: Invalid user oracle from {ATTACKER} port 50001"]
    udp_lines += [
        f"<38>{stamp} portal01 sshd[4243]: Failed password for root from {ATTACKER} port {50100 + i} ssh2"
        for i in range(12)
    ]
    send_udp(ports["udp"], udp_lines)
    # the successful login over TCP, octet-counted (RFC 6587), RFC 5424
    send_tcp_octet(
        ports["tcp"],
        [
            f"<38>1 {time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime())[:-2]}:00 portal01 sshd 4250 - - "
            f"Accepted password for root from {ATTACKER} port 50999 ssh2"
        ],
    )
    # real senders from Debian: util-linux logger, newline and octet-counted framing over TCP
    assert shutil.which("logger"), "util-linux logger is needed (Debian bsdutils)"
    for n, framing in enumerate((["--octet-count"], [])):
        subprocess.run(
            [
                "logger",
                "--tcp",
                *framing,
                "-n",
                "127.0.0.1",
                "-P",
                str(ports["tcp"]),
                "--rfc3164",
                "-t",
                "sshd",
                "-p",
                "auth.info",
                f"Invalid user logger{n} from {ATTACKER} port 5050{n}",
            ],
            check=True,
            timeout=10,
        )
    wait_for(lambda: engine.count() >= 16, 30, "16 events stored")
    assert engine.count("user.name:logger0") == 1 and engine.count("user.name:logger1") == 1
    assert engine.count(f"source.ip:{ATTACKER} event.outcome:failure") >= 13
    assert engine.count("observer.ip:127.0.0.1") >= 15

    alerts = wait_for(
        lambda: [a for a in engine.get("/api/v1/alerts")["alerts"] if a["source_ip"] == ATTACKER],
        30,
        "alerts about the attacker",
    )
    titles = {a["rule_title"] for a in alerts}
    assert any("brute" in t.lower() for t in titles), titles
    assert any("invalid user" in t.lower() for t in titles), titles
    brute = next(a for a in alerts if "brute" in a["rule_title"].lower())
    assert brute["severity"] in ("high", "critical")
    assert brute["host"] == "portal01"
    detail = engine.get(f"/api/v1/alerts/{brute['id']}")
    assert len(detail["events"]) >= 10
    assert all(e["source"]["ip"] == ATTACKER for e in detail["events"])

    # the CLI reaches the running engine through its API (it owns the DuckDB file)
    out = run_soc(["search", f"source.ip:{ATTACKER}", "--count"], data_dir)
    assert int(out.stdout.strip()) >= 14
    listed = run_soc(["alerts", "list", "--json"], data_dir)
    assert ATTACKER in listed.stdout


def test_metrics_and_health(engine: EngineProcess) -> None:
    send_udp(
        engine.inputs()["udp"], ["<38>Nov 27 10:00:00 web01 sshd[1]: Invalid user x from 10.0.0.9 port 1"]
    )
    wait_for(lambda: engine.count() >= 1, 30, "one event")
    metrics = engine.get("/metrics")
    for name in (
        "soc_events_received_total",
        "soc_events_stored_total",
        "soc_spool_backlog_records",
        "soc_queue_depth",
        "soc_alerts_total",
    ):
        assert name in metrics, name
    health = engine.health()
    assert health["status"] == "ok"
    assert health["input_counters"], "the inputs' own counters are reported"
    assert 'soc_input_counter_total{counter="' in metrics


def test_second_engine_on_same_data_dir_is_refused(engine: EngineProcess, data_dir: Path) -> None:
    proc = run_soc(
        ["run", "--config", str(engine.config), "--api-port", "0"],
        data_dir,  # type: ignore[attr-defined]
        check=False,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "another engine" in proc.stderr


def test_ingest_evtx_into_running_engine_is_idempotent(
    engine: EngineProcess, data_dir: Path, datasets: Path
) -> None:
    evtx = datasets / "logs" / "endpoint" / "windows" / "winlogbeat" / "sysmon-9.01.evtx"
    if not evtx.exists():
        evtx = sorted((datasets / "logs" / "endpoint" / "windows").rglob("*.evtx"))[0]
    first = json.loads(run_soc(["ingest", str(evtx), "--json"], data_dir).stdout)
    assert first["mode"] == "engine" and first["records_accepted"] > 0
    n = first["records_accepted"]
    wait_for(
        lambda: engine.count(f'log.file.path:"{evtx}"') >= n,
        60,
        f"{n} Windows events",
    )
    run_soc(["ingest", str(evtx)], data_dir)  # again: stored once
    time.sleep(2)
    assert engine.count(f'log.file.path:"{evtx}"') == n
    assert engine.count(f'log.file.path:"{evtx}" _exists_:winlog.event_id') == n
