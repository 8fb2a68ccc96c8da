"""Connection settings: the store and the broker each a Redis server, a Sentinel group or (the
broker) RabbitMQ; one client builder; passwords never shown; clear errors naming the setting."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from kombu import Connection
from redis.sentinel import SentinelConnectionPool

from core import redis_client
from core.broker import broker_options
from core.endpoints import AmqpEndpoint, parse_redis_url, redacted
from core.settings import ConfigError, Settings, parse_settings
from workers.supervise import redis_environment, where

GROUP = "sentinel://h1:26379;sentinel://h2:26380;sentinel://h3/2"


def settings(env: dict[str, str] | None = None, **top: Any) -> Settings:
    return parse_settings({"orderbridge": top}, env or {})


def test_a_sentinel_group_as_celery_writes_it() -> None:
    store = settings(redis_url=GROUP, redis_master_name="orders").store_endpoint
    assert store.is_sentinel and store.master_name == "orders" and store.db == 2
    assert store.sentinels == (("h1", 26379), ("h2", 26380), ("h3", 26379))
    assert store.password is None and store.sentinel_password is None


def test_the_environment_names_the_group_and_its_master() -> None:
    env = {"ORDERBRIDGE_REDIS_URL": GROUP, "ORDERBRIDGE_REDIS_MASTER_NAME": "orders"}
    loaded = settings(env, redis_url="redis://elsewhere:6379/0", redis_master_name="old")
    assert loaded.store_endpoint.master_name == "orders" and loaded.redis_url_explicit


@pytest.mark.parametrize(
    "top, env, field",
    [
        ({"redis_url": GROUP}, {}, "orderbridge.redis_master_name"),
        ({}, {"ORDERBRIDGE_REDIS_URL": GROUP}, "orderbridge.redis_master_name"),
        ({"broker_url": GROUP}, {}, "orderbridge.broker_master_name"),
    ],
)
def test_a_group_without_a_master_name_is_refused_naming_the_setting(
    top: dict[str, Any], env: dict[str, str], field: str
) -> None:
    with pytest.raises(ConfigError, match=f"^{field}: required when .* Sentinel group"):
        settings(env, **top)


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://127.0.0.1:6379", "is not a Redis URL"),
        ("sentinel://h1:26379;redis://h2:6379/0", "every member of a Sentinel group"),
        ("sentinel://h1:26379/1;sentinel://h2:26379/2", "the database is one number"),
        ("sentinel://h1:26379;sentinel://h2:26379/zero", "the database is one number"),
        ("sentinel://h1:port;sentinel://h2:26379/0", "the port is not a number"),
        ("sentinel://:a@h1;sentinel://:b@h2/0", "different credentials"),
    ],
)
def test_a_bad_store_url_names_redis_url(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"^orderbridge.redis_url: .*{problem}"):
        settings(redis_url=url, redis_master_name="orders")


def test_passwords_come_from_the_url_or_from_the_environment_once() -> None:
    env = {"RP": "from-env", "SP": "sentinels"}
    in_url = settings(redis_url="sentinel://u:p%40ss@h1;sentinel://h2/0", redis_master_name="m")
    assert (in_url.store_endpoint.username, in_url.store_endpoint.password) == ("u", "p@ss")
    apart = settings(
        env,
        redis_url=GROUP,
        redis_master_name="m",
        redis_password_env="RP",
        sentinel_password_env="SP",
    ).store_endpoint
    assert (apart.password, apart.sentinel_password) == ("from-env", "sentinels")
    with pytest.raises(ConfigError, match="orderbridge.redis_url: a password in the URL and"):
        settings(env, redis_url="redis://:x@h:6379/0", redis_password_env="RP")


def test_the_broker_is_the_store_unless_named() -> None:
    same = settings(redis_url=GROUP, redis_master_name="orders")
    assert same.broker_endpoint == same.store_endpoint
    amqp = settings({"ORDERBRIDGE_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"})
    assert amqp.broker_endpoint == AmqpEndpoint("amqp://guest:guest@127.0.0.1:5672//")
    other = settings(redis_url=GROUP, redis_master_name="orders", broker_url=GROUP)
    assert other.broker_endpoint.master_name == "orders"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="^orderbridge.broker_url: .*not a broker URL"):
        settings(broker_url="kafka://127.0.0.1:9092")


def test_no_password_is_ever_shown() -> None:
    env = {"RP": "pw-in-env", "SP": "pw-of-sentinels"}
    loaded = settings(
        env,
        redis_url="sentinel://:pw-in-url@h1:26379;sentinel://:pw-in-url@h2:26379/0",
        redis_master_name="orders",
        sentinel_password_env="SP",
        broker_url="redis://h9:6379/1",
        broker_password_env="RP",
    )
    shown = [repr(loaded), repr(loaded.store_endpoint), repr(loaded.broker_endpoint)]
    shown += [f"{what} {place}" for what, place in where(loaded, "/tmp/logs", False)]
    assert not any(secret in text for text in shown for secret in ("pw-in", "pw-of"))
    rows = dict(where(loaded, "/tmp/logs", False))
    assert rows["Redis"] == ("sentinel://:***@h1:26379;sentinel://:***@h2:26379/0 (master orders)")
    assert redacted("amqp://guest:guest@rabbit:5672//") == "amqp://guest:***@rabbit:5672//"


def test_celery_gets_every_sentinel_with_the_database_and_the_master_name() -> None:
    env = {"RP": "p@ss", "SP": "sentinels"}
    options = broker_options(
        settings(
            env,
            redis_url=GROUP,
            redis_master_name="orders",
            redis_password_env="RP",
            sentinel_password_env="SP",
        )
    )
    assert options["broker_connection_max_retries"] is None
    assert options["broker_channel_error_retry"] is True
    transport = options["broker_transport_options"]
    assert transport["master_name"] == "orders"
    assert transport["sentinel_kwargs"]["password"] == "sentinels"
    assert transport["visibility_timeout"] == 900
    assert {"socket_timeout", "socket_connect_timeout", "health_check_interval"} <= set(transport)
    # Kombu reads the database and the password from the first member only: each carries them.
    kombu = Connection(options["broker_url"], transport_options=transport)
    assert (kombu.transport_cls, kombu.virtual_host, kombu.password) == ("sentinel", "2", "p@ss")
    assert len(kombu.alt) == 3 and all(url.endswith("/2") for url in kombu.alt)


def test_a_plain_redis_broker_gets_its_password_and_amqp_passes_through() -> None:
    plain = broker_options(
        settings({"RP": "s/cret"}, redis_url="redis://h:6379/3", redis_password_env="RP")
    )
    assert Connection(plain["broker_url"]).password == "s/cret"
    assert "master_name" not in plain["broker_transport_options"]
    amqp = broker_options(settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    assert amqp["broker_url"] == "amqp://guest:guest@127.0.0.1:5672//"


def test_one_builder_gives_every_client_timeouts_health_checks_and_retries() -> None:
    plain = redis_client.connect(parse_redis_url("redis://127.0.0.1:1/4", password="pw"))
    kwargs = plain.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] and kwargs["socket_connect_timeout"]
    assert kwargs["health_check_interval"] and kwargs["password"] == "pw" and kwargs["db"] == 4
    assert kwargs["retry"].get_retries() == redis_client.RETRIES
    assert redis.exceptions.ReadOnlyError in kwargs["retry"]._supported_errors
    group = redis_client.connect(
        parse_redis_url(GROUP, master_name="orders", password="pw", sentinel_password="sp")
    )
    pool = group.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "orders"
    assert pool.connection_kwargs["db"] == 2 and pool.connection_kwargs["password"] == "pw"
    asking = pool.sentinel_manager.sentinels[0].connection_pool.connection_kwargs
    assert asking["password"] == "sp" and asking["retry"].get_retries() == 0


def test_no_embedded_redis_is_started_for_a_sentinel_group() -> None:
    group = Settings(redis_url=GROUP, redis_master_name="orders")  # not "explicit"
    with redis_environment(group) as env:  # trying one would fail: a group has no one port
        assert env == dict(os.environ)  # the children read the same settings
