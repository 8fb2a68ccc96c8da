"""The admin and fault-injection layer that every ERP simulator shares.

Tests, the demo and benchmarks need to see what a connector did to an ERP and to make the ERP
misbehave on cue: error answers, writes that commit but whose answer is lost, slowness,
throttling. That is the same for every ERP, so it lives here once. A simulator supplies only what
differs (its routes and their templates, its state, its error bodies, its options) through the
small `SimulatedErp` contract, and `SimApp` wraps it as the outermost ASGI app.

Admin routes (not logged, never faulted): `GET /_sim/state`, `GET /_sim/calls`,
`GET|POST|DELETE /_sim/faults`, `GET|POST /_sim/latency`, `POST /_sim/reset`,
`GET|POST /_sim/config`, plus any extra routes the simulator adds (e.g. `POST /_sim/payments`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

FAULT_MODES = ("status", "commit_then_status", "commit_then_drop", "latency", "rate_limit")
DEFAULT_FAULT_STATUS = {"status": 503, "commit_then_status": 500}
CALL_LOG_SIZE = 10_000

AdminHandler = Callable[[Request], Awaitable[Response]]


class ConfigError(ValueError):
    """A runtime option was unknown or had a bad value; the admin API answers 400."""


class ConnectionDropped(ConnectionError):
    """Raised instead of dropping when the server gives no transport to abort (in-process ASGI)."""


class SimulatedErp(Protocol):
    """What an ERP simulator hands to the admin layer."""

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ERP's own routes."""

    def endpoint(self, method: str, path: str) -> str:
        """`"METHOD /template"` without the base prefix, e.g. `PATCH /Customers/{id}`."""

    def state(self) -> dict[str, list[Any]]: ...

    def reset(self) -> None:
        """Back to the start state and the options the app was created with."""

    def error_response(self, status: int) -> Response:
        """The ERP's usual answer for an error status, used by `status` faults."""

    def rate_limit_response(self) -> Response: ...

    def get_config(self) -> dict[str, Any]: ...

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Merge runtime options; raise ConfigError for unknown keys or bad values."""

    def admin_routes(self) -> dict[str, AdminHandler]:
        """Extra admin routes as `{"POST /_sim/payments": handler}`."""


def check_type(name: str, value: Any, default: Any) -> None:
    """The plain rule for a runtime option: the default's type (ints non-negative, strings
    non-empty); ConfigError otherwise."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        ok = isinstance(value, str) and value != ""
    if not ok:
        raise ConfigError(f"bad value for {name}: {value!r}")


def match_template(template: str, segments: list[str]) -> dict[str, str] | None:
    """The `{name}` parameters of a path template for these path segments (case-insensitive
    fixed parts), or None when the template does not match."""
    parts = template.strip("/").split("/")
    if len(parts) != len(segments):
        return None
    params: dict[str, str] = {}
    for part, segment in zip(parts, segments, strict=True):
        if part.startswith("{"):
            if not segment:
                return None
            params[part.strip("{}")] = segment
        elif part.lower() != segment.lower():
            return None
    return params


Options = TypeVar("Options")


def merged_options(
    options: Options,
    changes: Mapping[str, Any],
    check: Callable[[str, Any, Any], None] = check_type,
) -> Options:
    """A copy of a simulator's frozen options dataclass with `changes` applied; ConfigError for
    unknown keys, or whatever `check(name, value, default)` refuses."""
    defaults = {field.name: field.default for field in dataclasses.fields(options)}  # type: ignore[arg-type]
    unknown = sorted(set(changes) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(unknown)}")
    for name, value in changes.items():
        check(name, value, defaults[name])
    return dataclasses.replace(options, **changes)  # type: ignore[type-var]


@dataclass
class Fault:
    id: int
    match: str
    mode: str
    count: int | None  # calls left; None means until cleared
    status: int | None
    ms: int
    applied: int = 0

    def matches(self, endpoint: str) -> bool:
        return self.match == "*" or self.match.lower() == endpoint.lower()

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "match": self.match,
            "mode": self.mode,
            "count": self.count,
            "status": self.status,
            "ms": self.ms,
            "applied": self.applied,
        }


def parse_fault(spec: Any, fault_id: int) -> Fault:
    """Validate a `POST /_sim/faults` body; ValueError names what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError("body must be a JSON object")
    match, mode = spec.get("match"), spec.get("mode")
    if not isinstance(match, str) or not (match == "*" or " /" in match):
        raise ValueError('match must look like "POST /SalesOrders/Complete" (or "*")')
    if mode not in FAULT_MODES:
        raise ValueError(f"mode must be one of {', '.join(FAULT_MODES)}")
    count = spec.get("count", 1)
    if count == -1:
        count = None
    if count is not None and (not _is_int(count) or count < 1):
        raise ValueError("count must be a positive integer, or null/-1 for until cleared")
    status = spec.get("status", DEFAULT_FAULT_STATUS.get(mode))
    if mode in DEFAULT_FAULT_STATUS and (not _is_int(status) or not 400 <= status <= 599):
        raise ValueError("status must be an HTTP error status (400-599)")
    ms = spec.get("ms", 0)
    if not _is_int(ms) or ms < 0 or (mode == "latency" and ms == 0):
        raise ValueError("ms must be a non-negative integer (positive for latency)")
    method, _, template = match.partition(" ")
    match = match if match == "*" else f"{method.upper()} {template}"
    return Fault(fault_id, match, mode, count, status if mode in DEFAULT_FAULT_STATUS else None, ms)


def mod10_kid(number: int | str) -> str:
    """A KID (Norwegian customer payment reference): the invoice number with its MOD10 (Luhn)
    check digit."""
    total = 0
    for index, digit in enumerate(reversed(str(number))):
        value = int(digit) * (2 if index % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return f"{number}{(10 - total % 10) % 10}"


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


class SimAdmin:
    """Call log, faults and global latency. Guarded by a lock because tests may read it from
    another thread while uvicorn's loop writes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: deque[dict[str, Any]] = deque(maxlen=CALL_LOG_SIZE)
        self.total = 0
        self.by_endpoint: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.latency_ms = 0
        self._next_fault_id = 1

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.total = 0
            self.by_endpoint.clear()
            self.faults.clear()
            self.latency_ms = 0
            self._next_fault_id = 1

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def log_call(self, endpoint: str, scope: Scope) -> dict[str, Any]:
        record = {
            "endpoint": endpoint,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "status": None,
            "fault": None,
            "at": time.time(),
        }
        with self._lock:
            self.calls.append(record)
            self.total += 1
            self.by_endpoint[endpoint] += 1
        return record

    def add_fault(self, spec: Any) -> Fault:
        with self._lock:
            fault = parse_fault(spec, self._next_fault_id)
            self._next_fault_id += 1
            self.faults.append(fault)
            return fault

    def take_fault(self, endpoint: str) -> Fault | None:
        """The first matching fault with calls left, decremented."""
        with self._lock:
            for fault in self.faults:
                if fault.matches(endpoint) and (fault.count is None or fault.count > 0):
                    if fault.count is not None:
                        fault.count -= 1
                    fault.applied += 1
                    return fault
        return None

    def calls_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_endpoint": dict(self.by_endpoint),
                "calls": [dict(call) for call in self.calls],
            }

    def faults_json(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.as_json() for fault in self.faults]


class SimApp:
    """The outermost ASGI app of a simulator: admin routes, call log, latency and faults."""

    def __init__(self, erp: SimulatedErp) -> None:
        self.erp = erp
        self.admin = SimAdmin()
        routes: dict[str, AdminHandler] = {
            "GET /_sim/state": self._state,
            "GET /_sim/calls": self._calls,
            "GET /_sim/faults": self._list_faults,
            "POST /_sim/faults": self._add_fault,
            "DELETE /_sim/faults": self._clear_faults,
            "POST /_sim/latency": self._latency,
            "GET /_sim/latency": self._get_latency,
            "POST /_sim/reset": self._reset,
            "GET /_sim/config": self._get_config,
            "POST /_sim/config": self._set_config,
            **erp.admin_routes(),
        }
        self._routes = {
            (route.partition(" ")[0], route.partition(" ")[2].lower()): handler
            for route, handler in routes.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        elif scope["type"] != "http":
            await self.erp.app(scope, receive, send)
        elif scope["path"].lower().rstrip("/").startswith("/_sim/"):
            await self._admin_call(scope, receive, send)
        else:
            await self._erp_call(scope, receive, send)

    async def _erp_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = self.admin.log_call(self.erp.endpoint(scope["method"], scope["path"]), scope)
        fault = self.admin.take_fault(record["endpoint"])
        record["fault"] = fault.mode if fault else None
        received = await _received(receive)
        if received is None:
            return  # the client left before its request was complete: nothing to act on
        delay_ms = self.admin.latency_ms + (fault.ms if fault and fault.mode == "latency" else 0)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        answer = _recording(send, record)
        if fault is None or fault.mode == "latency":
            await self.erp.app(scope, received, answer)
        else:
            await self._apply(fault, scope, received, send, answer)

    async def _apply(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send, answer: Send
    ) -> None:
        """Answer as `fault` says; `send` is the server's own, needed to drop the connection."""
        if fault.mode not in ("status", "rate_limit"):
            await self.erp.app(scope, receive, _discard)  # commit; its answer is lost
        if fault.mode == "commit_then_drop":
            await drop_connection(send)
            return
        error = (
            self.erp.rate_limit_response()
            if fault.mode == "rate_limit"
            else self.erp.error_response(fault.status or 500)
        )
        await error(scope, receive, answer)

    async def _admin_call(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope["path"].rstrip("/").lower()
        handler = self._routes.get((scope["method"], path))
        if handler is None:
            known = any(route_path == path for _, route_path in self._routes)
            response = admin_error(405 if known else 404, "unknown admin route")
        else:
            try:
                response = await handler(request)
            except ConfigError as exc:
                response = admin_error(400, str(exc))
        await response(scope, receive, send)

    async def _state(self, request: Request) -> Response:
        return JSONResponse(self.erp.state())

    async def _calls(self, request: Request) -> Response:
        return JSONResponse(self.admin.calls_json())

    async def _list_faults(self, request: Request) -> Response:
        return JSONResponse(self.admin.faults_json())

    async def _add_fault(self, request: Request) -> Response:
        try:
            fault = self.admin.add_fault(await read_json(request))
        except ValueError as exc:
            return admin_error(400, str(exc))
        return JSONResponse(fault.as_json(), status_code=201)

    async def _clear_faults(self, request: Request) -> Response:
        self.admin.clear_faults()
        return JSONResponse([])

    async def _latency(self, request: Request) -> Response:
        try:
            ms = (await read_json(request)).get("ms")
        except (ValueError, AttributeError):
            ms = None
        if not _is_int(ms) or ms < 0:
            return admin_error(400, 'body must be {"ms": <non-negative integer>}')
        self.admin.latency_ms = ms
        return JSONResponse({"ms": ms})

    async def _get_latency(self, request: Request) -> Response:
        return JSONResponse({"ms": self.admin.latency_ms})

    async def _reset(self, request: Request) -> Response:
        self.admin.clear()
        self.erp.reset()
        return JSONResponse({"reset": True})

    async def _get_config(self, request: Request) -> Response:
        return JSONResponse(self.erp.get_config())

    async def _set_config(self, request: Request) -> Response:
        try:
            changes = await read_json(request)
        except ValueError as exc:
            return admin_error(400, str(exc))
        if not isinstance(changes, dict):
            return admin_error(400, "body must be a JSON object")
        return JSONResponse(self.erp.set_config(changes))


async def read_json(request: Request) -> Any:
    """The request body as JSON (an empty body is null); ValueError when it is not."""
    raw = await request.body()
    try:
        return json.loads(raw if raw.strip() else b"null")
    except json.JSONDecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from exc


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body: {}); ValueError otherwise."""
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def admin_error(status: int, message: str) -> Response:
    codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}
    code = codes.get(status, "error")
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def drop_connection(send: Send) -> None:
    """Close the TCP connection without a response byte.

    Only the server's own `send` reaches the socket: under uvicorn it is a bound method of the
    request cycle, which holds the transport. After the abort, uvicorn learns of the disconnect
    on a later loop turn; we yield until it has, or it would try to write a 500 when we return.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionDropped("simulated connection drop (no transport to abort)")
    transport.abort()
    for _ in range(20):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


def _recording(send: Send, record: dict[str, Any]) -> Send:
    async def recording_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            record["status"] = message["status"]
        await send(message)

    return recording_send


async def _discard(message: Message) -> None:
    return None


async def _received(receive: Receive) -> Receive | None:
    """Read the whole request now and replay it to the handler later.

    A real server has the request once it has arrived: if the client gives up during a latency
    fault, the handler still acts (the ambiguous case connectors must handle). Reading lazily
    would instead see the disconnect and act on nothing. None if the client left mid-request.
    """
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    pending: list[Message] = [
        {"type": "http.request", "body": b"".join(chunks), "more_body": False}
    ]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
