"""Prometheus metrics of the engine, on a registry of their own.

Every stage is handed the one :class:`Metrics` object and increments what it owns;
the API serves :meth:`Metrics.render` at ``/metrics``. The registry is private (not
prometheus_client's global one), so tests and several engines in one process never
collide. Live values that are cheaper to read than to track (queue sizes, spool
backlog) are exposed with :meth:`Metrics.gauge_callback`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

_STORE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The engine's metrics. Attribute names mirror the exported metric names
    (without the ``soc_`` namespace prefix)."""

    def __init__(self, namespace: str = "soc") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.namespace = namespace
        reg, ns = self.registry, namespace
        self.events_received = Counter(
            "events_received", "Raw records accepted, by input.", ["input"], namespace=ns, registry=reg
        )
        self.events_parsed = Counter(
            "events_parsed", "Events produced by parsers, by parser.", ["parser"], namespace=ns, registry=reg
        )
        self.events_failed = Counter(
            "events_failed",
            "Records that failed a stage (parse failures go to dead letter), by stage and reason.",
            ["stage", "reason"],
            namespace=ns,
            registry=reg,
        )
        self.events_stored = Counter(
            "events_stored", "New events written to the store.", namespace=ns, registry=reg
        )
        self.events_duplicate = Counter(
            "events_duplicate", "Events already stored (same event.id), ignored.", namespace=ns, registry=reg
        )
        self.alerts = Counter(
            "alerts", "Alerts created, by severity.", ["severity"], namespace=ns, registry=reg
        )
        self.matches = Counter(
            "matches", "Detector matches, by rule type.", ["rule_type"], namespace=ns, registry=reg
        )
        self.queue_depth = Gauge(
            "queue_depth", "Items waiting in a queue.", ["queue"], namespace=ns, registry=reg
        )
        self.spool_backlog_records = Gauge(
            "spool_backlog_records", "Records in the spool not yet processed.", namespace=ns, registry=reg
        )
        self.spool_backlog_bytes = Gauge(
            "spool_backlog_bytes", "Bytes in the spool not yet processed.", namespace=ns, registry=reg
        )
        self.outbox_backlog = Gauge(
            "outbox_backlog", "Forwarding reports pending delivery.", namespace=ns, registry=reg
        )
        self.outbox_delivered = Counter(
            "outbox_delivered", "Forwarding reports delivered.", namespace=ns, registry=reg
        )
        self.outbox_failed = Counter(
            "outbox_failed",
            "Forwarding deliveries that failed, by reason.",
            ["reason"],
            namespace=ns,
            registry=reg,
        )
        self.store_write_seconds = Histogram(
            "store_write_seconds",
            "Time of one store write.",
            namespace=ns,
            registry=reg,
            buckets=_STORE_BUCKETS,
        )
        self.pipeline_batch_seconds = Histogram(
            "pipeline_batch_seconds",
            "Time to process one pipeline batch.",
            namespace=ns,
            registry=reg,
            buckets=_STORE_BUCKETS,
        )
        self.rule_runs = Counter(
            "rule_runs",
            "Scheduled rule window runs, by rule and status (ok, error, skipped).",
            ["rule", "status"],
            namespace=ns,
            registry=reg,
        )
        self.rule_run_seconds = Histogram(
            "rule_run_seconds",
            "Time to evaluate one window of a scheduled rule.",
            ["rule"],
            namespace=ns,
            registry=reg,
            buckets=_STORE_BUCKETS,
        )
        self.rule_hits = Counter(
            "rule_hits", "Matches of scheduled rules, by rule.", ["rule"], namespace=ns, registry=reg
        )
        self.rule_alerts = Counter(
            "rule_alerts",
            "Alerts created or updated by scheduled rules, by rule.",
            ["rule"],
            namespace=ns,
            registry=reg,
        )
        self.rule_errors = Counter(
            "rule_errors", "Failed runs of scheduled rules, by rule.", ["rule"], namespace=ns, registry=reg
        )
        self._callbacks: dict[str, Gauge] = {}

    def gauge_callback(
        self,
        name: str,
        documentation: str,
        func: Callable[[], float],
        *,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Expose a live value read by ``func`` at every scrape.

        ``name`` gets the namespace prefix. With ``labels``, several callbacks may
        share one name (one child per label set); the label names must agree.
        Registering the same name and labels again replaces the function.
        """
        gauge = self._callbacks.get(name)
        labelnames = sorted(labels or {})
        if gauge is None:
            gauge = Gauge(name, documentation, labelnames, namespace=self.namespace, registry=self.registry)
            self._callbacks[name] = gauge
        elif sorted(gauge._labelnames) != labelnames:
            raise ValueError(
                f"gauge {name!r} was registered with labels {list(gauge._labelnames)}, not {labelnames}"
            )
        target = gauge.labels(**labels) if labels else gauge
        target.set_function(func)

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every metric: ``(body, content_type)``."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def counter_dict(self, name: str, documentation: str, func: Callable[[], Mapping[str, float]]) -> None:
        """Expose a dict of monotonic counts read by ``func`` at every scrape as one
        counter family ``<namespace>_<name>_total{counter="<key>"}`` (the inputs'
        own counters: ``syslog.udp.dropped``, ``netflow.pending_expired``, ...)."""
        self.registry.register(_DictCollector(f"{self.namespace}_{name}", documentation, func))

    def gauge_dict(
        self, name: str, documentation: str, label: str, func: Callable[[], Mapping[str, float]]
    ) -> None:
        """Expose a dict read by ``func`` at every scrape as one gauge family
        ``<namespace>_<name>{<label>="<key>"}`` (per-rule lag of the scheduler)."""
        self.registry.register(_DictGaugeCollector(f"{self.namespace}_{name}", documentation, label, func))


class _DictGaugeCollector(Collector):
    def __init__(
        self, name: str, documentation: str, label: str, func: Callable[[], Mapping[str, float]]
    ) -> None:
        self._name, self._doc, self._label, self._func = name, documentation, label, func

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self._name, self._doc, labels=[self._label])
        for key, value in sorted(dict(self._func()).items()):
            family.add_metric([key], float(value))
        yield family


class _DictCollector(Collector):
    def __init__(self, name: str, documentation: str, func: Callable[[], Mapping[str, float]]) -> None:
        self._name, self._doc, self._func = name, documentation, func

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._doc, labels=["counter"])
        for key, value in sorted(dict(self._func()).items()):
            family.add_metric([key], float(value))
        yield family
