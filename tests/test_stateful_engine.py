"""The real engine (`soc run` subprocess) killed with -9 in the middle of a window, then
restarted: exactly the expected alerts, with the right counts. The stateful brute force
rule (frequency) and the Sigma temporal correlation "failed logons, then a success, then
a new service" both keep their windows across the crash, and events the spool (or a
re-ingest) delivers again count once."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.helpers_engine import REPO, EngineProcess, wait_for, write_config

BRUTE_ID = "0812403a-810b-40a0-9171-46f9b3b7187e"  # rules/stateful/ssh_brute_force.yml
CHAIN_ID = "723e275c-977e-4dec-9b9a-fb5b6a71b2a0"  # rules/windows/win_logon_failures_success_new_service.yml
LOCAL = timedelta(hours=7)  # RFC 3164 times are read in the config's zone, Asia/Ho_Chi_Minh
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def config(tmp_path: Path) -> Path:
    return write_config(
        tmp_path / "soc.yaml",
        detection={
            "sigma": {"paths": [str(REPO / "rules")], "mappings": str(REPO / "configs" / "sigma.yaml")},
            "stateful": {"paths": [str(REPO / "rules" / "stateful")], "checkpoint_interval_s": 1},
        },
    )


def post_raw(
    engine: EngineProcess, source: str, body: bytes, offset: int = 0, fmt: str = ""
) -> dict[str, Any]:
    query = {"source": source, "offset": str(offset), **({"format": fmt} if fmt else {})}
    req = urllib.request.Request(
        engine.api_url + "/api/v1/ingest/raw?" + urllib.parse.urlencode(query),
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {engine.token}", "Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def alerts(engine: EngineProcess, rule_id: str) -> list[dict[str, Any]]:
    return engine.get(f"/api/v1/alerts?rule_id={rule_id}&limit=100")["alerts"]


def failed_ssh(i: int, ip: str = "203.0.113.9") -> str:
    t = START + LOCAL + timedelta(seconds=20 * i)
    return (
        f"{t:%b} {t.day:>2} {t:%H:%M:%S} bastion sshd[{1000 + i}]: "
        f"Failed password for root from {ip} port {4000 + i} ssh2"
    )


def test_kill_9_in_the_middle_of_a_brute_force_window(tmp_path: Path, data_dir: Path) -> None:
    lines = [failed_ssh(i) for i in range(10)]  # ten failures in three minutes: one alert at the tenth
    first_half = ("\n".join(lines[:5]) + "\n").encode()
    whole = ("\n".join(lines) + "\n").encode()
    source = "file:/var/log/auth.log"
    cfg = config(tmp_path)

    engine = EngineProcess(cfg, data_dir)
    try:
        post_raw(engine, source, first_half, fmt="linux_auth")
        wait_for(lambda: engine.count("event.action:ssh_login") == 5, 60, "the first five failures stored")
        assert alerts(engine, BRUTE_ID) == []
    finally:
        engine.kill9()

    engine = EngineProcess(cfg, data_dir)
    try:
        rest = ("\n".join(lines[5:]) + "\n").encode()
        post_raw(engine, source, rest, offset=len(first_half), fmt="linux_auth")  # only the second half
        wait_for(lambda: engine.count("event.action:ssh_login") == 10, 60, "ten failures stored")
        found = wait_for(lambda: alerts(engine, BRUTE_ID), 30, "the brute force alert")
        assert len(found) == 1, found
        alert = found[0]
        assert (
            alert["count"] == 1 and alert["details"]["count"] == 10 and alert["details"]["num_events"] == 10
        )
        assert alert["source_ip"] == "203.0.113.9" and alert["rule_type"] == "frequency"
        detail = engine.get(f"/api/v1/alerts/{alert['id']}")
        evidence = detail.get("evidence") or detail.get("alert", {}).get("evidence")
        assert len(set(evidence)) == 10
        # the whole file delivered again (same event ids): counted once, nothing fires
        post_raw(engine, source, whole, fmt="linux_auth")
        wait_for(lambda: engine.health()["detectors"]["stateful"]["duplicates"] >= 10, 30, "duplicates seen")
        assert len(alerts(engine, BRUTE_ID)) == 1 and alerts(engine, BRUTE_ID)[0]["count"] == 1
    finally:
        assert engine.stop() == 0, engine.output()


def win(ts: datetime, event_id: int, **data: str) -> str:
    channel, provider = (
        ("System", "Service Control Manager")
        if event_id == 7045
        else ("Security", "Microsoft-Windows-Security-Auditing")
    )
    return json.dumps(
        {
            "@timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "message": f"event {event_id}",
            "winlog": {
                "channel": channel,
                "event_id": event_id,
                "computer_name": "WS01.tinh.local",
                "provider_name": provider,
                "record_id": 1,
                "event_data": data,
            },
        }
    )


def test_temporal_correlation_survives_a_kill_9(tmp_path: Path, data_dir: Path) -> None:
    logon = {"TargetUserName": "admin", "IpAddress": "203.0.113.70", "LogonType": "3"}
    before = [win(START + timedelta(seconds=30 * i), 4625, **logon) for i in range(6)]
    before.append(win(START + timedelta(minutes=6), 4624, **logon))
    after = [win(START + timedelta(minutes=9), 7045, ServiceName="psexesvc", ImagePath="C:\\psexesvc.exe")]
    cfg = config(tmp_path)
    source = "file:/var/log/windows.json"
    body1 = ("\n".join(before) + "\n").encode()

    engine = EngineProcess(cfg, data_dir)
    try:
        post_raw(engine, source, body1, fmt="windows")
        wait_for(lambda: engine.count("winlog.channel:Security") == 7, 60, "failures and the success stored")
        wait_for(
            lambda: engine.health()["detectors"]["sigma"]["correlations"] > 0, 10, "sigma correlations loaded"
        )
        assert alerts(engine, CHAIN_ID) == []
    finally:
        engine.kill9()

    engine = EngineProcess(cfg, data_dir)
    try:
        # only the service install is sent now: the chain's first two steps come from the saved state
        post_raw(engine, source, ("\n".join(after) + "\n").encode(), offset=len(body1), fmt="windows")
        wait_for(lambda: engine.count("winlog.channel:System") == 1, 60, "the service install stored")
        found = wait_for(lambda: alerts(engine, CHAIN_ID), 30, "the correlation alert")
        assert len(found) == 1 and found[0]["count"] == 1
        assert found[0]["severity"] == "critical" and found[0]["rule_type"] == "sigma_correlation"
        detail = engine.get(f"/api/v1/alerts/{found[0]['id']}")
        evidence = detail.get("evidence") or detail.get("alert", {}).get("evidence")
        assert len(evidence) == 7  # the five failures of the burst, the logon, the service
        # everything delivered again (same event ids): counted once, no second alert
        post_raw(engine, source, body1, fmt="windows")
        post_raw(engine, source, ("\n".join(after) + "\n").encode(), offset=len(body1), fmt="windows")
        wait_for(
            lambda: engine.health()["detectors"]["sigma"]["correlation_duplicates"] >= 8,
            30,
            "duplicates seen",
        )
        assert len(alerts(engine, CHAIN_ID)) == 1 and alerts(engine, CHAIN_ID)[0]["count"] == 1
    finally:
        assert engine.stop() == 0, engine.output()
