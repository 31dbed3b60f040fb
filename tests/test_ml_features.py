"""Feature pipelines on small hand-made event sets, through both store kinds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from detectors.ml.features import FEATURE_SETS
from detectors.ml.features.common import shannon_entropy
from detectors.ml.frames import load_frame
from soc.store import DuckDBStore, MemoryStore
from soc.store.base import Query
from tests.helpers_ml import auth, dns_query, flow, process_start

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)  # 10:00 in Asia/Ho_Chi_Minh, a Monday


def _events() -> list[dict]:
    events = [flow(T0 + timedelta(seconds=i), "10.0.0.5", f"10.0.1.{i % 3}", 22 + i, sent=100, n=i)
              for i in range(6)]  # fmt: skip
    events.append(flow(T0 + timedelta(seconds=30), "203.0.113.9", "10.0.0.5", 443, denied=True, n=99))
    events += [auth(T0 + timedelta(seconds=40 + i), "alice", "198.51.100.7", ok=False, n=i) for i in range(4)]
    events.append(auth(T0 + timedelta(seconds=50), "alice", "198.51.100.7", ok=True, host="srv2"))
    events.append(auth(T0 + timedelta(hours=14), "bob", "198.51.100.8", ok=True))  # 21:00 local
    events += [dns_query(T0 + timedelta(seconds=i), "10.0.0.7", f"{label}.example.com", n=i)
               for i, label in enumerate(["www", "mail", "www"])]  # fmt: skip
    events.append(dns_query(T0 + timedelta(seconds=5), "10.0.0.7", "abcd.test.org", qtype="TXT"))
    events.append(process_start(T0, "ws1", "explorer.exe", "cmd.exe"))
    return events


@pytest.fixture(params=["memory", "duckdb"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    s = MemoryStore() if request.param == "memory" else DuckDBStore(tmp_path / "events.duckdb")
    s.write(_events())
    yield s
    s.close()


def _table(store, name: str, window: datetime = T0):
    fs = FEATURE_SETS[name]
    frame = load_frame(store, Query(start=T0 - timedelta(hours=1), end=T0 + timedelta(days=1)), fs.fields)
    table = fs.compute(frame, 600, "Asia/Ho_Chi_Minh")
    return table[table["window"] == window].set_index("entity")


def test_source_features(store) -> None:
    t = _table(store, "source")
    scanner = t.loc["10.0.0.5"]
    assert scanner["connections"] == 6
    assert scanner["distinct_dst_ports"] == 6
    assert scanner["distinct_dst_ips"] == 3
    assert scanner["denies"] == 0
    assert t.loc["203.0.113.9"]["denies"] == 1
    guesser = t.loc["198.51.100.7"]
    assert guesser["auth_failures"] == 4
    assert guesser["distinct_users_failed"] == 1
    assert guesser["failure_ratio"] == pytest.approx(0.8)


def test_host_features(store) -> None:
    t = _table(store, "host")
    host = t.loc["10.0.0.5"]  # a flow with no host.name: the source address is the host
    assert host["distinct_dst_ports"] == 6
    assert host["bytes_out"] == 600
    assert host["events_per_min"] == pytest.approx(6 / 10)
    assert t.loc["srv1"]["failed_logons"] == 4
    assert t.loc["ws1"]["new_processes"] == 1


def test_user_features(store) -> None:
    t = _table(store, "user")
    alice = t.loc["alice"]
    assert alice["logons"] == 1
    assert alice["failures"] == 4
    assert alice["distinct_hosts"] == 2
    assert alice["off_hours_share"] == 0.0
    assert "bob" not in t.index
    assert _table(store, "user", T0 + timedelta(hours=14)).loc["bob"]["off_hours_share"] == 1.0


def test_dns_features(store) -> None:
    t = _table(store, "dns")
    client = t.loc["10.0.0.7"]
    assert client["queries_per_min"] == pytest.approx(4 / 10)
    assert client["distinct_names"] == 3
    assert client["distinct_domains"] == 2
    assert client["names_per_domain"] == 2
    assert client["txt_null_share"] == pytest.approx(0.25)
    expected = (shannon_entropy("www") * 2 + shannon_entropy("mail") + shannon_entropy("abcd")) / 4
    assert client["mean_label_entropy"] == pytest.approx(expected, abs=1e-6)
    assert client["max_subdomain_length"] == 4


def test_entropy() -> None:
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
