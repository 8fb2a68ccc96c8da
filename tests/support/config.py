"""The one builder of orderbridge TOML configurations for tests and benchmarks.

Tests and benchmarks describe a configuration as data (the defaults below, a few overrides, one
or more connections from the per-ERP helpers) and `tomli_w` writes it, so there is no text
template to copy and drift.
"""

from __future__ import annotations

import copy
from typing import Any

import tomli_w

OPERATOR_TOKEN = "op-token"
SHOP_TOKEN = "shop-token"

# Fast clocks for tests: short retries, a 6 s stale step, a sweeper five times a second, ERP
# requests given 5 s, so a lost answer's `sending` mark is looked up after 6 s (not 25).
TEST_DEFAULTS: dict[str, Any] = {
    "operator_token": OPERATOR_TOKEN,
    "log_format": "json",
    "log_level": "INFO",
    "retry": {"base_seconds": 0.2, "cap_seconds": 2, "window_seconds": 60},
    "worker": {
        "pool": "threads",
        "concurrency": 8,
        "stale_after_seconds": 6,
        "queued_stale_after_seconds": 30,
        "sweep_interval_seconds": 0.2,
        "visibility_timeout_seconds": 60,
        "send_poll_seconds": 2,
        "http_timeout_seconds": 5,
        "sending_settle_seconds": 6,
    },
}


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """`base` with `overrides` laid over it, nested tables merged key by key."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def orderbridge_toml(
    *, redis_url: str, intake_port: int, connections: dict[str, Any], **overrides: Any
) -> str:
    """A whole configuration file: `[orderbridge]` (test defaults plus `overrides`, e.g.
    `worker={"pool": "prefork"}`) and `[connections.NAME]` tables."""
    top = merged(
        TEST_DEFAULTS, {"redis_url": redis_url, "intake": {"port": intake_port}, **overrides}
    )
    return tomli_w.dumps({"orderbridge": top, "connections": connections})


def poweroffice_connection(sim_url: str, **extra: Any) -> dict[str, Any]:
    """A PowerOffice Go connection on the simulator at `sim_url` (its demo client)."""
    return merged(
        {
            "erp": "poweroffice",
            "api_token": SHOP_TOKEN,
            "send_invoice": False,
            "settings": {
                "base_url": f"{sim_url}/Demo/v2",
                "token_url": f"{sim_url}/Demo/OAuth/Token",
                "application_key": "demo-app-key",
                "client_key": "demo-client-key",
                "subscription_key": "demo-subscription-key",
            },
        },
        extra,
    )


def exact_connection(sim_url: str, **extra: Any) -> dict[str, Any]:
    """An Exact Online connection on the simulator at `sim_url` (consent with `connect`)."""
    return merged(
        {
            "erp": "exact",
            "api_token": SHOP_TOKEN,
            "send_invoice": False,
            "settings": {
                "base_url": sim_url,
                "division": 1,
                "client_id": "demo-exact-client",
                "client_secret": "demo-exact-secret",
                "redirect_uri": "http://127.0.0.1:8000/oauth/exact/callback",
                "send_as": "order",
                "shipping_item_code": "SHIP",
            },
        },
        extra,
    )


def duett_connection(sim_url: str, **extra: Any) -> dict[str, Any]:
    """A Duett connection on the simulator at `sim_url` (its demo keys)."""
    return merged(
        {
            "erp": "duett",
            "api_token": SHOP_TOKEN,
            "send_invoice": False,
            "settings": {
                "base_url": sim_url,
                "integration_key": "demo-duett-integration-key",
                "client_key": "demo-duett-client-key",
                # Duett publishes no limit: the simulator has none either
                "requests_per_second": 50,
            },
        },
        extra,
    )


def sapera_connection(sim_url: str, **extra: Any) -> dict[str, Any]:
    """A Sapera connection on the simulator at `sim_url` (its demo tenant and user)."""
    return merged(
        {
            "erp": "sapera",
            "api_token": SHOP_TOKEN,
            "send_invoice": False,
            "settings": {
                "base_url": sim_url,
                "tenant": "demo",
                "user": "webshop@demo.example",
                "password": "demo-sapera-password",
                "requests_per_second": 50,
            },
        },
        extra,
    )
