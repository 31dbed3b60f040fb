"""The asset inventory in the running engine: events are enriched at ingest from
`assets.file`, events from hosts in no asset are flagged and listed by
`soc assets unknown`, and alerts carry the system's security level and risk."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from soc.cli.main import main
from soc.config import load_config
from soc.store import MemoryStore, Query
from tests.helpers_engine import write_config
from tests.test_engine import records, run_engine

LINES = [
    "Nov 27 10:00:01 web01 sshd[100]: Accepted publickey for ops from 10.10.1.5 port 40001 ssh2",
    "Nov 27 10:00:02 portal01 sshd[101]: Invalid user admin from 203.0.113.9 port 40002",
    "Nov 27 10:00:03 kiosk-7 sshd[102]: Invalid user admin from 203.0.113.9 port 40003",
    "Nov 27 10:00:04 kiosk-7 sshd[103]: Invalid user guest from 203.0.113.9 port 40004",
]


def test_engine_enriches_flags_unknown_and_scores_alerts(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "assets.yaml").write_text(
        """
agencies:
  - id: ubnd-tinh
    name: Văn phòng UBND tỉnh
    systems:
      - name: Quản lý văn bản
        criticality: critical
        assets:
          - {host: portal01, security_level: 3}
          - {ip: 10.20.0.0/16, security_level: 4}
""",
        encoding="utf-8",
    )
    agencies = [{"id": "so-tttt", "name": "Sở Thông tin và Truyền thông", "hosts": ["web01"]}]
    path = write_config(
        tmp_path / "soc.yaml", store={"backend": "memory"}, agencies=agencies, assets={"file": "assets.yaml"}
    )
    store = MemoryStore()
    engine = run_engine(load_config(path, environ={}), data_dir, store, [records(LINES)])
    try:
        events = {e["host"]["name"]: e for e in store.search(Query(), size=10).events}
        portal = events["portal01"]
        assert portal["organization"] == {"id": "ubnd-tinh", "name": "Văn phòng UBND tỉnh"}
        assert portal["soc"]["asset"]["security_level"] == 4  # the system's level: max of its parts
        assert portal["labels"]["security_level"] == "4"
        assert events["web01"]["organization"]["id"] == "so-tttt"  # config agencies still apply
        assert "asset_unknown" not in events["web01"].get("labels", {})
        assert events["kiosk-7"]["labels"]["asset_unknown"] == "true"
        alerts = {a.host: a for a in engine.alerts.list()[0]}
        assert alerts["portal01"].security_level == 4 and alerts["portal01"].criticality == "critical"
        assert alerts["portal01"].risk_score > alerts["kiosk-7"].risk_score
    finally:
        engine.stop()
    assert main(["assets", "unknown", "--data-dir", str(data_dir), "--json"]) == 0
    unknown = orjson.loads(capsys.readouterr().out)["unknown"]
    assert [(u["field"], u["value"], u["count"]) for u in unknown] == [("host.name", "kiosk-7", 2)]
