"""The one place a Redis client is built, so every process meets a failover the same way.

A server URL gets `redis.Redis.from_url`; a Sentinel group gets redis-py's
`Sentinel(...).master_for(name)`, whose connections ask the Sentinels where the master is each
time they connect. Every client has socket timeouts (a dead host answers nothing, it does not
refuse), a health check on idle connections, and an explicit `Retry` with exponential backoff on
connection errors, timeouts and `READONLY`:
- a Sentinel-managed connection already turns `READONLY` (its master was demoted) into a
  `ConnectionError` after dropping the connection, so the retry reconnects to the new master;
- a server URL (a name or address that an operator's failover moves) gets `ReadOnlyError` in
  the retry's errors for the same effect; a server that stays a replica fails after the retries.
The retries span a few seconds, enough for a brief blip but not a whole failover: callers
already treat Redis away as transient (the intake answers 503, a step's message is redelivered,
the sweeper tries again). A retried command may have run once already with its answer lost:
our scripts are written to be repeated (SET NX, "already there" answers).
"""

from __future__ import annotations

import socket
from typing import Any, cast

import redis
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel

from core.endpoints import RedisEndpoint

SOCKET_TIMEOUT_SECONDS = 10.0  # above every blocking command we send (admission's BRPOP: 1 s)
CONNECT_TIMEOUT_SECONDS = 5.0
HEALTH_CHECK_SECONDS = 10  # an idle connection is PINGed before use after this long
RETRIES = 3
BACKOFF_BASE_SECONDS = 0.25  # waits of 0.5, 1, 1 s between the attempts
BACKOFF_CAP_SECONDS = 1.0
RETRIED_ERRORS: tuple[type[Exception], ...] = (
    ConnectionError,
    TimeoutError,
    socket.timeout,
    ReadOnlyError,
)


def retry_policy(retries: int = RETRIES) -> Retry:
    """What a command (and a connect) does when the server is away: try again, backing off."""
    return Retry(
        ExponentialBackoff(cap=BACKOFF_CAP_SECONDS, base=BACKOFF_BASE_SECONDS),
        retries=retries,
        supported_errors=RETRIED_ERRORS,
    )


def connect(
    endpoint: RedisEndpoint,
    *,
    decode_responses: bool = True,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
    retries: int = RETRIES,
) -> redis.Redis:
    """A client of the endpoint's master. Connects lazily: building it never fails on a
    server that is away. The store decodes answers to `str`."""
    options: dict[str, Any] = {
        "decode_responses": decode_responses,
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
        "health_check_interval": HEALTH_CHECK_SECONDS,
        "retry": retry_policy(retries),
    }
    if not endpoint.is_sentinel:
        if endpoint.password is not None:
            options["password"] = endpoint.password
        return redis.Redis.from_url(endpoint.url, **options)
    # No retry towards the Sentinels: asking the next one is the retry, and a dead one must
    # not stall the asking.
    asking = sentinel_options(endpoint, socket_timeout, connect_timeout)
    asking["retry"] = Retry(NoBackoff(), retries=0)
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(endpoint.sentinels), sentinel_kwargs=asking
    )
    master = sentinels.master_for(  # type: ignore[no-untyped-call]
        endpoint.master_name,
        db=endpoint.db,
        username=endpoint.username,
        password=endpoint.password,
        **options,
    )
    return cast(redis.Redis, master)


def sentinel_options(
    endpoint: RedisEndpoint,
    socket_timeout: float = SOCKET_TIMEOUT_SECONDS,
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """How to talk to the Sentinels themselves: timeouts and their password (the broker's
    transport takes the same as `sentinel_kwargs`)."""
    options: dict[str, Any] = {
        "socket_timeout": socket_timeout,
        "socket_connect_timeout": connect_timeout,
    }
    if endpoint.sentinel_password is not None:
        options["password"] = endpoint.sentinel_password
    return options


def answers(endpoint: RedisEndpoint, timeout: float = 0.5) -> bool:
    """Does the endpoint's master answer a PING within about `timeout`? (no retries)"""
    client = connect(endpoint, socket_timeout=timeout, connect_timeout=timeout, retries=0)
    try:
        return bool(client.ping())
    except (redis.exceptions.RedisError, OSError):
        return False
    finally:
        client.close()
