"""Per-process singletons a worker or intake needs: settings, the store, one connector per
connection (with its HTTP client and shared request budget), and the step heartbeat.

Connectors are built lazily, after a prefork child is forked, and reused by every thread of the
process (httpx clients are thread-safe and keep connections alive between orders).
"""

from __future__ import annotations

import contextvars
import threading
from functools import lru_cache
from typing import Any, Callable

from connectors.http import build_client
from connectors.registry import CONNECTORS
from workers.budget import RequestBudget
from workers.settings import get_settings
from workers.store import Store

_heartbeat: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar(
    "orderbridge_heartbeat", default=None)
_lock = threading.Lock()
_connectors: dict[str, Any] = {}


@lru_cache(maxsize=1)
def store() -> Store:
    return Store.from_url(get_settings().redis_url)


def beat() -> None:
    """Tell the running step's lease that we are alive (called before every ERP request)."""
    callback = _heartbeat.get()
    if callback is not None:
        callback()


def set_heartbeat(callback: Callable[[], None] | None) -> contextvars.Token[Any]:
    return _heartbeat.set(callback)


def reset_heartbeat(token: contextvars.Token[Any]) -> None:
    _heartbeat.reset(token)


def budget_for(connection_name: str) -> RequestBudget:
    """The shared budget of the ERP key this connection uses (the connector says which key
    and what limits; the connection may lower the per-window count)."""
    conn = get_settings().connection(connection_name)
    erp_settings: Any = conn.erp_settings
    limit, window, day_limit = erp_settings.rate_limits()
    if conn.requests_per_second:
        # The window carries a little slack (e.g. 1.1 s for "per second"); not the count.
        limit = max(1, int(conn.requests_per_second * max(1.0, window - 0.1)))
    return RequestBudget(store().redis, erp_settings.budget_key(), limit=limit,
                         window_seconds=window, day_limit=day_limit)


def connector(connection_name: str) -> Any:
    """The connector for a connection, built once per process."""
    with _lock:
        found = _connectors.get(connection_name)
        if found is None:
            found = _build_connector(connection_name)
            _connectors[connection_name] = found
        return found


def _build_connector(connection_name: str) -> Any:
    settings = get_settings()
    conn = settings.connection(connection_name)
    spec = CONNECTORS[conn.erp]
    client = build_client(timeout=settings.worker.http_timeout_seconds,
                          budget=budget_for(connection_name), heartbeat=beat,
                          max_connections=max(10, settings.worker.concurrency * 2))
    return spec.factory(conn.erp_settings, client, store())
