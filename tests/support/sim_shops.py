"""Shared pieces of the shop simulator tests (tests/simulators/test_shops*.py): a tiny webhook
receiver that records every request, served under real uvicorn like the simulators, and polling
with a deadline. Test modules import the fixture functions by name (`receiver_server_fixture`,
`receiver_fixture`) so pytest registers them there.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulators.testing import running
from tests.support.polling import poll

DEADLINE_S = 10.0
SECRET = "demo-webhook-secret"


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Receiver:
    """Records what arrives and answers `status` (changeable between deliveries)."""

    base_url: str = ""
    status: int = 200
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            body = await request.body()
            with self.lock:
                self.requests.append(Received(request.url.path, dict(request.headers), body))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/{path:path}", record, methods=["POST"])])

    def clear(self, status: int = 200) -> None:
        with self.lock:
            self.requests.clear()
        self.status = status

    def got(self, count: int) -> list[Received]:
        """The first `count` requests, once they have arrived."""

        def arrived() -> list[Received] | None:
            with self.lock:
                return list(self.requests) if len(self.requests) >= count else None

        return poll(arrived, DEADLINE_S)[:count]


@pytest.fixture(scope="module", name="receiver_server")
def receiver_server_fixture() -> Iterator[Receiver]:
    receiver = Receiver()
    with running(receiver.app()) as base_url:
        receiver.base_url = base_url
        yield receiver


@pytest.fixture(name="receiver")
def receiver_fixture(receiver_server: Receiver) -> Receiver:
    receiver_server.clear()
    return receiver_server


def settled(sim: httpx.Client, total: int) -> list[dict[str, Any]]:
    """All deliveries, once `total` have been queued and none is pending any more."""

    def done() -> list[dict[str, Any]] | None:
        body = sim.get("/_sim/deliveries").json()
        return body["deliveries"] if body["total"] >= total and body["pending"] == 0 else None

    return poll(done, DEADLINE_S)


def hmac_b64(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
