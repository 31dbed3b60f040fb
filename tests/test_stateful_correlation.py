"""Sigma correlation state (the temporal chain "failed logons, then a success, then a new
service") checkpointed to the state store and restored in a new detector."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from detectors.checkpoint import RuleStateTable
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config
from soc.state import StateStore
from tests.helpers_engine import REPO
from tests.helpers_stateful import T0, ev

RULE = REPO / "rules" / "windows" / "win_logon_failures_success_new_service.yml"
CHAIN = "723e275c-977e-4dec-9b9a-fb5b6a71b2a0"


def win(minute: float, code: str, host: str = "WS01", event_id: str | None = None, **extra: str) -> dict:
    channel = "System" if code == "7045" else "Security"
    fields = {
        "winlog.channel": channel,
        "event.code": code,
        "winlog.event_id": code,
        "host.name": host,
        **extra,
    }
    return ev(T0 + timedelta(minutes=minute), fields, event_id=event_id)


def detector() -> SigmaDetector:
    cfg = dict(load_config())
    cfg["cache_dir"] = ""
    det = SigmaDetector([RULE], config=cfg)
    assert det.errors == []
    return det


def test_chain_fires_once_in_order() -> None:
    det = detector()
    out = []
    for i in range(5):
        out += det.observe(win(i * 0.5, "4625"))
    out += det.observe(win(6, "4624", **{"winlog.event_data.LogonType": "3"}))
    assert out == []
    out += det.observe(win(9, "7045", **{"winlog.event_data.ServiceName": "psexesvc"}))
    assert [m.rule.id for m in out] == [CHAIN]
    assert out[0].group == {"host.name": "WS01"} and len(out[0].events) == 7
    # a service on another host, or a service without the burst: nothing
    assert det.observe(win(10, "7045", host="WS02")) == []


def test_chain_state_survives_a_restart_and_redelivery(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    det = detector()
    first = [win(i * 0.5, "4625", event_id=f"f{i}") for i in range(5)]
    first.append(win(6, "4624", event_id="ok", **{"winlog.event_data.LogonType": "10"}))
    for e in first:
        assert det.observe(e) == []
    pending = det.checkpoint()
    assert len(pending) == 2  # the burst and the chain
    pending.commit(state)
    assert len(det.checkpoint()) == 0  # nothing changed since
    state.close()

    state = StateStore(tmp_path / "state.db")
    assert set(RuleStateTable(state).load()) >= {f"sigma-correlation:{CHAIN}"}
    again = detector()
    assert again.restore_state(state) == 2
    for e in first:  # the spool delivers them again after the crash: ignored
        assert again.observe(e) == []
    assert again.stats["correlation_duplicates"] >= 6
    out = again.observe(win(9, "7045", event_id="svc", **{"winlog.event_data.ServiceName": "psexesvc"}))
    assert [m.rule.id for m in out] == [CHAIN] and len(out[0].events) == 7
    state.close()


def test_without_the_saved_state_the_service_alone_fires_nothing() -> None:
    det = detector()
    assert det.observe(win(9, "7045", **{"winlog.event_data.ServiceName": "psexesvc"})) == []
