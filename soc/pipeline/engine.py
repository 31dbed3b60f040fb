"""The engine: wires collectors, the spool, processing, the stores, alerts, forwarding
and the API, and runs them as threads joined by bounded queues.

Data flow and the at-least-once guarantee::

    inputs --accept()--> Spool (disk) --reader--> [queue] --processor--> [queue] --writer
                                                    parse, normalize,        store.write(events)
                                                    enrich, detect           dead letters, alerts
                                                                             spool.ack(last seq)

A record is acknowledged in the spool only after its events, dead letters and alerts
are stored, so a crash (kill -9) or a store outage loses nothing: unacknowledged
records are processed again at the next start, and the deterministic ``event.id``
makes the store ignore the second copy.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from collectors.inputs.base import CheckpointStore, Input, InputContext
from detectors.base import Match, ScheduledRule, StreamingDetector, severity_rank
from soc import __version__
from soc.access import AccessControl
from soc.alerts import AlertChange, AlertRepository
from soc.assets import AssetStore
from soc.assets.enrich import build_asset_enricher
from soc.config import LoadedConfig, StoreConfig
from soc.event import Event, RawRecord, format_ts, utcnow
from soc.metrics import Metrics
from soc.pipeline.deadletter import DeadLetter, DeadLetterStore, event_record
from soc.pipeline.inputs import build_input
from soc.pipeline.processor import BatchResult, ParserSet, Processor
from soc.spool import Spool, SpoolFullError
from soc.state import StateCheckpoints, StateStore
from soc.store import Store, StoreError, WriteResult, open_store

log = logging.getLogger(__name__)

_STOP = object()
RULE_RELOAD_INTERVAL_S = 5.0
ASSET_RELOAD_INTERVAL_S = 10.0


def store_options(settings: StoreConfig, resolve: Callable[[str], Path] = Path) -> dict[str, Any]:
    """The backend-specific options of the configured store (``resolve`` makes the
    config's relative file paths absolute)."""
    if settings.backend == "duckdb":
        return {
            "checkpoint_interval_s": settings.checkpoint_interval_s,
            "memory_limit": settings.memory_limit,
        }
    if settings.backend == "elasticsearch":
        es = settings.elasticsearch
        return {
            "hosts": list(es.hosts),
            "api_key_env": es.api_key_env,
            "username": es.username,
            "password_env": es.password_env,
            "ca_file": str(resolve(es.ca_file)) if es.ca_file else None,
            "verify_tls": es.verify_tls,
            "request_timeout_s": es.request_timeout_s,
            "index_prefix": es.index_prefix,
            "bulk_max_events": es.bulk_max_events,
            "bulk_max_bytes": es.bulk_max_bytes,
            "bulk_retries": es.bulk_retries,
            "retention_days_by_level": dict(es.retention_days_by_level),
        }
    return {}


class EngineBusyError(RuntimeError):
    """Another engine owns this data directory."""


@dataclass(frozen=True, slots=True)
class DataDir:
    """Where one engine keeps its files."""

    root: Path

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def state(self) -> Path:
        return self.root / "state.db"

    @property
    def lock(self) -> Path:
        return self.root / "engine.lock"

    @property
    def engine_info(self) -> Path:
        return self.root / "engine.json"

    @property
    def token(self) -> Path:
        return self.root / "api.token"


def api_token(data_dir: DataDir) -> str:
    """The API bearer token: ``SOC_API_TOKEN``, or a random one kept in the data
    directory (mode 0600) so CLI commands on this machine can use it."""
    if env := os.environ.get("SOC_API_TOKEN"):
        return env
    path = data_dir.token
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    data_dir.root.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def running_engine(data_dir: DataDir) -> dict[str, Any] | None:
    """The facts of the engine that owns ``data_dir`` (pid, api_url), if one runs."""
    if not data_dir.lock.exists():
        return None
    with open(data_dir.lock, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            fcntl.flock(fh, fcntl.LOCK_UN)
            return None
    try:
        return orjson.loads(data_dir.engine_info.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {"pid": None, "api_url": None}


@dataclass
class EngineCounters:
    batches: int = 0
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    alerts_created: int = 0
    alerts_updated: int = 0
    store_errors: int = 0
    detector_errors: int = 0
    inputs: dict[str, int] = field(default_factory=dict)


class Engine:
    """One engine over one data directory.

    ``inputs`` replaces the inputs from the config (one-shot ingest and tests);
    ``serve_api`` overrides ``api.enabled``; ``api_port`` overrides ``api.port``;
    ``checkpoints`` replaces the persisted input checkpoints (one-shot ingest reads
    the whole file every time); ``store`` replaces the configured event store.
    """

    def __init__(
        self,
        config: LoadedConfig,
        data_dir: Path,
        *,
        inputs: Sequence[Input] | None = None,
        serve_api: bool | None = None,
        api_port: int | None = None,
        detectors: Sequence[StreamingDetector] | None = None,
        checkpoints: CheckpointStore | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self.settings = config.settings
        self.dirs = DataDir(data_dir)
        self._inputs_override = inputs
        self.serve_api = self.settings.api.enabled if serve_api is None else serve_api
        self.api_port = self.settings.api.port if api_port is None else api_port
        self._detectors_override = detectors
        self._checkpoints_override = checkpoints
        self._store_override = store
        self.stop_event = threading.Event()
        self.counters = EngineCounters()
        self.api_url: str | None = None
        self.alert_listeners: list[Callable[[AlertChange], None]] = []
        self._threads: list[threading.Thread] = []
        self._input_threads: list[threading.Thread] = []
        self._lock_file: Any = None
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._api_server: Any = None
        self.inputs: list[Input] = []
        self.detectors: list[StreamingDetector] = []
        self.started = False
        self.scheduler: Any = None
        self.rule_providers: list[Callable[[Store], Sequence[ScheduledRule]]] = []
        """Extra scheduled rules (e.g. the stateful rule types); the Sigma query rules and the
        log-source health rules are added from the config (``soc.scheduling.setup``)."""

    # lifecycle --------------------------------------------------------------

    def start(self) -> None:
        self.dirs.root.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        s = self.settings
        self.metrics = Metrics()
        self.state = StateStore(self.dirs.state)
        self.store: Store = self._store_override or open_store(
            s.store.backend, self.dirs.root, **store_options(s.store, self.config.resolve)
        )
        self.spool = Spool(
            self.dirs.spool,
            segment_bytes=s.spool.segment_mb * 1024 * 1024,
            max_backlog_bytes=s.spool.max_backlog_mb * 1024 * 1024,
            fsync_interval_s=s.spool.fsync_interval_ms / 1000,
        )
        self.alerts = AlertRepository(
            self.state, dedup_window=timedelta(minutes=s.alerts.dedup_window_minutes)
        )
        self.dead_letters = DeadLetterStore(self.state)
        self.asset_store = AssetStore(self.state)
        self.asset_enricher = build_asset_enricher(
            s.agencies,
            self.config.resolve(s.assets.file) if s.assets.file else None,
            self.asset_store,
            flag_unknown=s.assets.flag_unknown,
        )
        self.detectors = (
            list(self._detectors_override)
            if self._detectors_override is not None
            else (self._build_detectors())
        )
        self._checkpointers = [d for d in self.detectors if hasattr(d, "checkpoint")]
        self._last_checkpoint = time.monotonic()
        self.processor = Processor(
            ParserSet(timezone=s.timezone),
            enrichers=[self.asset_enricher],
            detectors=self.detectors,
            keep_original=s.event.keep_original,
        )
        self.forwarding = self._build_forwarding()
        self.notifications, self.routing = self._build_routing()
        if hasattr(self.store, "index_alerts"):  # a store Kibana browses gets the alerts too
            self.alert_listeners.append(self._index_alert)
        self._register_gauges()
        self.scheduler = self._start_scheduler()
        self._parse_q: queue.Queue[Any] = queue.Queue(maxsize=s.pipeline.queue_batches)
        self._write_q: queue.Queue[Any] = queue.Queue(maxsize=s.pipeline.queue_batches)
        self._spawn("spool-reader", self._reader_loop)
        self._spawn("processor", self._processor_loop)
        self._spawn("writer", self._writer_loop)
        self._spawn("maintenance", self._maintenance_loop)
        if self.forwarding is not None:
            self._spawn("forwarding", lambda: self.forwarding.run(self.stop_event))
        if self.notifications is not None:
            self._spawn("notifications", lambda: self.notifications.run(self.stop_event))
        if self.serve_api:
            self._start_api()
        self._start_inputs()
        self.started = True
        log.info(
            "engine started: data dir %s, store %s, %d inputs, api %s",
            self.dirs.root,
            s.store.backend,
            len(self.inputs),
            self.api_url or "off",
        )

    def stop(self, *, drain_timeout_s: float = 30.0) -> None:
        """Stop inputs, process what they accepted (up to ``drain_timeout_s``), stop."""
        if not self.started:
            return
        self._stop_inputs.set()
        for thread in self._input_threads:
            thread.join(timeout=10)
        self.wait_drained(drain_timeout_s)
        self.stop_event.set()
        self._parse_q.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=30)
        if self._api_server is not None:
            self._api_server.should_exit = True
            self._api_thread.join(timeout=10)
        self._save_detector_state()
        if self.scheduler is not None:
            self.scheduler.stop()
        self.store.flush()
        self.store.close()
        self.spool.close()
        self.state.close()
        self.dirs.engine_info.unlink(missing_ok=True)
        self._release_lock()
        self.started = False
        log.info("engine stopped")

    def wait_inputs(self, timeout_s: float | None = None) -> bool:
        """Wait until every input's ``run`` returned (one-shot file inputs)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        for thread in self._input_threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._input_threads)

    def wait_drained(self, timeout_s: float = 60.0) -> bool:
        """Wait until every accepted record is processed and acknowledged."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.spool.backlog()[0] == 0 and self._idle():
                return True
            time.sleep(0.02)
        return False

    def _idle(self) -> bool:
        with self._busy_lock:
            return self._busy == 0 and self._parse_q.empty() and self._write_q.empty()

    # accepting records ------------------------------------------------------

    def accept(self, records: list[RawRecord], input_name: str = "api") -> None:
        """Durably accept records (append to the spool). Blocks while the spool's
        backlog is full (backpressure) until there is room or the engine stops."""
        if not records:
            return
        while True:
            try:
                self.spool.append(records)
                break
            except SpoolFullError:
                log.warning("spool full: input %s waits for the pipeline to catch up", input_name)
                if self.stop_event.is_set():
                    raise
        self.metrics.events_received.labels(input=input_name).inc(len(records))

    # stage loops ------------------------------------------------------------

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=self._guard(name, target), name=f"soc-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guard(self, name: str, target: Callable[[], None], *, fatal: bool = True) -> Callable[[], None]:
        """Run a thread's loop; a crash is logged, and a crash of a pipeline stage
        (``fatal``) stops processing (records stay in the spool for the next start)."""

        def run() -> None:
            try:
                target()
            except Exception:
                if fatal:
                    log.exception("engine thread %s died; stopping the engine's processing", name)
                    self.stop_event.set()
                else:
                    log.exception("input %s stopped with an error; the other inputs go on", name)

        return run

    def _reader_loop(self) -> None:
        size = self.settings.pipeline.batch_size
        wait = self.settings.pipeline.batch_wait_ms / 1000
        while not self.stop_event.is_set():
            items = self.spool.read(size, wait)
            if not items:
                continue
            with self._busy_lock:
                self._busy += 1
            self._put(self._parse_q, items)

    def _put(self, q: queue.Queue[Any], item: Any) -> None:
        while not self.stop_event.is_set():
            try:
                q.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _processor_loop(self) -> None:
        last_tick = last_reload = time.monotonic()
        while True:
            try:
                items = self._parse_q.get(timeout=1.0)
            except queue.Empty:
                items = None
            if items is _STOP:
                self._write_q.put(_STOP)
                return
            now = time.monotonic()
            if now - last_reload >= RULE_RELOAD_INTERVAL_S:
                last_reload = now
                self._reload_rules()
            if now - last_tick >= 1.0:
                last_tick = now
                tick_matches = self.processor.tick()
                if tick_matches:
                    with self._busy_lock:
                        self._busy += 1
                    self._put(self._write_q, (None, BatchResult(matches=tick_matches)))
            if items is None:
                continue
            started = time.perf_counter()
            result = self.processor.process([record for _, record in items])
            self._checkpoint_detectors(result)
            self.metrics.pipeline_batch_seconds.observe(time.perf_counter() - started)
            self._put(self._write_q, (items[-1][0], result))

    def _reload_rules(self) -> None:
        """Pick up changed rule files (hot reload); runs in the processor thread, the one
        that calls ``observe``, so a swap never races a match."""
        for detector in self.detectors:
            reload = getattr(detector, "reload", None)
            if reload is None:
                continue
            try:
                report = reload()
            except Exception:
                log.exception("reloading the rules of %s failed; the old rules keep running", detector.name)
                continue
            changed = getattr(report, "changed_files", ()) or getattr(report, "removed_files", ())
            if changed:
                log.info("rules reloaded: %s", report)
            for error in getattr(report, "errors", ()):
                log.warning("rule not reloaded, the previous version keeps running: %s", error)

    def _checkpoint_detectors(self, result: BatchResult) -> None:
        """Take the stateful detectors' checkpoints with this batch (processor thread) when
        the pipeline is idle or ``checkpoint_interval_s`` has passed; the writer acknowledges
        spool records only with a batch that carries one, so a restart never resumes the
        spool past the saved rule state (re-delivered events are deduplicated by id)."""
        if not self._checkpointers:
            return
        now = time.monotonic()
        interval = self.settings.detection.stateful.checkpoint_interval_s
        if self._parse_q.empty() or now - self._last_checkpoint >= interval:
            self._last_checkpoint = now
            result.checkpoints = [d.checkpoint() for d in self._checkpointers]  # type: ignore[attr-defined]

    def _commit_checkpoints(self, result: BatchResult) -> bool:
        """Write a batch's detector checkpoints; False: the batch may not be acknowledged yet."""
        if not self._checkpointers:
            return True
        if result.checkpoints is None:
            return False
        for pending in result.checkpoints:
            pending.commit(self.state)
        return True

    def _save_detector_state(self) -> None:
        """At stop (processing threads joined): every stateful detector's last state."""
        for detector in self._checkpointers:
            try:
                detector.checkpoint().commit(self.state)  # type: ignore[attr-defined]
            except Exception:
                log.exception("could not save the state of detector %s", detector.name)

    def _writer_loop(self) -> None:
        while True:
            item = self._write_q.get()
            if item is _STOP:
                return
            last_seq, result = item
            try:
                self._write(result)
                if last_seq is not None and self._commit_checkpoints(result):
                    self.spool.ack(last_seq)
            finally:
                with self._busy_lock:
                    self._busy -= 1

    def _write(self, result: BatchResult) -> None:
        """Store a batch; retried until it succeeds (the spool holds the records).
        Events the store refuses as invalid go to the dead-letter store instead."""
        backoff = 0.5
        while True:
            try:
                started = time.perf_counter()
                written = self._store_events(result)
                if written is not None:
                    self.metrics.store_write_seconds.observe(time.perf_counter() - started)
                break
            except Exception as exc:  # store outage: keep the batch, retry
                self.counters.store_errors += 1
                log.warning("store write failed (%s); retrying in %.1fs", exc, backoff)
                if self.stop_event.wait(backoff):
                    raise
                backoff = min(backoff * 2, 30.0)
        self.dead_letters.add(result.dead_letters)
        self.asset_enricher.flush_unknown(self.asset_store)
        self._record_matches(result.matches)
        c = self.counters
        c.batches += 1
        c.events += len(result.events)
        c.dead_letters += len(result.dead_letters)
        c.detector_errors += result.detector_errors
        if written is not None:
            c.stored += written.stored
            c.duplicates += written.duplicates
            self.metrics.events_stored.inc(written.stored)
            self.metrics.events_duplicate.inc(written.duplicates)
        for parser, n in result.parsed_by.items():
            self.metrics.events_parsed.labels(parser=parser).inc(n)
        for letter in result.dead_letters:
            self.metrics.events_failed.labels(stage=letter.stage, reason=letter.parser).inc()

    def _store_events(self, result: BatchResult) -> WriteResult | None:
        if not result.events:
            return None
        try:
            written = self.store.write(result.events)
        except StoreError as exc:
            if exc.retryable:
                raise
        else:
            self._reject(result, written.rejected)
            return written
        # the batch holds an event the store refuses: store the others one by one
        total = WriteResult()
        kept = []
        for event in result.events:
            try:
                one = self.store.write([event])
            except StoreError as exc:
                if exc.retryable:
                    raise
                result.dead_letters.append(DeadLetter(event_record(event), "store", "store", str(exc)))
                continue
            self._reject(result, one.rejected)
            if not one.rejected:
                kept.append(event)
            total.stored += one.stored
            total.duplicates += one.duplicates
        result.events = kept
        return total

    def _reject(self, result: BatchResult, rejected: Sequence[tuple[Event, str]]) -> None:
        """Events the store refused for good go to the dead-letter store with its reason."""
        if not rejected:
            return
        refused = {id(event) for event, _ in rejected}
        result.events = [e for e in result.events if id(e) not in refused]
        for event, reason in rejected:
            result.dead_letters.append(DeadLetter(event_record(event), "store", "store", reason))

    def _record_matches(self, matches: Sequence[Match]) -> int:
        """Matches to alerts (deduplicated), listeners and forwarding; returns how many alerts
        were created or updated (the scheduler records it per window)."""
        recorded = 0
        floor = severity_rank(self.settings.alerts.min_severity)
        for match in matches:
            self.metrics.matches.labels(rule_type=match.rule.type).inc()
            if severity_rank(match.rule.severity) < floor:
                continue
            change = self.alerts.record(match)
            if change is None:
                continue
            recorded += 1
            if change.created:
                self.counters.alerts_created += 1
                self.metrics.alerts.labels(severity=change.alert.severity).inc()
            else:
                self.counters.alerts_updated += 1
            for listener in self.alert_listeners:
                listener(change)
            if self.routing is not None:
                self.routing.on_alert(change)
            if self.forwarding is not None:
                self.forwarding.on_alert(change)
        return recorded

    def _index_alert(self, change: AlertChange) -> None:
        try:
            self.store.index_alerts([change.alert.to_ecs()])  # type: ignore[attr-defined]
        except Exception as exc:  # the alert is safe in the state store; the index is a copy
            log.warning("could not copy alert %s to the store's alerts index: %s", change.alert.id, exc)

    def _maintenance_loop(self) -> None:
        retention = timedelta(days=self.settings.store.retention_days)
        next_retention = 0.0
        next_assets = time.monotonic() + ASSET_RELOAD_INTERVAL_S
        while not self.stop_event.wait(1.0):
            if time.monotonic() >= next_assets:
                next_assets = time.monotonic() + ASSET_RELOAD_INTERVAL_S
                try:
                    if self.asset_enricher.refresh():
                        log.info("asset inventory reloaded: %d assets", self.asset_enricher.index.size)
                except Exception as exc:  # a broken edit keeps the previous inventory
                    log.warning("asset inventory not reloaded: %s", exc)
            if time.monotonic() >= next_retention:
                next_retention = time.monotonic() + 3600
                try:
                    if hasattr(self.store, "apply_retention"):  # whole indices, per security level
                        dropped = self.store.apply_retention(utcnow())
                        if dropped:
                            log.info("retention: deleted indices %s", ", ".join(dropped))
                    else:
                        removed = self.store.delete_before(utcnow() - retention)
                        if removed:
                            log.info("retention: deleted %d events older than %s", removed, retention)
                except Exception:
                    log.exception("retention run failed")

    # building parts ---------------------------------------------------------

    def _build_detectors(self) -> list[StreamingDetector]:
        sigma = self.settings.detection.sigma
        if not sigma.enabled:
            return self._stateful_detectors()
        if sigma.mode == "scheduled":  # the rules run as queries (soc.scheduling)
            return self._stateful_detectors()
        from detectors.sigma import SigmaDetector

        detector = SigmaDetector([self.config.resolve(p) for p in sigma.paths], config=self._sigma_config())
        for error in detector.errors:
            log.warning("sigma rule not loaded: %s", error)
        restored = detector.restore_state(self.state)  # correlation windows of the last run
        if restored:
            log.info("sigma: %d correlation windows restored", restored)
        log.info("sigma: %s", detector.stats)
        return [detector, *self._stateful_detectors()]

    def _stateful_detectors(self) -> list[StreamingDetector]:
        """The stateful rules (``detection.stateful``), state restored from the state store."""
        cfg = self.settings.detection.stateful
        if not cfg.enabled:
            return []
        from detectors.stateful import StatefulDetector

        detector = StatefulDetector(
            [self.config.resolve(p) for p in cfg.paths],
            state=self.state,
            store=self.store,
            max_event_ids=cfg.max_event_ids,
            live_skew_s=cfg.live_skew_s,
        )
        log.info("stateful rules: %d loaded, %d failed", len(detector.runtimes), detector.rules_failed)
        self.rule_providers.append(self._scheduled_stateful_rules)
        return [detector]

    def _ml_rules(self, store: Store) -> Sequence[ScheduledRule]:
        """ML retraining and scoring (``detection.ml``), run by the scheduler."""
        from detectors.ml.lifecycle import engine_rules
        from detectors.ml.settings import MLSettings

        ml = MLSettings.from_config(self.settings.detection.ml, self.settings.timezone)
        return engine_rules(self.dirs.root, ml)

    def _scheduled_stateful_rules(self, store: Store) -> Sequence[ScheduledRule]:
        """The stateful rules with ``mode: scheduled``, for the scheduler (re-read hourly)."""
        from detectors.stateful import load_rules, scheduled_rules

        paths = [self.config.resolve(p) for p in self.settings.detection.stateful.paths]
        return scheduled_rules(load_rules(paths)[0])

    def _sigma_config(self) -> dict[str, Any]:
        """The Sigma field and log-source mappings (``detection.sigma.mappings``)."""
        from detectors.sigma.engine import load_config as load_sigma_config

        mappings = self.config.resolve(self.settings.detection.sigma.mappings)
        if not mappings.is_file():
            raise FileNotFoundError(f"detection.sigma.mappings: no such file {mappings}")
        return load_sigma_config(mappings)

    def _start_scheduler(self) -> Any:
        """The scheduled rules (``detection.scheduler``): Sigma query rules, log-source health,
        and the rules of ``rule_providers``."""
        if not self.settings.detection.scheduler.enabled:
            return None
        from soc.scheduling.setup import build_scheduler

        if self.settings.detection.ml.enabled and self._ml_rules not in self.rule_providers:
            self.rule_providers.append(self._ml_rules)
        scheduler = build_scheduler(
            self.config,
            self.store,
            self.state,
            self._record_matches,
            metrics=self.metrics,
            sigma_config=self._sigma_config,
            providers=self.rule_providers,
        )
        scheduler.start()
        return scheduler

    def rule_status(self) -> list[dict[str, Any]]:
        """Per scheduled rule: last run, window, duration, hits, alerts, errors, lag, state."""
        from soc.scheduling.runlog import RunLog
        from soc.scheduling.status import rule_status

        return rule_status(RunLog(self.state))

    def _build_forwarding(self) -> Any:
        fwd = self.settings.forwarding
        if not fwd.enabled or not fwd.targets:
            return None
        from soc.forwarding import build_forwarding

        service = build_forwarding(fwd, self.state, self.metrics)
        from soc.routing import build_national_forwarder

        service.policy = build_national_forwarder(self.settings, self.state, service)
        # an alert stored just before a crash may not have reached the outbox yet
        service.catch_up(self.alerts, since=utcnow() - timedelta(days=1))
        return service

    def _build_routing(self) -> tuple[Any, Any]:
        """The notification service (L1/L2 messages) and the routing stage feeding it."""
        from soc.notify import build_notifications
        from soc.routing import RoutingPolicy
        from soc.routing.service import RoutingService

        notifications = build_notifications(
            self.settings, self.state, self.metrics, resolve=self.config.resolve
        )
        if notifications is None:
            return None, None
        targets = [t.name for t in self.settings.forwarding.targets] if self.forwarding is not None else []
        routing = RoutingService(
            RoutingPolicy.from_settings(self.settings.routing, forwarding_targets=targets), notifications
        )
        # an alert stored just before a crash may not have reached the notification queue
        routing.catch_up(
            self.alerts,
            since=utcnow() - timedelta(minutes=max(self.settings.notifications.dedup_window_minutes, 10)),
        )
        return notifications, routing

    def _register_gauges(self) -> None:
        m = self.metrics
        m.spool_backlog_records.set_function(lambda: self.spool.backlog()[0])
        m.spool_backlog_bytes.set_function(lambda: self.spool.backlog()[1])
        m.queue_depth.labels(queue="parse").set_function(self._parse_q_size)
        m.queue_depth.labels(queue="write").set_function(self._write_q_size)
        m.counter_dict(
            "input_counter", "Counts kept by the inputs (drops, connections, ...).", self._input_counts
        )

    def _input_counts(self) -> dict[str, int]:
        return dict(self.counters.inputs)

    def _parse_q_size(self) -> int:
        return self._parse_q.qsize()

    def _write_q_size(self) -> int:
        return self._write_q.qsize()

    def _start_inputs(self) -> None:
        self._stop_inputs = threading.Event()
        self.inputs = (
            list(self._inputs_override)
            if self._inputs_override is not None
            else [build_input(cfg, self.config.resolve) for cfg in self.settings.inputs]
        )
        checkpoints = self._checkpoints_override or StateCheckpoints(self.state)
        for source in self.inputs:
            ctx = InputContext(
                accept=lambda records, name=source.name: self.accept(records, name),
                stop=self._stop_inputs,
                checkpoints=checkpoints,
                counters=self.counters.inputs,
            )
            thread = threading.Thread(
                target=self._guard(f"input-{source.name}", lambda s=source, c=ctx: s.run(c), fatal=False),
                name=f"soc-input-{source.name}",
                daemon=True,
            )
            thread.start()
            self._input_threads.append(thread)
        for source in self.inputs:
            if not source.ready.wait(10):
                log.warning("input %s is not ready after 10 s", source.name)

    def _start_api(self) -> None:
        import uvicorn

        from soc.api import ApiContext, create_app

        app = create_app(
            ApiContext(
                store=self.store,
                alerts=self.alerts,
                metrics=self.metrics,
                token=api_token(self.dirs),
                ingest=self.accept,
                health=self.health,
                metrics_public=self.settings.api.metrics_public,
                dead_letters=self.dead_letters,
                wait_drained=self.wait_drained,
                sigma_rule_paths=[self.config.resolve(p) for p in self.settings.detection.sigma.paths],
                sigma_config=self._sigma_config(),
                inventory=self.asset_enricher.inventory,
                access=AccessControl(self.state, self.settings.access, registry=self.metrics.registry),
                state=self.state,
                notifications=self.notifications,
                rule_status=self.rule_status,
            )
        )
        config = uvicorn.Config(
            app, host=self.settings.api.host, port=self.api_port, log_level="warning", access_log=False
        )
        self._api_server = uvicorn.Server(config)
        self._api_thread = threading.Thread(target=self._api_server.run, name="soc-api", daemon=True)
        self._api_thread.start()
        deadline = time.monotonic() + 15
        while not self._api_server.started:
            if not self._api_thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API could not listen on {self.settings.api.host}:{self.api_port}")
            time.sleep(0.02)
        sock = self._api_server.servers[0].sockets[0]
        host, port = sock.getsockname()[:2]
        self.api_url = f"http://{host}:{port}"
        self.dirs.engine_info.write_bytes(
            orjson.dumps(
                {
                    "pid": os.getpid(),
                    "api_url": self.api_url,
                    "started": format_ts(utcnow()),
                    "version": __version__,
                }
            )
        )

    def health(self) -> dict[str, Any]:
        records, size = self.spool.backlog()
        c = self.counters
        return {
            "spool_backlog_records": records,
            "spool_backlog_bytes": size,
            "events_processed": c.events,
            "events_stored": c.stored,
            "dead_letters": c.dead_letters,
            "store_errors": c.store_errors,
            "input_counters": dict(c.inputs),
            "inputs": [
                {
                    "name": i.name,
                    "ready": i.ready.is_set(),
                    **({"port": p} if (p := getattr(i, "bound_port", None)) else {}),
                }
                for i in self.inputs
            ],
            "detectors": {d.name: getattr(d, "stats", {}) for d in self.detectors},
            **({"scheduler": self.scheduler.health()} if self.scheduler is not None else {}),
        }

    # the data-directory lock ------------------------------------------------

    def _acquire_lock(self) -> None:
        fh = open(self.dirs.lock, "a+")  # noqa: SIM115 - held for the engine's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.close()
            raise EngineBusyError(
                f"another engine is running on data directory {self.dirs.root} (see {self.dirs.engine_info})"
            ) from exc
        self._lock_file = fh

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
