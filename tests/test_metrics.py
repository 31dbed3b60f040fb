"""Metrics: own registry, every metric exported, callback gauges."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from soc.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.render()
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counters_gauges_histograms_render() -> None:
    m = Metrics()
    m.events_received.labels(input="syslog").inc(3)
    m.events_parsed.labels(parser="sshd").inc()
    m.events_failed.labels(stage="parse", reason="no_parser").inc(2)
    m.events_stored.inc(5)
    m.events_duplicate.inc()
    m.alerts.labels(severity="high").inc()
    m.matches.labels(rule_type="sigma").inc(4)
    m.queue_depth.labels(queue="parse").set(7)
    m.spool_backlog_records.set(10)
    m.spool_backlog_bytes.set(2048)
    m.outbox_backlog.set(1)
    m.outbox_delivered.inc()
    m.outbox_failed.labels(reason="http_400").inc()
    m.store_write_seconds.observe(0.02)
    m.pipeline_batch_seconds.observe(0.3)
    body, content_type = m.render()
    assert content_type.startswith("text/plain")
    s = samples(m)
    assert s[("soc_events_received_total", (("input", "syslog"),))] == 3
    assert s[("soc_events_parsed_total", (("parser", "sshd"),))] == 1
    assert s[("soc_events_failed_total", (("reason", "no_parser"), ("stage", "parse")))] == 2
    assert s[("soc_events_stored_total", ())] == 5
    assert s[("soc_events_duplicate_total", ())] == 1
    assert s[("soc_alerts_total", (("severity", "high"),))] == 1
    assert s[("soc_matches_total", (("rule_type", "sigma"),))] == 4
    assert s[("soc_queue_depth", (("queue", "parse"),))] == 7
    assert s[("soc_spool_backlog_records", ())] == 10
    assert s[("soc_spool_backlog_bytes", ())] == 2048
    assert s[("soc_outbox_backlog", ())] == 1
    assert s[("soc_outbox_delivered_total", ())] == 1
    assert s[("soc_outbox_failed_total", (("reason", "http_400"),))] == 1
    assert s[("soc_store_write_seconds_count", ())] == 1
    assert s[("soc_pipeline_batch_seconds_sum", ())] == pytest.approx(0.3)
    assert b"# HELP soc_events_received_total" in body


def test_registry_is_private() -> None:
    a, b = Metrics(), Metrics()  # two engines in one process must not collide
    a.events_stored.inc()
    assert samples(b)[("soc_events_stored_total", ())] == 0
    assert "soc_events_stored_total" not in {s.name for fam in REGISTRY.collect() for s in fam.samples}


def test_callback_gauges_read_live_values() -> None:
    m = Metrics()
    depth = {"parse": 3, "store": 8}
    m.gauge_callback("live_queue", "Live queue size.", lambda: depth["parse"], labels={"queue": "parse"})
    m.gauge_callback("live_queue", "Live queue size.", lambda: depth["store"], labels={"queue": "store"})
    m.gauge_callback("uptime_seconds", "Uptime.", lambda: 42.0)
    s = samples(m)
    assert s[("soc_live_queue", (("queue", "parse"),))] == 3
    assert s[("soc_uptime_seconds", ())] == 42
    depth["store"] = 11
    assert samples(m)[("soc_live_queue", (("queue", "store"),))] == 11
    with pytest.raises(ValueError, match="labels"):
        m.gauge_callback("live_queue", "x", lambda: 1, labels={"other": "a"})
    m.spool_backlog_records.set_function(lambda: 99)
    assert samples(m)[("soc_spool_backlog_records", ())] == 99
