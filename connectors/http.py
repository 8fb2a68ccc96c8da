"""Building the `httpx.Client` a connector talks through, and bearer-token auth shared by workers.

The client carries the cross-cutting parts so connectors stay about their ERP: timeouts, a hook
that takes a slot of the shared request budget (and beats the step's heartbeat) before every
request, and a hook that feeds every answer's rate-limit signals (429, Retry-After,
`X-RateLimit-*`) back into that budget; and, when asked, an observer told of every request's
method, path and status (None when no answer came), which is how metrics count ERP calls.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol

import httpx


class Budget(Protocol):
    def take(self, on_wait: Callable[[], None] | None = None) -> None: ...
    def observe(self, response: httpx.Response) -> None: ...


# (method, URL path, status or None when the request got no answer)
Observer = Callable[[str, str, int | None], None]


class TokenSource(Protocol):
    def get(self) -> str: ...
    def refresh(self, stale: str | None) -> str: ...


def build_client(*, timeout: float, budget: Budget | None = None,
                 heartbeat: Callable[[], None] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 max_connections: int = 50, observer: Observer | None = None) -> httpx.Client:
    """An HTTP client for one connection: timeouts, shared budget, throttling feedback."""
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    if observer is not None:
        transport = ObservedTransport(transport or httpx.HTTPTransport(limits=limits), observer)

    def before_request(request: httpx.Request) -> None:
        if heartbeat:
            heartbeat()
        if budget:
            budget.take(on_wait=heartbeat)

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
    """Adds `Authorization: Bearer`; on a 401 fetches a fresh token once and sends again."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.tokens.get()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            fresh = self.tokens.refresh(stale=token)
            request.headers["Authorization"] = f"Bearer {fresh}"
            yield request
