"""The engine's configuration: ``configs/soc.yaml``, environment overrides, validation.

Every key has a documented default here, so an empty file is a valid config.
Environment variables override the file: ``SOC__STORE__RETENTION_DAYS=30`` sets
``store.retention_days`` (double underscores separate levels; the value is read as
YAML, so ``true``, ``30`` and ``[a, b]`` keep their types). An invalid config is
refused with the key and the reason (:class:`ConfigError`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ENV_PREFIX = "SOC__"
SeverityName = Literal["informational", "low", "medium", "high", "critical"]


class ConfigError(Exception):
    """An invalid configuration; ``problems`` lists ``(key, reason)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {key}: {reason}" for key, reason in problems)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventConfig(_Section):
    keep_original: bool = True
    """Keep the raw line in ``event.original``."""


class SpoolConfig(_Section):
    segment_mb: int = Field(64, ge=1, le=4096)
    max_backlog_mb: int = Field(1024, ge=1)
    """Unprocessed records past this size make collectors wait (backpressure)."""
    fsync_interval_ms: int = Field(200, ge=0)
    """How often appended records are fsynced (0: every append). A kill -9 loses
    nothing either way; this bounds what a power cut can lose."""


class PipelineConfig(_Section):
    batch_size: int = Field(2000, ge=1, le=100_000)
    batch_wait_ms: int = Field(200, ge=1)
    queue_batches: int = Field(4, ge=1, le=1000)
    """Bound of each queue between stages, in batches."""


class ElasticsearchSettings(_Section):
    """``store.elasticsearch``: the cluster the ``elasticsearch`` backend writes to.
    Secrets are never in the config: ``api_key_env`` / ``password_env`` name the
    environment variables holding them."""

    hosts: list[str] = Field(["https://localhost:9200"], min_length=1)
    api_key_env: str | None = None
    """Environment variable with an API key (base64 ``id:key``); preferred over basic auth."""
    username: str | None = None
    password_env: str | None = None
    """Environment variable with the password of ``username``."""
    ca_file: str | None = None
    """PEM CA certificate that signed the cluster's TLS certificate."""
    verify_tls: bool = True
    request_timeout_s: float = Field(10.0, gt=0)
    index_prefix: str = Field("soc", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    bulk_max_events: int = Field(5000, ge=1, le=100_000)
    bulk_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    bulk_retries: int = Field(3, ge=0, le=20)
    """Retries (with backoff) of bulk items refused with 429/5xx before the write fails
    and the engine retries the whole batch from the spool."""
    retention_days_by_level: dict[int, int] = {0: 365, 1: 365, 2: 365, 3: 365, 4: 365, 5: 365}
    """Days kept per security level (``labels.security_level``, 1..5; 0 = unclassified),
    applied by ILM where the cluster has it, else by deleting daily indices."""

    @field_validator("hosts")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        for host in value:
            if not host.startswith(("http://", "https://")):
                raise ValueError(f"host {host!r} must start with http:// or https://")
        return value

    @field_validator("retention_days_by_level")
    @classmethod
    def _levels(cls, value: dict[int, int]) -> dict[int, int]:
        for level, days in value.items():
            if not 0 <= level <= 5:
                raise ValueError(f"security level {level} is not 0..5")
            if days < 1:
                raise ValueError(f"retention for level {level} must be >= 1 day, got {days}")
        return value


class StoreConfig(_Section):
    backend: Literal["duckdb", "elasticsearch", "memory"] = "duckdb"
    retention_days: int = Field(365, ge=1)
    checkpoint_interval_s: float = Field(30.0, gt=0)
    memory_limit: str | None = None
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


class TlsServerSettings(_Section):
    """``tls`` of a network input: PEM files (relative paths are relative to the config
    file). TLS 1.2 at least; with ``ca_file`` client certificates are verified (and
    required with ``require_client_cert``)."""

    cert_file: str
    key_file: str
    ca_file: str | None = None
    require_client_cert: bool = False
    min_version: Literal["1.2", "1.3"] = "1.2"

    @model_validator(mode="after")
    def _ca_for_clients(self) -> TlsServerSettings:
        if self.require_client_cert and not self.ca_file:
            raise ValueError("require_client_cert needs ca_file (the CA that signs the client certificates)")
        return self


class SyslogInputSettings(_Section):
    type: Literal["syslog"]
    name: str
    protocol: Literal["udp", "tcp", "tls"] = "udp"
    host: str = "127.0.0.1"
    port: int = Field(5514, ge=0, le=65535)
    framing: Literal["auto", "newline", "octet"] = "auto"
    max_message_bytes: int = Field(65536, ge=256)
    format: str | None = None
    timezone: str | None = None
    tls: TlsServerSettings | None = None
    """Required with ``protocol: tls`` (RFC 5425), refused otherwise."""

    @model_validator(mode="after")
    def _tls_matches_protocol(self) -> SyslogInputSettings:
        if self.protocol == "tls" and self.tls is None:
            raise ValueError("protocol tls needs a tls section (cert_file, key_file)")
        if self.protocol != "tls" and self.tls is not None:
            raise ValueError(f"tls is only for protocol tls, not {self.protocol}")
        return self


class HttpSourceSettings(_Section):
    """A sender of the HTTP intake; its token is in the environment variable ``token_env``
    (never in this file)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    token_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    format: str | None = None
    """Parser of this sender's documents; none: detected per document."""


class HttpInputSettings(_Section):
    """``type: http``: JSON / NDJSON documents POSTed by agents, one token per source."""

    type: Literal["http"]
    name: str
    host: str = "127.0.0.1"
    port: int = Field(8088, ge=0, le=65535)
    path: str = Field("/ingest", pattern=r"^/")
    sources: list[HttpSourceSettings] = Field(min_length=1)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    accept_timeout_s: float = Field(30.0, gt=0)
    """How long a request waits for the pipeline before a 503 (nothing accepted)."""
    tls: TlsServerSettings | None = None


class FileInputSettings(_Section):
    type: Literal["file"]
    name: str
    paths: list[str] = Field(min_length=1)
    follow: bool = True
    start_at: Literal["beginning", "end"] = "beginning"
    format: str | None = None
    timezone: str | None = None
    multiline: Literal["none", "continuation", "audit_serial"] = "none"
    """Join lines into one record: ``continuation`` (lines starting with white space or
    ``multiline_pattern`` belong to the previous one, e.g. macOS syslog) or
    ``audit_serial`` (auditd records of one event)."""
    multiline_pattern: str | None = None
    multiline_max_lines: int = Field(500, ge=1)
    multiline_flush_s: float = Field(1.0, gt=0)


class NetflowInputSettings(_Section):
    """NetFlow v5/v9 and IPFIX over UDP, with a template cache per exporter."""

    type: Literal["netflow"]
    name: str
    host: str = "127.0.0.1"
    port: int = Field(2055, ge=0, le=65535)
    max_pending: int = Field(1024, ge=1)
    """Data sets held while their template has not arrived."""
    pending_ttl_s: float = Field(120.0, gt=0)
    batch_max: int = Field(512, ge=1)
    batch_wait_ms: int = Field(200, ge=1)
    receive_buffer_bytes: int = Field(4 * 1024 * 1024, ge=65536)


class PcapInputSettings(_Section):
    """Live capture on an interface (needs root or CAP_NET_RAW; off unless ``live``)."""

    type: Literal["pcap"]
    name: str
    interface: str
    live: bool = False
    bpf_filter: str | None = None
    idle_timeout_s: float = Field(60.0, gt=0)
    max_flows: int = Field(100_000, ge=1)


InputSettings = Annotated[
    SyslogInputSettings | FileInputSettings | HttpInputSettings | NetflowInputSettings | PcapInputSettings,
    Field(discriminator="type"),
]


class SigmaConfig(_Section):
    enabled: bool = True
    paths: list[str] = ["../rules"]
    """Rule files or folders; relative paths are relative to the config file."""
    mappings: str = "sigma.yaml"
    """Field and log-source mappings from Sigma's taxonomy to ECS (relative to the config file)."""
    mode: Literal["streaming", "scheduled"] = "streaming"
    """``streaming``: the rules of ``paths`` match each event at ingest; ``scheduled``: they
    run as queries over the store, one window at a time (``detection.scheduler``)."""
    scheduled_paths: list[str] = []
    """Rule files or folders run as scheduled queries whatever ``mode`` is."""


class LogSourceHealthConfig(_Section):
    """``detection.scheduler.log_source_health``: flatline rules for every configured input
    and every device seen from it (a silent firewall is an incident)."""

    enabled: bool = True
    timeframe_s: float = Field(3600.0, gt=0)
    """A source or device with fewer than ``threshold`` events for this long raises an alert."""
    threshold: int = Field(1, ge=1)
    run_every_s: float = Field(300.0, gt=0)
    """Window length and check interval of the flatline rules."""
    devices: bool = True
    """Also one rule per device (observer.hostname / host.name) seen from each input."""
    device_lookback_s: float = Field(7 * 86400.0, gt=0)
    """Devices seen in this span before now get a rule (looked up at start and hourly)."""
    max_devices: int = Field(1000, ge=1)


class SelfMonitorConfig(_Section):
    """``detection.scheduler.self_monitor``: the dead-man's switch (alerts on the engine itself)."""

    enabled: bool = True
    store_unreachable_after_s: float = Field(300.0, gt=0)
    """The store failing for this long raises ``soc.engine.store_unreachable``."""
    rule_failures: int = Field(3, ge=1)
    """A rule failing this many consecutive runs raises ``soc.engine.rule_failing``."""
    probe_every_s: float = Field(30.0, gt=0)


class SchedulerConfig(_Section):
    """``detection.scheduler``: rules evaluated as queries over the store, window by window."""

    enabled: bool = True
    max_workers: int = Field(4, ge=1, le=256)
    run_every_s: float = Field(60.0, gt=0)
    """Default: how often a rule's due windows are looked for."""
    buffer_time_s: float = Field(60.0, gt=0)
    """Default window length."""
    query_delay_s: float = Field(30.0, ge=0)
    """Default: a window is evaluated once real time is this far past its end (late events)."""
    catchup_horizon_s: float = Field(86400.0, gt=0)
    """Missed windows older than this are recorded as skipped (with an engine alert), not run."""
    max_windows_per_run: int = Field(1000, ge=1)
    history_days: int = Field(7, ge=1)
    """Run records kept in the state store."""
    log_source_health: LogSourceHealthConfig = LogSourceHealthConfig()
    self_monitor: SelfMonitorConfig = SelfMonitorConfig()


class StatefulConfig(_Section):
    enabled: bool = True
    paths: list[str] = ["../rules/stateful"]
    """Stateful rule files or folders (ElastAlert-style YAML); relative to the config file."""
    checkpoint_interval_s: float = Field(5.0, gt=0)
    """How often (at most) rule state is checkpointed to the state store under load; an idle
    pipeline checkpoints after every batch. Spool records are acknowledged only once a
    checkpoint covers them."""
    max_event_ids: int = Field(100_000, ge=1)
    """Event ids remembered per rule, so a re-delivered event is not counted twice."""
    live_skew_s: float = Field(600.0, ge=0)
    """Events within this many seconds of the wall clock are live: the flatline clock then
    runs on between events."""
class MLDetectionConfig(_Section):
    """``detection.ml``: ML detectors over the stored events (``detectors/ml``); ``enabled``
    makes the engine's scheduler retrain and score them."""

    enabled: bool = False
    window_minutes: int = Field(10, ge=1, le=1440)
    """Size of an entity-window: features are computed per entity and window."""
    baseline_windows: int = Field(1008, ge=1)
    """Training reads this many windows back (1008 x 10 minutes = 7 days)."""
    min_baseline_windows: int = Field(144, ge=1)
    """Cold start: a model raises no alert before its baseline holds this many windows."""
    retrain_hours: float = Field(24.0, gt=0)
    query_delay_minutes: int = Field(2, ge=0)
    detectors: list[str] = []
    """Detectors to run (empty: all of ``detectors.ml.detectors.DETECTORS``)."""
    thresholds: dict[str, float] = {}
    """Per detector, a score threshold replacing its default."""
    evidence_events: int = Field(20, ge=1, le=100)


class DetectionConfig(_Section):
    sigma: SigmaConfig = SigmaConfig()
    stateful: StatefulConfig = StatefulConfig()
    ml: MLDetectionConfig = MLDetectionConfig()
    scheduler: SchedulerConfig = SchedulerConfig()

    @model_validator(mode="after")
    def _scheduled_sigma_needs_scheduler(self) -> DetectionConfig:
        scheduled = self.sigma.mode == "scheduled" or self.sigma.scheduled_paths
        if self.sigma.enabled and scheduled and not self.scheduler.enabled:
            raise ValueError(
                "scheduled Sigma rules (sigma.mode: scheduled or sigma.scheduled_paths) need "
                "scheduler.enabled: true; otherwise they would never run"
            )
        return self


class AlertsConfig(_Section):
    dedup_window_minutes: int = Field(60, ge=0)
    min_severity: SeverityName = "low"
    """Matches below this severity are counted (metrics) but raise no alert; Sigma's
    ``informational`` level is for hunting, not for the triage queue."""


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


HttpUrlText = Annotated[str, AfterValidator(_http_url)]
"""A URL that must start with ``http://`` or ``https://``."""


class ForwardingTargetConfig(_Section):
    name: str
    url: HttpUrlText
    secret_env: str = "SOC_FORWARDING_SECRET"
    """Name of the environment variable holding the HMAC secret (never the secret itself)."""
    min_severity: SeverityName = "high"
    ca_file: str | None = None
    verify_tls: bool = True
    timeout_s: float = Field(10.0, gt=0)


class ReporterConfig(_Section):
    id: str = "soc-province"
    name: str = "Trung tâm Giám sát an toàn thông tin tỉnh"


class ForwardingConfig(_Section):
    enabled: bool = False
    reporter: ReporterConfig = ReporterConfig()
    targets: list[ForwardingTargetConfig] = []
    max_attempts: int = Field(12, ge=1)


class ApiConfig(_Section):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    metrics_public: bool = True


class AccessConfig(_Section):
    """``access``: users, sessions and login limits of the API."""

    organization: str = Field("soc-province", min_length=1)
    """The SOC's own organization id; an auditor (L3) must belong to another one."""
    session_idle_minutes: int = Field(30, ge=1, le=1440)
    session_absolute_hours: int = Field(12, ge=1, le=168)
    login_max_failures: int = Field(5, ge=1, le=100)
    """Failed logins (per username, and per client address) before a lockout."""
    login_lockout_s: float = Field(30.0, gt=0)
    """First lockout; each further failure doubles it."""
    login_lockout_max_s: float = Field(3600.0, gt=0)


class AgencyConfig(_Section):
    """An agency that owns assets; events from its networks or hosts carry its
    ``organization.*`` (the full asset inventory comes with ``configs/assets.yaml``)."""

    id: str
    name: str
    networks: list[str] = []
    hosts: list[str] = []


class AssetsConfig(_Section):
    """The asset inventory (agencies, systems, security levels; see ``configs/assets.yaml``)."""

    file: str | None = None
    """Inventory YAML file (relative to the config file); none: only the ``agencies``
    below and the assets imported with ``soc assets import``."""
    flag_unknown: bool = True
    """Mark events from hosts that match no asset (``labels.asset_unknown``) and list
    them in ``soc assets unknown`` (only when the inventory lists assets)."""


IncidentTypeName = Literal[
    "denial_of_service",
    "spoofing",
    "malware",
    "unauthorized_access",
    "defacement",
    "ransomware",
    "destruction",
    "espionage_data_theft",
    "combined",
    "other",
]
INCIDENT_TYPES: tuple[str, ...] = get_args(IncidentTypeName)
"""The ten incident types of the national reporting scheme."""


class RecipientsConfig(_Section):
    """Who a layer notifies: e-mail addresses and names of ``notifications.webhooks``."""

    emails: list[str] = []
    webhooks: list[str] = []

    @field_validator("emails")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value


class AgencyContactsConfig(RecipientsConfig):
    """L1: one agency's on-site team."""

    agency_id: str
    min_severity: SeverityName | None = None
    """Default: ``routing.agency.min_severity``."""


class AgencyRoutingConfig(_Section):
    """L1: each agency's team is notified of alerts on its own assets."""

    min_severity: SeverityName = "high"
    contacts: list[AgencyContactsConfig] = []


class SocRoutingConfig(RecipientsConfig):
    """L2: the SOC's channels, for every new alert at or above ``min_severity``."""

    min_severity: SeverityName = "low"


class AssessorRoutingConfig(_Section):
    """L3: the independent assessor (API role ``auditor``: read-only). Not notified."""

    organization_id: str | None = None
    """Must differ from ``forwarding.reporter.id`` (the SOC's organisation)."""


class NationalRoutingConfig(_Section):
    """L4: which alerts become reports to the national monitoring center."""

    enabled: bool = True
    """With ``forwarding.enabled``; off: every alert at a target's ``min_severity`` is reported."""
    min_severity: SeverityName = "high"
    min_security_level: int = Field(3, ge=1, le=5)
    include_unknown_level: bool = False
    """Report alerts whose asset has no security level (not yet classified)."""
    incident_types: list[IncidentTypeName] = list(INCIDENT_TYPES)
    approval: Literal["auto", "soc_lead"] = "auto"
    """``soc_lead``: a report waits as ``pending_approval`` until a SOC lead approves it."""
    targets: list[str] = []
    """Forwarding target names; empty: every target."""


class RoutingConfig(_Section):
    """The 4-layer routing policy (``soc/routing``)."""

    agency: AgencyRoutingConfig = AgencyRoutingConfig()
    soc: SocRoutingConfig = SocRoutingConfig()
    assessor: AssessorRoutingConfig = AssessorRoutingConfig()
    national: NationalRoutingConfig = NationalRoutingConfig()


class RateLimitConfig(_Section):
    """A token bucket: ``per_minute`` tokens a minute, up to ``burst`` at once."""

    per_minute: float = Field(gt=0)
    burst: int = Field(ge=1)


class EmailChannelConfig(_Section):
    """SMTP. The password is read from ``password_env`` or ``password_file``, never this file."""

    enabled: bool = False
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (required: a server without it is refused), ``tls`` (SMTPS, port 465),
    ``none`` (clear text; only for a relay on this machine)."""
    username: str | None = None
    password_env: str | None = "SOC_SMTP_PASSWORD"
    password_file: str | None = None
    from_address: str = "soc@localhost"
    ca_file: str | None = None
    timeout_s: float = Field(15.0, gt=0)


class WebhookChannelConfig(_Section):
    """A webhook: signed JSON POSTs. The HMAC key is read from ``secret_env`` or ``secret_file``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    url: HttpUrlText
    secret_env: str | None = None
    secret_file: str | None = None
    ca_file: str | None = None
    verify_tls: bool = True
    timeout_s: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookChannelConfig:
        if not self.secret_env and not self.secret_file:
            raise ValueError("needs secret_env or secret_file (the HMAC key)")
        return self


class NotificationTemplatesConfig(_Section):
    """Paths of templates replacing the shipped ones (``configs/templates``); null: shipped."""

    email_subject: str | None = None
    email_text: str | None = None
    email_html: str | None = None
    webhook_text: str | None = None
    digest_subject: str | None = None
    digest_text: str | None = None
    digest_html: str | None = None


class NotificationsConfig(_Section):
    """Delivery of L1/L2 notifications (``soc/notify``): durable queue, retries, rate limits."""

    enabled: bool = True
    timezone: str | None = None
    """Zone of the times shown; default: the top-level ``timezone``."""
    dedup_window_minutes: int = Field(60, ge=0)
    """One notification per alert and recipient inside this window (again on escalation)."""
    max_attempts: int = Field(8, ge=1)
    base_backoff_s: float = Field(30.0, gt=0)
    max_backoff_s: float = Field(3600.0, gt=0)
    max_digest_items: int = Field(50, ge=2)
    channel_rate: RateLimitConfig = RateLimitConfig(per_minute=120, burst=30)
    recipient_rate: RateLimitConfig = RateLimitConfig(per_minute=6, burst=3)
    templates: NotificationTemplatesConfig = NotificationTemplatesConfig()
    email: EmailChannelConfig = EmailChannelConfig()
    webhooks: list[WebhookChannelConfig] = []


class SocConfig(_Section):
    timezone: str = "Asia/Ho_Chi_Minh"
    """The zone times are shown in, and the default zone of sources whose timestamps have none."""
    event: EventConfig = EventConfig()
    spool: SpoolConfig = SpoolConfig()
    pipeline: PipelineConfig = PipelineConfig()
    store: StoreConfig = StoreConfig()
    inputs: list[InputSettings] = []
    detection: DetectionConfig = DetectionConfig()
    alerts: AlertsConfig = AlertsConfig()
    forwarding: ForwardingConfig = ForwardingConfig()
    api: ApiConfig = ApiConfig()
    agencies: list[AgencyConfig] = []
    assets: AssetsConfig = AssetsConfig()
    access: AccessConfig = AccessConfig()
    routing: RoutingConfig = RoutingConfig()
    notifications: NotificationsConfig = NotificationsConfig()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _routing_fits(self) -> SocConfig:
        """L3 is independent of L2; routed webhooks exist."""
        assessor = self.routing.assessor.organization_id
        if assessor is not None and assessor == self.forwarding.reporter.id:
            raise ValueError(
                "routing.assessor.organization_id: the independent assessor (L3) cannot be the SOC's "
                f"own organisation ({assessor!r} is forwarding.reporter.id)"
            )
        known = {w.name for w in self.notifications.webhooks}
        routed = [*self.routing.soc.webhooks, *(w for c in self.routing.agency.contacts for w in c.webhooks)]
        missing = sorted(set(routed) - known)
        if missing:
            raise ValueError(f"routing: webhooks {missing} are not defined in notifications.webhooks")
        return self


class LoadedConfig(BaseModel):
    """A validated config and the folder its relative paths are resolved against."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    settings: SocConfig
    source: str
    base_dir: Path

    def resolve(self, path: str) -> Path:
        candidate = Path(os.path.expanduser(path))
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()


def resource_root() -> Path:
    """Where the shipped ``configs/`` and ``rules/`` live: ``SOC_HOME``, the source
    checkout (``pip install -e`` or running from the tree), or ``<prefix>/share/soc``."""
    if env := os.environ.get("SOC_HOME"):
        return Path(env)
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "configs" / "soc.yaml").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "soc"


def default_config_path() -> Path:
    return resource_root() / "configs" / "soc.yaml"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = overrides
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(text) if text else None
    return overrides


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors():
        key = ""
        for part in err["loc"]:
            if isinstance(part, int):
                key += f"[{part}]"
            elif part in ("syslog", "file", "netflow", "pcap", "http") and key.endswith("]"):
                continue  # the discriminator tag pydantic adds to the path
            else:
                key += f".{part}" if key else str(part)
        problems.append((key or "(top)", err["msg"]))
    return problems


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, merge the environment overrides into, and validate a config file
    (default: the shipped ``configs/soc.yaml``)."""
    path = path or default_config_path()
    environ = os.environ if environ is None else environ
    if not path.is_file():
        raise ConfigError(str(path), [("(file)", "no such file")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        raise ConfigError(str(path), [(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from exc
    if not isinstance(raw, dict):
        raise ConfigError(str(path), [("(top)", "must be a mapping of sections")])
    raw = _merge(raw, _env_overrides(environ))
    try:
        settings = SocConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(str(path), _problems(exc)) from exc
    return LoadedConfig(settings=settings, source=str(path), base_dir=path.resolve().parent)
