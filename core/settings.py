"""Configuration, read in one place: the TOML file named by ORDERBRIDGE_CONFIG plus overrides.

This is the only module that reads the environment. Secrets are given in the file by the name of
an environment variable (`client_key_env = "PO_CLIENT_KEY"`); they are resolved here, kept as
`SecretStr`, and never logged. The demo file may carry obviously fake inline values instead.
Each connection's ERP settings are validated once, at load, by its connector's own model.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.base import ErpSettings
from connectors.registry import CONNECTORS
from connectors.shops.registry import SHOPS
from connectors.shops.settings import ShopSettings
from core.endpoints import (
    BrokerEndpoint,
    MissingMasterName,
    RedisEndpoint,
    parse_broker_url,
    parse_redis_url,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CONFIG_ENV = "ORDERBRIDGE_CONFIG"
REDIS_URL_ENV = "ORDERBRIDGE_REDIS_URL"
# Settings the environment may give instead of the file (env wins).
ENV_OVERRIDES = {
    REDIS_URL_ENV: "redis_url",
    "ORDERBRIDGE_REDIS_MASTER_NAME": "redis_master_name",
    "ORDERBRIDGE_BROKER_URL": "broker_url",
    "ORDERBRIDGE_BROKER_MASTER_NAME": "broker_master_name",
    "ORDERBRIDGE_REDIS_MIN_REPLICAS": "redis_min_replicas",
    "ORDERBRIDGE_REDIS_REPLICA_TIMEOUT_MS": "redis_replica_timeout_ms",
}


class ConfigError(Exception):
    """The configuration cannot be used: `<file>: <field>: <problem>`."""

    def __init__(self, field: str, problem: str, file: str | None = None) -> None:
        self.field, self.problem, self.file = field, problem, file
        super().__init__(": ".join(p for p in (file, field, problem) if p))

    def in_file(self, file: str | None) -> ConfigError:
        return ConfigError(self.field, self.problem, file) if file and not self.file else self


def _first_problem(exc: ValidationError, prefix: str) -> ConfigError:
    """The first pydantic error as a dotted TOML key and its message."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    if prefix == "orderbridge" and loc[:1] == ["connections"]:
        field = ".".join(loc)
    else:
        field = ".".join([prefix, *loc])
    problem = str(error["msg"]).removeprefix("Value error, ")
    more = len(exc.errors()) - 1
    return ConfigError(field, problem + (f" (and {more} more)" if more else ""))


class RetrySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_seconds: float = Field(2.0, gt=0)
    cap_seconds: float = Field(600.0, gt=0)
    window_seconds: float = Field(86_400.0, gt=0)


class WorkerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pool: Literal["threads", "prefork", "solo"] = "threads"
    concurrency: int = Field(16, ge=1, le=512)
    visibility_timeout_seconds: int = Field(900, ge=30)
    # A running step whose heartbeat is older than this is assumed dead and re-enqueued.
    stale_after_seconds: float = Field(45.0, gt=0)
    # A job whose message has waited this long in the queue is sent again, even when the queue
    # seems to still hold it (normally a queued job is looked at every stale_after_seconds).
    queued_stale_after_seconds: float = Field(600.0, gt=0)
    sweep_interval_seconds: float = Field(1.0, gt=0)
    http_timeout_seconds: float = Field(10.0, gt=0)
    # How long an ERP write begun under a `sending` mark may still be under way (a worker cut
    # off or killed mid-request, a lease lost in a failover): a later attempt that finds a
    # younger mark, with no ERP answer recorded after it, waits this long before it looks the
    # order up (else it could post it again). At least two request timeouts.
    sending_settle_seconds: float = Field(25.0, ge=0)
    # Run a job's next step in the same task while it holds the job (saves a broker round trip
    # per step); bounded by inline_seconds per delivery.
    inline_steps: bool = True
    inline_seconds: float = Field(30.0, gt=0)
    # Celery task events cost a publish per task state; Flower switches them on in every worker
    # when it starts watching, so they are off until someone looks.
    task_events: bool = False
    # How long one send_invoice attempt polls the ERP's asynchronous send before rescheduling.
    send_poll_seconds: float = Field(5.0, ge=0)

    @model_validator(mode="after")
    def _settle_outlasts_a_request(self) -> WorkerSettings:
        if self.sending_settle_seconds < self.http_timeout_seconds:
            raise ValueError(
                "worker.sending_settle_seconds must be at least worker.http_timeout_seconds: a "
                "write may be under way that long"
            )
        return self


class IntakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1024 * 1024


class EventsSettings(BaseModel):
    """`[connections.NAME.events]`: watch the ERP's invoices and tell the shop what changed.

    Present = the invoice watch runs for the connection (every `poll_seconds`, one poller at a
    time across all workers); with `webhook_url` the events are also POSTed there, signed with
    `webhook_secret` (HMAC-SHA256 of the raw body), retried with backoff while the subscriber
    fails, and dead-lettered (kind `delivery`) after `give_up_after_seconds`."""

    model_config = ConfigDict(extra="forbid")
    webhook_url: str | None = Field(None, pattern=r"^https?://")
    webhook_secret: SecretStr | None = None
    poll_seconds: float = Field(60.0, gt=0)
    # The event stream per connection keeps this long (events older than this are trimmed).
    keep_days: float = Field(30.0, gt=0)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_cap_seconds: float = Field(300.0, gt=0)
    give_up_after_seconds: float = Field(86_400.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)

    @model_validator(mode="after")
    def _signed(self) -> EventsSettings:
        if self.webhook_url and self.webhook_secret is None:
            raise ValueError(
                "webhook_url needs webhook_secret (or webhook_secret_env): every event is signed"
            )
        return self


class ConnectionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    erp: str
    source: str = "any"  # "any" (the canonical order API) or a shop of connectors.shops.registry
    api_token: SecretStr | None = None
    send_invoice: bool = False
    # `preview`: every order is previewed (tasks.preview) and its job ends as `previewed`, with
    # nothing written to the ERP; switched to `live`, the next event for such an order (a
    # webhook, reconciliation, a backfill) sends it.
    mode: Literal["live", "preview"] = "live"
    # Invoice when the shop reports the order paid (orders/paid, WooCommerce processing).
    invoice_on_payment: bool = False
    shop: ShopSettings = Field(default_factory=ShopSettings)
    reference_template: str = "{external_id}"
    requests_per_second: float | None = Field(None, gt=0)
    # Admission (core.admission): this connection's share of the workers and of a shared ERP
    # budget against the others with jobs ready (2 = twice the share of 1).
    weight: float = Field(1.0, gt=0, le=100)
    # Every job of this connection goes before its backlog (e.g. a point-of-sale shop).
    urgent: bool = False
    # At most this many of its jobs in flight (default: what its ERP budget can keep busy).
    max_in_flight: int | None = Field(None, ge=1, le=10_000)
    settings: dict[str, Any] = Field(default_factory=dict)
    events: EventsSettings | None = None
    _erp_settings: ErpSettings | None = PrivateAttr(None)

    @property
    def erp_settings(self) -> ErpSettings:
        if self._erp_settings is None:
            raise ConfigError(f"connections.{self.name}.settings", "not validated (load_settings)")
        return self._erp_settings

    @field_validator("source")
    @classmethod
    def _known_source(cls, source: str) -> str:
        if source != "any" and source not in SHOPS:
            raise ValueError(f"unknown source {source!r} (known: any, {', '.join(sorted(SHOPS))})")
        return source

    def reference_for(self, external_id: str, number: str | None) -> str:
        return self.reference_template.format(
            connection=self.name, external_id=external_id, number=number or external_id
        )


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The store: a Redis server URL or a Sentinel group (sentinel://h1:26379;sentinel://h2/0)
    # whose master the Sentinels know as `redis_master_name`. URLs may carry passwords: they are
    # shown only through `core.endpoints.redacted`.
    redis_url: str = Field(DEFAULT_REDIS_URL, repr=False)
    redis_master_name: str | None = None
    redis_password: SecretStr | None = None  # the Redis servers' (redis_password_env)
    sentinel_password: SecretStr | None = None  # the Sentinels', of every group
    # True when the user named a Redis (file or environment): then no embedded one is started.
    redis_url_explicit: bool = False
    # The broker: by default the store's Redis; else another Redis server or Sentinel group
    # (`broker_master_name`, default `redis_master_name`) or RabbitMQ (amqp://).
    broker_url: str | None = Field(None, repr=False)
    broker_master_name: str | None = None
    broker_password: SecretStr | None = None
    # The broker queue of messages without a connection; each connection's is `NAME:connection`.
    # Installations sharing a broker (a RabbitMQ vhost, a Redis database) need different names
    # (RabbitMQ keeps names beginning `amq.` to itself).
    queue_name: str = Field("orderbridge", pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")
    # Replicas that must confirm the writes exactly-once rests on (job created, lease, `sending`
    # mark, a step's result) before anything depends on them; 0: none, nothing waits.
    redis_min_replicas: int = Field(0, ge=0)
    # How long such a write waits for them (under the store's 10 s socket timeout).
    redis_replica_timeout_ms: int = Field(500, gt=0, le=5000)
    operator_token: SecretStr | None = None
    # `flower_basic_auth_env = "FLOWER_BASIC_AUTH"`: `user:password` (several separated by
    # commas) that `orderbridge flower` requires of its pages and its HTTP API.
    flower_basic_auth: SecretStr | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    retention_days: int = 30
    retry: RetrySettings = Field(default_factory=RetrySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    connections: dict[str, ConnectionSettings] = Field(default_factory=dict)

    @field_validator("queue_name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name.startswith("amq."):
            raise ValueError("names beginning amq. are RabbitMQ's own")
        return name

    @model_validator(mode="after")
    def _messages_never_outlive_visibility(self) -> Settings:
        """A broker message held longer than the visibility timeout is delivered twice; our
        steps never hold one past `stale_after` nor wait longer than the backoff cap in place."""
        limit = self.worker.visibility_timeout_seconds
        if limit <= max(self.worker.stale_after_seconds, self.retry.cap_seconds):
            raise ValueError(
                f"worker.visibility_timeout_seconds ({limit}) must be above "
                f"worker.stale_after_seconds and retry.cap_seconds"
            )
        return self

    @model_validator(mode="after")
    def _flower_credentials(self) -> Settings:
        """Flower splits the value at commas and compares `user:password` pairs; a malformed one
        would lock everyone out (the value itself is never shown)."""
        if self.flower_basic_auth is not None:
            pairs = self.flower_basic_auth.get_secret_value().split(",")
            if not all(
                user and password
                for user, _, password in (pair.strip().partition(":") for pair in pairs)
            ):
                raise ValueError(
                    "flower_basic_auth must be user:password (several separated by commas)"
                )
        return self

    @property
    def store_endpoint(self) -> RedisEndpoint:
        """The store's Redis as `redis_url` and its companions name it."""
        try:
            return parse_redis_url(
                self.redis_url,
                master_name=self.redis_master_name,
                password=_secret(self.redis_password),
                sentinel_password=_secret(self.sentinel_password),
            )
        except MissingMasterName:
            raise _no_master_name("redis_url", "redis_master_name") from None
        except ValueError as exc:
            raise ConfigError("orderbridge.redis_url", str(exc)) from None

    @property
    def broker_endpoint(self) -> BrokerEndpoint:
        """Where Celery's messages go: `broker_url`, or the store's Redis when it is unset."""
        if self.broker_url is None:
            return self.store_endpoint
        try:
            return parse_broker_url(
                self.broker_url,
                master_name=self.broker_master_name or self.redis_master_name,
                password=_secret(self.broker_password),
                sentinel_password=_secret(self.sentinel_password),
            )
        except MissingMasterName:
            raise _no_master_name("broker_url", "broker_master_name") from None
        except ValueError as exc:
            raise ConfigError("orderbridge.broker_url", str(exc)) from None

    @property
    def broker_is_store(self) -> bool:
        """The broker is the store's own Redis: its queues are lists there, readable as such."""
        return self.broker_endpoint == self.store_endpoint

    def connection(self, name: str) -> ConnectionSettings:
        try:
            return self.connections[name]
        except KeyError:
            raise ConfigError("connections", f"unknown connection {name!r}") from None


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def _no_master_name(url_field: str, name_field: str) -> ConfigError:
    env = next(var for var, field in ENV_OVERRIDES.items() if field == name_field)
    return ConfigError(
        f"orderbridge.{name_field}",
        f"required when {url_field} names a Sentinel group (sentinel://...): the name the "
        f"Sentinels know the master by; set {name_field} (or {env})",
    )


def resolve_env_refs(data: Any, env: dict[str, str], where: str = "") -> Any:
    """Replace every `key_env = "VAR"` with `key = <value of VAR>`; a missing VAR is an error."""
    if isinstance(data, list):
        return [resolve_env_refs(v, env, f"{where}[{i}]") for i, v in enumerate(data)]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if key.endswith("_env") and isinstance(value, str):
            if value not in env:
                raise ConfigError(path, f"environment variable {value} is not set")
            out[key[: -len("_env")]] = env[value]
        else:
            out[key] = resolve_env_refs(value, env, path)
    return out


def parse_settings(raw: dict[str, Any], env: dict[str, str], path: str | None = None) -> Settings:
    try:
        data = resolve_env_refs(raw, env)
    except ConfigError as exc:
        raise exc.in_file(path) from None
    top = dict(data.get("orderbridge", {}))
    connections = {
        name: {"name": name, **conf} for name, conf in data.get("connections", {}).items()
    }
    top["redis_url_explicit"] = "redis_url" in top or bool(env.get(REDIS_URL_ENV))
    for var, field in ENV_OVERRIDES.items():
        if env.get(var):
            top[field] = env[var]
    unknown = sorted(set(data) - {"orderbridge", "connections"})
    if unknown:
        raise ConfigError(
            unknown[0], "unknown section (expected [orderbridge] or [connections.NAME])", path
        )
    try:
        settings = Settings.model_validate({**top, "connections": connections})
    except ValidationError as exc:
        raise _first_problem(exc, "orderbridge").in_file(path) from None
    for conn in settings.connections.values():
        spec = CONNECTORS.get(conn.erp)
        if spec is None:
            raise ConfigError(
                f"connections.{conn.name}.erp",
                f"unknown ERP {conn.erp!r} (known: {', '.join(sorted(CONNECTORS))})",
                path,
            )
        try:
            validated = spec.settings_model.model_validate(conn.settings)
        except ValidationError as exc:
            raise _first_problem(exc, f"connections.{conn.name}.settings").in_file(path) from None
        conn._erp_settings = cast(ErpSettings, validated)
    try:
        settings.store_endpoint, settings.broker_endpoint  # noqa: B018  (refused at load)
    except ConfigError as exc:
        raise exc.in_file(path) from None
    return settings


def load_settings(path: str | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    path = path or env.get(CONFIG_ENV)
    if not path:
        return parse_settings({}, env)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(CONFIG_ENV, "no such file", path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("(syntax)", str(exc), path) from None
    return parse_settings(raw, env, str(file))


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """The environment for a child process (worker, intake) we start, plus overrides."""
    return {**os.environ, **overrides}
