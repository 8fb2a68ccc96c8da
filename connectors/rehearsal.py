"""A dry run's HTTP transport: the ERP's reads happen, its writes are recorded and answered by
a stand-in, so a connector runs its real code (mapping, look-ups, request bodies, error
handling) without changing anything in the ERP.

Each ERP package gives a `StandIn` (its `rehearsal.py`, named in the registry line). It says
which requests write (Sapera's reads are POSTs; a token request writes nothing of the shop's),
answers each write as the ERP would (the ids and fields the connector reads back, or the
refusal the ERP would give, found by reads where the ERP's rule depends on its data), and
reports the amounts the ERP would compute. The connector cannot tell the difference, so an
error it raises on a stand-in's refusal is the error a real run would dead-letter with.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import httpx

Read = Callable[[httpx.Request], httpx.Response]  # sends a request to the ERP for real


@dataclass(frozen=True)
class Recorded:
    """One write the connector asked for, and what the stand-in answered."""

    method: str
    path: str
    query: str
    body: Any  # the JSON sent (or the text, when it is not JSON)
    status: int
    answer: Any


class StandIn(Protocol):
    """The ERP's side of a dry run (one per run: it may remember the writes it answered)."""

    def is_write(self, request: httpx.Request) -> bool:
        """Would this request change anything in the ERP? (Token requests do not.)"""
        ...

    def answer(self, request: httpx.Request, read: Read) -> httpx.Response:
        """The ERP's answer to a write, without making it: success as the ERP shapes it, or
        the ERP's own refusal. `read` may send read requests to the ERP to decide."""
        ...

    def amounts(self) -> dict[str, str]:
        """The amounts the ERP would compute for the documents answered so far (e.g. the
        order's total with and without VAT), as decimal strings; empty when unknown."""
        ...


@runtime_checkable
class AnswersMadeUp(Protocol):
    """Optional, for a stand-in that answers reads of documents the dry run made up (the ERP
    cannot know them): `is_write` claims such a read so that the stand-in answers it, and this
    says it is a read, so it is not shown as a write."""

    def made_up_read(self, request: httpx.Request) -> bool: ...


class RehearsalTransport(httpx.BaseTransport):
    """Sends reads to `inner`; records each write and lets `stand_in` answer it."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        stand_in: StandIn,
        before_read: Callable[[], None] | None = None,
    ) -> None:
        self.inner, self.stand_in = inner, stand_in
        # The stand-in's own reads bypass the client (and its hooks): this takes their slot
        # of the connection's request budget, as the connector's requests do.
        self.before_read = before_read
        self._recorded: list[Recorded] = []
        self._guard = threading.Lock()
        self.reads = 0  # requests that reached the ERP (look-ups, token requests)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.stand_in.is_write(request):
            return self._send(request)
        request.read()
        response = self.stand_in.answer(request, self._read)
        response.read()
        if isinstance(self.stand_in, AnswersMadeUp) and self.stand_in.made_up_read(request):
            return response
        with self._guard:
            self._recorded.append(
                Recorded(
                    method=request.method,
                    path=request.url.path,
                    query=request.url.query.decode(),
                    body=decoded(request.content),
                    status=response.status_code,
                    answer=decoded(response.content),
                )
            )
        return response

    def _read(self, request: httpx.Request) -> httpx.Response:
        if self.stand_in.is_write(request):
            raise ValueError(f"a stand-in may only read: {request.method} {request.url.path}")
        if self.before_read is not None:
            self.before_read()
        response = self._send(request)
        response.read()
        return response

    def _send(self, request: httpx.Request) -> httpx.Response:
        with self._guard:
            self.reads += 1
        return self.inner.handle_request(request)

    def take(self) -> list[Recorded]:
        """The writes recorded since the last `take` (each step's own)."""
        with self._guard:
            taken, self._recorded = self._recorded, []
        return taken

    def close(self) -> None:
        self.inner.close()


def decoded(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", "replace")


def json_answer(request: httpx.Request, body: Any, status: int = 200) -> httpx.Response:
    """An answer to `request` with a JSON body (what most stand-ins give)."""
    return httpx.Response(status, json=body, request=request)


@dataclass
class Counter:
    """Made-up ids for documents a dry run would create, recognisable as such."""

    start: int = 900_000_001
    _next: int = field(default=0, init=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __call__(self) -> int:
        with self._guard:
            value = self.start + self._next
            self._next += 1
            return value
