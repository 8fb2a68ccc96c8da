"""Configuration: secrets by environment variable name, clear errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import ConfigError, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[2]
CONNECTION = {
    "erp": "poweroffice",
    "api_token_env": "SHOP_TOKEN",
    "settings": {
        "application_key": "a",
        "client_key_env": "PO_CLIENT_KEY",
        "subscription_key": "s",
    },
}


def test_example_file_has_the_demo_connection() -> None:
    settings = load_settings(str(ROOT / "orderbridge.example.toml"), env={})
    conn = settings.connection("demo-poweroffice")
    assert conn.api_token is not None and conn.api_token.get_secret_value() == "demo-token"
    assert settings.operator_token.get_secret_value() == "demo-token"
    assert conn.erp_settings.base_url.startswith("http://127.0.0.1:18081")
    assert settings.intake.port == 8000


def test_secret_from_environment_is_resolved_and_hidden() -> None:
    settings = parse_settings(
        {"connections": {"shop": CONNECTION}}, {"SHOP_TOKEN": "t0k3n", "PO_CLIENT_KEY": "k3y"}
    )
    conn = settings.connection("shop")
    assert conn.api_token.get_secret_value() == "t0k3n"
    assert conn.erp_settings.client_key.get_secret_value() == "k3y"
    assert "k3y" not in repr(conn.erp_settings) and "t0k3n" not in repr(conn)


def test_missing_environment_variable_names_the_key() -> None:
    with pytest.raises(ConfigError, match="connections.shop.api_token_env: .*SHOP_TOKEN"):
        parse_settings({"connections": {"shop": CONNECTION}}, {"PO_CLIENT_KEY": "k"})


def test_unknown_erp_and_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown ERP 'sap'"):
        parse_settings({"connections": {"x": {"erp": "sap"}}}, {})
    with pytest.raises(ConfigError, match="connections.x.settings"):
        parse_settings({"connections": {"x": {"erp": "poweroffice", "settings": {}}}}, {})


def test_redis_url_override_from_environment() -> None:
    settings = parse_settings(
        {"orderbridge": {"redis_url": "redis://a:1/0"}},
        {"ORDERBRIDGE_REDIS_URL": "redis://127.0.0.1:6390/3"},
    )
    assert settings.redis_url == "redis://127.0.0.1:6390/3"


def test_visibility_timeout_must_exceed_the_longest_wait() -> None:
    with pytest.raises(ConfigError, match="visibility_timeout_seconds"):
        parse_settings(
            {
                "orderbridge": {
                    "worker": {"visibility_timeout_seconds": 300},
                    "retry": {"cap_seconds": 600},
                }
            },
            {},
        )
