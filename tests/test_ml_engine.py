"""The engine runs the ML detectors through its rule scheduler when ``detection.ml`` is on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from soc.config import load_config
from soc.event import format_ts
from soc.pipeline.engine import Engine
from soc.store import DuckDBStore
from tests.helpers_engine import write_config


def _engine(tmp_path: Path, enabled: bool) -> Engine:
    config = write_config(
        tmp_path / "soc.yaml",
        detection={
            "sigma": {"enabled": False},
            "ml": {"enabled": enabled, "window_minutes": 10, "retrain_hours": 24},
            "scheduler": {"run_every_s": 1, "log_source_health": {"enabled": False}},
        },
    )
    return Engine(load_config(config), tmp_path / "data", serve_api=False)


def _seed(data_dir: Path) -> None:
    """Failed SSH logins in the day before the training rule's first window ends."""
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    store = DuckDBStore(data_dir / "events.duckdb")
    store.write([
        {
            "@timestamp": format_ts(end - timedelta(hours=2, seconds=-7 * i)),
            "event": {"id": f"ml-{i}", "category": ["authentication"], "action": "ssh_login",
                      "outcome": "failure"},
            "source": {"ip": f"198.51.100.{i % 20}"},
            "destination": {"ip": "10.0.0.5", "port": 22},
            "host": {"name": "portal01"},
            "user": {"name": f"user{i % 7}"},
        }
        for i in range(300)
    ])  # fmt: skip
    store.close()


def test_engine_schedules_ml_training_and_scoring(tmp_path: Path) -> None:
    _seed(tmp_path / "data")
    engine = _engine(tmp_path, True)
    engine.start()
    try:
        assert engine.scheduler is not None and engine.scheduler.wait_ready(30)
        assert {"ml.train", "ml.score"} <= {r.rule.id for r in engine.scheduler.rules}
        # a new rule first fires one interval (retrain_hours) after start; run it now
        summary = engine.scheduler.run_rule("ml.train")
        status = {r["rule_id"]: r for r in engine.rule_status()}
        assert status["ml.train"]["runs"] >= 1 and status["ml.train"]["errors"] == 0, summary
        saved = list((tmp_path / "data" / "ml" / "models").rglob("*.json"))
        assert saved, "training saved no model"
        assert status["ml.score"]["errors"] == 0
    finally:
        engine.stop()


def test_ml_off_by_default_in_the_engine(tmp_path: Path) -> None:
    engine = _engine(tmp_path, False)
    engine.start()
    try:
        assert engine.scheduler is not None and engine.scheduler.wait_ready(30)
        assert not {"ml.train", "ml.score"} & {r.rule.id for r in engine.scheduler.rules}
    finally:
        engine.stop()
