"""Building the `httpx.Client` a connector talks through, and bearer-token auth shared by workers.

The client carries the cross-cutting parts so connectors stay about their ERP: timeouts, a hook
that takes a slot of the shared request budget (and beats the step's heartbeat) before every
request, and a hook that feeds every answer's rate-limit signals (429, Retry-After,
`X-RateLimit-*`) back into that budget.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol

import httpx


class Budget(Protocol):
    def take(self, on_wait: Callable[[], None] | None = None) -> None: ...
    def observe(self, response: httpx.Response) -> None: ...


class TokenSource(Protocol):
    def get(self) -> str: ...
    def refresh(self, stale: str | None) -> str: ...


def build_client(*, timeout: float, budget: Budget | None = None,
                 heartbeat: Callable[[], None] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 max_connections: int = 50) -> httpx.Client:
    """An HTTP client for one connection: timeouts, shared budget, throttling feedback."""

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
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections),
        event_hooks={"request": [before_request], "response": [after_response]},
        transport=transport,
        follow_redirects=False,
    )


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
