"""Detectors on hand-made traffic: a beacon is found and jittery human traffic is not;
cold start raises nothing; models round-trip through the registry with their metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from detectors.ml.detectors.beaconing import BeaconingDetector
from detectors.ml.frames import load_frame
from detectors.ml.lifecycle import LoadedModels, score_window, train
from detectors.ml.registry import ModelIntegrityError, ModelRegistry
from detectors.ml.settings import MLSettings
from detectors.ml.synthetic import BenignGenerator, beacon
from soc.store import MemoryStore
from soc.store.base import Query
from tests.helpers_ml import auth, flow

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
SPAN = 6 * 3600


def _human(start: datetime, src: str, dst: str, seed: int = 3) -> list[dict]:
    """Browsing: exponential gaps (mean 4 min) and lognormal sizes to one server."""
    rng = np.random.default_rng(seed)
    out, t, i = [], 0.0, 0
    while t < SPAN:
        out.append(flow(start + timedelta(seconds=t), src, dst, 443, sent=int(rng.lognormal(8, 1.5)), n=i))
        t += float(rng.exponential(240))
        i += 1
    return out


def _pair_scores(events: list[dict]) -> dict[str, float]:
    store = MemoryStore()
    store.write(events)
    detector = BeaconingDetector()
    frame = load_frame(store, Query(start=T0, end=T0 + timedelta(seconds=SPAN)), detector.fields)
    table = detector.features(frame, SPAN, "UTC")
    scores = detector.score(detector.fit(table.iloc[0:0]), table)
    return dict(zip(table["entity"], scores, strict=True))


def test_beacon_found_human_traffic_not() -> None:
    events = beacon(T0, 6, "10.0.0.5", "192.0.2.66", 8443, period_s=300, jitter=0.2, seed=4)
    events += _human(T0, "10.0.0.6", "203.0.113.10")
    scores = _pair_scores(events)
    assert scores["10.0.0.5 -> 192.0.2.66:8443"] >= BeaconingDetector.default_threshold
    assert scores["10.0.0.6 -> 203.0.113.10:443"] < BeaconingDetector.default_threshold


def test_beacon_with_missed_checkins_still_found() -> None:
    events = beacon(T0, 6, "10.0.0.5", "192.0.2.66", 443, period_s=120, jitter=0.1, seed=5)
    del events[10:14]  # the host slept through four check-ins
    assert _pair_scores(events)["10.0.0.5 -> 192.0.2.66:443"] >= BeaconingDetector.default_threshold


def _settings(**kw) -> MLSettings:
    base = {"window_minutes": 10, "baseline_windows": 6 * 24, "min_baseline_windows": 100,
            "detectors": ("bruteforce_source", "scan"), "timezone": "UTC"}  # fmt: skip
    base.update(kw)
    return MLSettings(**base)


def _baseline_store(hours: int) -> MemoryStore:
    store = MemoryStore()
    gen = BenignGenerator(seed=11, hosts=6, users=6, rate=0.3)
    for batch in gen.hours(T0, hours):
        store.write(batch)
    return store


def _attack(store: MemoryStore, at: datetime) -> None:
    store.write([auth(at + timedelta(seconds=i), f"u{i % 7}", "45.9.20.1", ok=False, n=i) for i in range(40)])


def test_cold_start_raises_nothing_then_alerts(tmp_path: Path) -> None:
    store = _baseline_store(hours=12)
    registry = ModelRegistry(tmp_path / "models")
    end = T0 + timedelta(hours=12)
    _attack(store, end + timedelta(minutes=1))
    # 12 hours = 72 windows < 100: trained, but cold
    reports = train(store, registry, _settings(), end=end)
    assert all(r.cold for r in reports)
    cold = score_window(store, LoadedModels(registry), _settings(), end, end + timedelta(minutes=10))
    assert cold.matches == []
    assert "cold start" in cold.cold["bruteforce_source"]
    # with a lower bar the same model alerts on the brute force, and explains it
    warm = score_window(store, LoadedModels(registry), _settings(min_baseline_windows=50), end,
                        end + timedelta(minutes=10))  # fmt: skip
    brute = [m for m in warm.matches if m.rule.id == "ml.bruteforce_source"]
    assert [m.group for m in brute] == [{"source.ip": "45.9.20.1"}]
    details = brute[0].details
    assert details["top_features"][0]["feature"] in ("auth_failures", "distinct_users_failed")
    assert details["top_features"][0]["value"] >= 7
    assert "baseline_median" in details["top_features"][0]
    assert "tại 45.9.20.1" in details["explanation"]["vi"] and "at 45.9.20.1" in details["explanation"]["en"]
    assert len(brute[0].events) == 20 and all(e["source"]["ip"] == "45.9.20.1" for e in brute[0].events)
    assert not [m for m in warm.matches if m.group.get("source.ip", "").startswith("10.")]


def test_model_round_trip_with_metadata(tmp_path: Path) -> None:
    store = _baseline_store(hours=4)
    registry = ModelRegistry(tmp_path / "models")
    end = T0 + timedelta(hours=4)
    reports = train(store, registry, _settings(detectors=("scan",)), end=end)
    meta = reports[0].meta
    assert meta is not None and meta.version == 1
    model, loaded = registry.load("scan")
    assert loaded.train_start.startswith("2026-03-01T04:00:00")  # 144 windows of 10 minutes back
    assert loaded.train_end.startswith("2026-03-02T04:00:00")
    assert loaded.features == ["failed_dst_ports", "distinct_dst_ports", "distinct_dst_ips"]
    assert len(loaded.data_hash) == 64 and loaded.sha256 == meta.sha256
    assert loaded.baseline_windows == 24 and loaded.window_seconds == 600
    assert set(model.population) >= {"*"}
    again = train(store, registry, _settings(detectors=("scan",)), end=end)[0].meta
    assert again.version == 2 and again.data_hash == meta.data_hash  # same data, same hash
    path = tmp_path / "models" / "scan" / "v0002.joblib"
    path.write_bytes(path.read_bytes() + b"tampered")
    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        registry.load("scan")


def test_scoring_rule_is_a_scheduled_rule(tmp_path: Path) -> None:
    from detectors.base import ScheduledRule
    from detectors.ml.lifecycle import MLScoringRule

    store = _baseline_store(hours=12)
    registry = ModelRegistry(tmp_path / "models")
    end = T0 + timedelta(hours=12)
    _attack(store, end + timedelta(minutes=1))
    settings = _settings(min_baseline_windows=50)
    train(store, registry, settings, end=end)
    rule: ScheduledRule = MLScoringRule(registry, settings)
    assert rule.run_every == rule.buffer_time == timedelta(minutes=10)
    matches = rule.evaluate(store, end, end + timedelta(minutes=10))
    assert [m.rule.id for m in matches] == ["ml.bruteforce_source"]
    assert matches[0].rule.type == "ml"
    state = rule.snapshot()
    again = MLScoringRule(registry, settings)
    again.restore(state)
    assert again.last_end == end + timedelta(minutes=10)
    assert rule.evaluate(store, end + timedelta(minutes=10), end + timedelta(minutes=20)) == []


def test_per_agency_baseline_when_data_allows() -> None:
    import pandas as pd

    from detectors.ml.baseline import RobustBaseline

    rows = [{"entity": f"h{i}", "agency": "a", "window": T0, "bytes_out": 10.0} for i in range(60)]
    rows += [{"entity": f"g{i}", "agency": "b", "window": T0, "bytes_out": 1e6} for i in range(60)]
    rows += [{"entity": f"c{i}", "agency": "c", "window": T0, "bytes_out": 1e3} for i in range(3)]
    baseline = RobustBaseline(("bytes_out",)).fit(pd.DataFrame(rows), per_entity=False)
    assert set(baseline.population) == {"*", "a", "b"}  # agency c has too few windows
    assert baseline.stats_for("new", "b") == ("agency", baseline.population["b"])
    assert baseline.stats_for("new", "c")[0] == "population"
    probe = pd.DataFrame([{"entity": "x", "agency": "a", "window": T0, "bytes_out": 1e6},
                          {"entity": "y", "agency": "b", "window": T0, "bytes_out": 1e6}])  # fmt: skip
    z = baseline.zscores(probe)["bytes_out"]
    assert z[0] > 10 and abs(z[1]) < 1e-9  # a megabyte is huge for agency a, ordinary for b


def test_rare_process_pair_and_beacon_explanations() -> None:
    from detectors.ml.detectors.rare_process import RareProcessDetector
    from tests.helpers_ml import process_start

    common = [process_start(T0 + timedelta(minutes=i), f"ws{i % 5}", "explorer.exe", "chrome.exe", n=i)
              for i in range(200)]  # fmt: skip
    later = T0 + timedelta(hours=5)
    new = [process_start(later, "ws1", "winword.exe", "powershell.exe"),
           process_start(later, "ws1", "explorer.exe", "chrome.exe", n=999)]  # fmt: skip
    store = MemoryStore()
    store.write(common + new)
    detector = RareProcessDetector()
    base = load_frame(store, Query(start=T0, end=T0 + timedelta(hours=4)), detector.fields)
    model = detector.fit(detector.features(base, 600, "UTC"))
    now = load_frame(
        store, Query(start=T0 + timedelta(hours=5), end=T0 + timedelta(hours=6)), detector.fields
    )
    table = detector.features(now, 600, "UTC").reset_index(drop=True)
    scores = dict(zip(table["child"], detector.score(model, table), strict=True))
    assert scores["powershell.exe"] >= detector.default_threshold > scores["chrome.exe"]
    position = int(table.index[table["child"] == "powershell.exe"][0])
    finding = detector.finding(model, table, position, scores["powershell.exe"])
    text = detector.explanation(finding)
    assert "winword.exe -> powershell.exe" in text["en"] and "0 lần" in text["vi"]

    beacons = beacon(T0, 6, "10.0.0.5", "192.0.2.66", 8443, period_s=300, jitter=0.2, seed=4)
    store = MemoryStore()
    store.write(beacons)
    bd = BeaconingDetector()
    table = bd.features(
        load_frame(store, Query(start=T0, end=T0 + timedelta(hours=6)), bd.fields), SPAN, "UTC"
    )
    model = bd.fit(table.iloc[0:0])
    finding = bd.finding(model, table, 0, float(bd.score(model, table)[0]))
    assert finding.extra["destination.ip"] == "192.0.2.66" and finding.extra["destination.port"] == 8443
    text = bd.explanation(finding)
    assert "10.0.0.5 -> 192.0.2.66:8443" in text["en"] and "median interval 300 s" in text["en"]


def test_dga_client_found_benign_clients_not() -> None:
    from detectors.ml.detectors.dga import DgaDetector, dga_like
    from detectors.ml.synthetic import dga_queries

    assert dga_like("xkqjwpztbrm.com") and not dga_like("vnexpress.net") and not dga_like("google.com")
    store = _baseline_store(hours=12)
    later = T0 + timedelta(hours=12)
    for batch in BenignGenerator(seed=12, hosts=6, users=6, rate=0.3).hours(later, 1):
        store.write(batch)
    store.write(dga_queries(later + timedelta(minutes=2), "10.10.1.99", 40))
    detector = DgaDetector()
    base = load_frame(store, Query(start=T0, end=later), detector.fields)
    model = detector.fit(detector.features(base, 600, "UTC"))
    now = load_frame(store, Query(start=later, end=later + timedelta(hours=1)), detector.fields)
    table = detector.features(now, 600, "UTC").reset_index(drop=True)
    scores = detector.score(model, table)
    flagged = set(table["entity"][scores >= detector.default_threshold])
    assert flagged == {"10.10.1.99"}
    finding = detector.finding(model, table, int(scores.argmax()), float(scores.max()))
    assert (
        finding.top_features[0]["value"] >= 30
        and "never seen in the baseline" in detector.explanation(finding)["en"]
    )


def test_apscheduler_jobs_train_then_score(tmp_path: Path) -> None:
    from detectors.ml.lifecycle import align, build_scheduler
    from soc.event import utcnow

    now = align(utcnow(), 600)
    start = now - timedelta(hours=12)
    store = MemoryStore()
    for batch in BenignGenerator(seed=3, hosts=5, users=5, rate=0.3).hours(start, 12):
        store.write(batch)
    _attack(store, now - timedelta(minutes=9))

    class Shared:  # the scheduler closes what it opens; this store outlives the jobs
        def __getattr__(self, name: str):
            return getattr(store, name)

        def close(self) -> None:
            pass

    settings = _settings(baseline_windows=72, min_baseline_windows=50, query_delay_minutes=0)
    registry = ModelRegistry(tmp_path / "models")
    seen: list = []
    scheduler = build_scheduler(Shared, registry, settings, seen.extend)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"ml-train", "ml-score"}
    assert jobs["ml-train"].trigger.interval == timedelta(hours=24)
    jobs["ml-train"].func()
    assert registry.meta("scan") is not None and registry.meta("bruteforce_source") is not None
    jobs["ml-score"].func()
    assert [m.group for m in seen if m.rule.id == "ml.bruteforce_source"] == [{"source.ip": "45.9.20.1"}]
