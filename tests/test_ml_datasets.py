"""Detectors on the real labelled captures of the shared datasets (skipped without them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from collectors.inputs.readers import FileReader
from detectors.ml.detectors.dns_tunnel import DnsTunnelDetector
from detectors.ml.frames import load_frame
from detectors.ml.synthetic import BenignGenerator
from soc.pipeline.processor import ParserSet, Processor
from soc.store import MemoryStore
from soc.store.base import Query

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def _events(path: Path) -> list[dict]:
    return Processor(ParserSet(timezone="UTC")).process(list(FileReader(path).records())).events


def test_dns_tunnel_found_in_iodine_pcap(datasets: Path) -> None:
    store = MemoryStore()
    for batch in BenignGenerator(seed=9, hosts=8, users=4, rate=0.5).hours(T0, 12):
        store.write(batch)
    tunnel = _events(datasets / "logs/network/pcap/ndpi/dns-tunnel-iodine.pcap")
    store.write(tunnel)
    detector = DnsTunnelDetector()
    baseline = load_frame(store, Query(start=T0, end=T0 + timedelta(hours=12)), detector.fields)
    model = detector.fit(detector.features(baseline, 600, "UTC"))
    stamps = sorted(e["@timestamp"] for e in tunnel)
    capture = load_frame(store, Query(start=datetime.fromisoformat(stamps[0]) - timedelta(hours=1),
                                      end=datetime.fromisoformat(stamps[-1]) + timedelta(hours=1)),
                         detector.fields)  # fmt: skip
    table = detector.features(capture, 600, "UTC").reset_index(drop=True)
    scores = detector.score(model, table)
    flagged = set(table["entity"][scores >= detector.default_threshold])
    assert flagged == {"10.0.2.30"}  # the iodine client; the DNS server answers, it asks nothing
    top = detector.explain(model, table, int(scores.argmax()))
    assert {t["feature"] for t in top} & {"names_per_domain", "max_subdomain_length", "mean_label_entropy"}
    # and the benign baseline itself raises nothing at the default threshold
    benign = detector.features(baseline, 600, "UTC")
    assert (detector.score(model, benign) < detector.default_threshold).all()
