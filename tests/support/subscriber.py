"""A shop's webhook endpoint for invoice events, run in the test process on a free port.

It checks every signature, records what arrived (in order), and can be told to fail: for a
while (`down_for`), or for one event id for good (`refuse`), answering 500 like a shop that is
down. Workers in other processes POST to it over loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from simulators.testing import running

SECRET = "subscriber-secret"


class Subscriber:
    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret.encode()
        self.received: list[dict[str, Any]] = []  # accepted events, in arrival order
        self.refused = 0
        self.bad_signatures = 0
        self.down_until = 0.0
        self.refuse_ids: set[str] = set()
        self._lock = threading.Lock()
        self.url = ""

    def down_for(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    def refuse(self, key: str) -> None:
        """Answer 500 to every event with this id or order reference, until `accept`."""
        self.refuse_ids.add(key)

    def accept(self, key: str) -> None:
        self.refuse_ids.discard(key)

    def types(self) -> list[str]:
        with self._lock:
            return [e["type"] for e in self.received]

    def ids(self) -> list[str]:
        with self._lock:
            return [e["id"] for e in self.received]

    async def _receive(self, request: Request) -> JSONResponse:
        raw = await request.body()
        expected = "sha256=" + hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        given = request.headers.get("x-orderbridge-signature", "")
        if not hmac.compare_digest(expected, given):
            self.bad_signatures += 1
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event = json.loads(raw)
        if time.monotonic() < self.down_until or self.refuse_ids & {
            event["id"],
            event["reference"],
        }:
            self.refused += 1
            return JSONResponse({"error": "down"}, status_code=500)
        with self._lock:
            self.received.append(event)
        return JSONResponse({"ok": True})

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/events", self._receive, methods=["POST"])])


@contextmanager
def subscriber(secret: str = SECRET) -> Iterator[Subscriber]:
    sub = Subscriber(secret)
    with running(sub.app()) as base_url:
        sub.url = f"{base_url}/events"
        yield sub


def events_section(url: str, **extra: Any) -> dict[str, Any]:
    """`[connections.NAME.events]` for tests: polls and retries on a fast clock."""
    return {
        "webhook_url": url,
        "webhook_secret": SECRET,
        "poll_seconds": 0.3,
        "retry_base_seconds": 0.2,
        "retry_cap_seconds": 1.0,
        "give_up_after_seconds": 60,
        "timeout_seconds": 5,
        **extra,
    }
