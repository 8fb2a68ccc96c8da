"""Configuration, read in one place: the TOML file named by ORDERBRIDGE_CONFIG plus overrides.

This is the only module that reads the environment. Secrets are given in the file by the name of
an environment variable (`client_key_env = "PO_CLIENT_KEY"`); they are resolved here, kept as
`SecretStr`, and never logged. The demo file may carry obviously fake inline values instead.
Each connection's ERP settings are validated once, at load, by its connector's own model.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from connectors.registry import CONNECTORS

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
CONFIG_ENV = "ORDERBRIDGE_CONFIG"
REDIS_URL_ENV = "ORDERBRIDGE_REDIS_URL"


class ConfigError(Exception):
    """The configuration cannot be used; the message says which key and why."""


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
    # A queued job that nothing has started after this long is enqueued again.
    queued_stale_after_seconds: float = Field(600.0, gt=0)
    sweep_interval_seconds: float = Field(1.0, gt=0)
    http_timeout_seconds: float = Field(10.0, gt=0)
    # Run a job's next step in the same task while it holds the job (saves a broker round trip
    # per step); bounded by inline_seconds per delivery.
    inline_steps: bool = True
    inline_seconds: float = Field(30.0, gt=0)
    # Celery task events cost a publish per task state; Flower switches them on in every worker
    # when it starts watching, so they are off until someone looks.
    task_events: bool = False
    # How long one send_invoice attempt polls the ERP's asynchronous send before rescheduling.
    send_poll_seconds: float = Field(5.0, ge=0)


class IntakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 1024 * 1024


class ShopSettings(BaseModel):
    """Where a shop connection's orders come from: webhook secrets and the shop's REST API."""
    model_config = ConfigDict(extra="forbid")
    # Two secrets are accepted while a rotation is under way (Shopify may sign with the old one
    # for up to an hour).
    webhook_secret: SecretStr | None = None
    previous_webhook_secret: SecretStr | None = None
    api_url: str | None = None            # e.g. https://shop.myshopify.com or a WordPress site
    api_version: str = "2024-10"          # Shopify Admin API version
    access_token: SecretStr | None = None  # Shopify Admin API token
    consumer_key: SecretStr | None = None  # WooCommerce REST API
    consumer_secret: SecretStr | None = None
    reconcile_seconds: float = Field(300.0, gt=0)
    reconcile_overlap_seconds: float = Field(120.0, ge=0)
    fallback_sku: str | None = None        # article for lines without a SKU; none: refuse them

    def secrets(self) -> list[bytes]:
        return [s.get_secret_value().encode() for s in (self.webhook_secret,
                                                        self.previous_webhook_secret) if s]


class ConnectionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    erp: str
    source: Literal["any", "shopify", "woocommerce"] = "any"
    api_token: SecretStr | None = None
    send_invoice: bool = False
    # Invoice when the shop reports the order paid (orders/paid, WooCommerce processing).
    invoice_on_payment: bool = False
    shop: ShopSettings = Field(default_factory=ShopSettings)
    reference_template: str = "{external_id}"
    requests_per_second: float | None = Field(None, gt=0)
    settings: dict[str, Any] = Field(default_factory=dict)
    _erp_settings: BaseModel | None = PrivateAttr(None)

    @property
    def erp_settings(self) -> BaseModel:
        assert self._erp_settings is not None, "validated by load_settings"
        return self._erp_settings

    def reference_for(self, external_id: str, number: str | None) -> str:
        return self.reference_template.format(connection=self.name, external_id=external_id,
                                              number=number or external_id)


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    redis_url: str = DEFAULT_REDIS_URL
    redis_url_from_env: bool = False
    operator_token: SecretStr | None = None
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    retention_days: int = 30
    retry: RetrySettings = Field(default_factory=RetrySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    connections: dict[str, ConnectionSettings] = Field(default_factory=dict)
    config_path: str | None = None

    @model_validator(mode="after")
    def _messages_never_outlive_visibility(self) -> Settings:
        """A broker message held longer than the visibility timeout is delivered twice; our
        steps never hold one past `stale_after` nor wait longer than the backoff cap in place."""
        limit = self.worker.visibility_timeout_seconds
        if limit <= max(self.worker.stale_after_seconds, self.retry.cap_seconds):
            raise ValueError(f"worker.visibility_timeout_seconds ({limit}) must be above "
                             f"worker.stale_after_seconds and retry.cap_seconds")
        return self

    def connection(self, name: str) -> ConnectionSettings:
        try:
            return self.connections[name]
        except KeyError:
            raise ConfigError(f"unknown connection {name!r}") from None


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
                raise ConfigError(f"{path}: environment variable {value} is not set")
            out[key[: -len("_env")]] = env[value]
        else:
            out[key] = resolve_env_refs(value, env, path)
    return out


def parse_settings(raw: dict[str, Any], env: dict[str, str], path: str | None = None) -> Settings:
    data = resolve_env_refs(raw, env)
    top = dict(data.get("orderbridge", {}))
    connections = {name: {"name": name, **conf}
                   for name, conf in data.get("connections", {}).items()}
    if env.get(REDIS_URL_ENV):
        top["redis_url"] = env[REDIS_URL_ENV]
        top["redis_url_from_env"] = True
    try:
        settings = Settings.model_validate({**top, "connections": connections,
                                            "config_path": path})
    except ValueError as exc:
        raise ConfigError(f"{path or 'configuration'}: {exc}") from exc
    for conn in settings.connections.values():
        spec = CONNECTORS.get(conn.erp)
        if spec is None:
            raise ConfigError(f"connections.{conn.name}.erp: unknown ERP {conn.erp!r} "
                              f"(known: {', '.join(sorted(CONNECTORS))})")
        try:
            conn._erp_settings = spec.settings_model.model_validate(conn.settings)
        except ValueError as exc:
            raise ConfigError(f"connections.{conn.name}.settings: {exc}") from exc
    return settings


def load_settings(path: str | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    path = path or env.get(CONFIG_ENV)
    if not path:
        return parse_settings({}, env)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{CONFIG_ENV}={path}: no such file")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_settings(raw, env, str(file))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded on first use."""
    return load_settings()


def redis_url_configured(env: dict[str, str] | None = None) -> bool:
    """True when the user named a Redis explicitly (then we never start an embedded one)."""
    env = dict(os.environ) if env is None else env
    if env.get(REDIS_URL_ENV):
        return True
    path = env.get(CONFIG_ENV)
    if path and Path(path).is_file():
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        return "redis_url" in raw.get("orderbridge", {})
    return False


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """The environment for a child process (worker, intake) we start, plus overrides."""
    return {**os.environ, **overrides}
