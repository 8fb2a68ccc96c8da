"""Building the `httpx.Client` a connector talks through, and bearer-token auth shared by workers.

The client carries the cross-cutting parts so connectors stay about their ERP: timeouts, a hook
that takes a slot of the shared request budget (and beats the step's heartbeat) before every
request, and a hook that feeds every answer's rate-limit signals (429, Retry-After,
`X-RateLimit-*`) back into that budget; and, when asked, an observer told of every request's
method, path and status (None when no answer came), which is how metrics count ERP calls.
Each thread gets its own small connection pool (`PerThreadTransport`) under the one client.

Every socket to an ERP gives up on bytes the ERP has not acknowledged after the request timeout
(`TCP_USER_TIMEOUT`). Without it the kernel keeps resending them for many minutes, even after
the client has given up and closed the socket: a POST sent while the host was cut off from the
network reached the ERP seconds after the link came back, when the job's lease was long gone
and another worker had already posted the order. With it, a request lands within its timeout
or never, which is what the `sending` mark's settling time and the lease rely on.
"""

from __future__ import annotations

import socket
import threading
import weakref
from collections.abc import Callable, Generator
from typing import Protocol
from urllib.parse import quote
from uuid import UUID

import httpx

from connectors.errors import InvalidId

MAX_ID_LENGTH = 200  # longer than any ERP's or shop's ids


def segment(value: object) -> str:
    """`value` as exactly one URL path segment: percent-encoded, so that no character of it
    (`/`, `?`, `#`, `%`, a space, a control character) can make the request name another
    resource than the one the caller meant. Empty, `.`, `..` and over-long values name no
    resource at all: `InvalidId`, and nothing is sent. Every connector builds its paths with it."""
    text = str(value)
    if not text or text in (".", "..") or len(text) > MAX_ID_LENGTH:
        raise InvalidId(f"not an id: {text[:40]!r}{'...' if len(text) > 40 else ''}")
    return quote(text, safe="")


def guid(value: object) -> str:
    """A GUID id (Exact Online's) in its canonical form, or `InvalidId`."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        raise InvalidId(f"not a GUID: {str(value)[:40]!r}") from None


def digits(value: object) -> str:
    """A numeric id (Shopify's, WooCommerce's), or `InvalidId`."""
    text = str(value)
    if not text.isascii() or not text.isdigit() or len(text) > 20:
        raise InvalidId(f"not a numeric id: {text[:40]!r}")
    return text


class Budget(Protocol):
    def take(self, on_wait: Callable[[], None] | None = None) -> None: ...
    def observe(self, response: httpx.Response) -> None: ...


# (method, URL path, status or None when the request got no answer)
Observer = Callable[[str, str, int | None], None]


class TokenSource(Protocol):
    def get(self) -> str: ...
    def refresh(self, stale: str | None) -> str: ...


def build_client(
    *,
    timeout: float,
    budget: Budget | None = None,
    heartbeat: Callable[[], None] | None = None,
    transport: httpx.BaseTransport | None = None,
    max_connections: int = 50,
    observer: Observer | None = None,
) -> httpx.Client:
    """An HTTP client for one connection: timeouts, shared budget, throttling feedback.
    `max_connections` bounds each thread's own pool (a thread uses one at a time)."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=1)
    if transport is None:
        transport = erp_transport(timeout, limits)
    if observer is not None:
        transport = ObservedTransport(transport, observer)

    take_slot = slot_taker(budget, heartbeat)

    def before_request(request: httpx.Request) -> None:
        take_slot()

    def after_response(response: httpx.Response) -> None:
        if budget:
            budget.observe(response)

    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        limits=limits,
        event_hooks={"request": [before_request], "response": [after_response]},
        transport=transport,
        follow_redirects=False,
    )


def slot_taker(budget: Budget | None, heartbeat: Callable[[], None] | None) -> Callable[[], None]:
    """What goes before every ERP request: a heartbeat, then a slot of the request budget
    (beating while it waits)."""

    def take() -> None:
        if heartbeat:
            heartbeat()
        if budget:
            budget.take(on_wait=heartbeat)

    return take


def erp_transport(timeout: float, limits: httpx.Limits) -> httpx.BaseTransport:
    """The transport that reaches an ERP: a pool per thread, unacknowledged bytes given up
    after `timeout`."""
    tls = httpx.create_ssl_context()  # built once: loading the CA bundle is not cheap
    options = unacknowledged_bytes_expire(timeout)
    return PerThreadTransport(
        lambda: httpx.HTTPTransport(verify=tls, limits=limits, socket_options=options)
    )


def unacknowledged_bytes_expire(seconds: float) -> list[tuple[int, int, int]]:
    """Socket options under which bytes sent and not acknowledged within `seconds` are given
    up (and the connection dropped), instead of resent long after (Linux's TCP_USER_TIMEOUT;
    elsewhere none)."""
    option = getattr(socket, "TCP_USER_TIMEOUT", None)
    if option is None:
        return []
    return [(socket.IPPROTO_TCP, option, max(1, int(seconds * 1000)))]


class PerThreadTransport(httpx.BaseTransport):
    """A connection pool per thread instead of one pool shared by all of a worker's threads.

    httpcore's pool does work on every request and every answer that grows with the number of
    connections it holds (the square of it for idle ones: each is checked with a system call and
    counted against the others) under one lock for all threads. With a 32-thread worker calling
    an ERP that answers fast, that was a large part of the CPU an ERP call cost. A worker thread
    makes one request at a time, so a pool of its own keeps one connection alive and checks only
    that one; the total stays one connection per busy thread, as before."""

    def __init__(self, factory: Callable[[], httpx.BaseTransport]) -> None:
        self._factory = factory
        self._local = threading.local()
        # Weak: a pool lives as long as its thread (the thread-local holds it); `close` closes
        # those still alive.
        self._pools: weakref.WeakSet[httpx.BaseTransport] = weakref.WeakSet()
        self._guard = threading.Lock()

    def _pool(self) -> httpx.BaseTransport:
        pool: httpx.BaseTransport | None = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = self._factory()
            with self._guard:
                self._pools.add(pool)
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._pool().handle_request(request)

    def close(self) -> None:
        with self._guard:
            pools = list(self._pools)
            self._pools.clear()
        for pool in pools:
            pool.close()
        self._local = threading.local()  # a thread that goes on gets a fresh pool


class ObservedTransport(httpx.BaseTransport):
    """Tells `observer` of each request that goes out (every retry and token refresh too: each
    is a call the ERP counts), including the ones that get no answer. The observer must not
    raise and must not block: it runs on the request's own thread."""

    def __init__(self, inner: httpx.BaseTransport, observer: Observer) -> None:
        self.inner, self.observer = inner, observer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError:
            self.observer(request.method, request.url.path, None)
            raise
        self.observer(request.method, request.url.path, response.status_code)
        return response

    def close(self) -> None:
        self.inner.close()


class BearerAuth(httpx.Auth):
    """Adds `Authorization: Bearer <token>` (or the token under another `header`, after another
    `prefix`); on a 401 fetches a fresh token once and sends again."""

    def __init__(
        self, tokens: TokenSource, header: str = "Authorization", prefix: str = "Bearer "
    ) -> None:
        self.tokens, self.header, self.prefix = tokens, header, prefix

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.get()
        request.headers[self.header] = f"{self.prefix}{token}"
        response = yield request
        if response.status_code == 401:
            fresh = self.tokens.refresh(stale=token)
            request.headers[self.header] = f"{self.prefix}{fresh}"
            yield request
