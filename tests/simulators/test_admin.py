"""The shared admin and fault layer, against the smallest possible simulated ERP, so its
contract is checked apart from any one ERP's rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from simulators.admin import (
    CALL_LOG_SIZE,
    AdminHandler,
    ConfigError,
    ConnectionDropped,
    SimAdmin,
    SimApp,
    parse_fault,
)
from simulators.testing import running


class ThingsErp:
    """A SimulatedErp with one collection: `POST /api/things` adds, `GET /api/things` lists."""

    def __init__(self) -> None:
        self.things: list[Any] = []
        self.config = {"flavour": "plain"}

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if request.method == "POST":
            self.things.append(await request.json())
            response: Response = JSONResponse({"count": len(self.things)}, status_code=201)
        else:
            response = JSONResponse(self.things)
        await response(scope, receive, send)

    def endpoint(self, method: str, path: str) -> str:
        return f"{method} {path.removeprefix('/api')}"

    def state(self) -> dict[str, list[Any]]:
        return {"things": list(self.things)}

    def reset(self) -> None:
        self.things.clear()
        self.config = {"flavour": "plain"}

    def error_response(self, status: int) -> Response:
        return PlainTextResponse(f"things error {status}", status_code=status)

    def rate_limit_response(self) -> Response:
        return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "2"})

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    def set_config(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(changes) - set(self.config)
        if unknown:
            raise ConfigError(f"unknown option(s): {sorted(unknown)}")
        self.config.update(changes)
        return dict(self.config)

    def admin_routes(self) -> dict[str, AdminHandler]:
        return {}


@pytest.fixture
def erp() -> ThingsErp:
    return ThingsErp()


@pytest.fixture
def client(erp: ThingsErp) -> Iterator[httpx.Client]:
    with running(SimApp(erp)) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        yield client


def test_fault_spec_defaults_and_validation() -> None:
    fault = parse_fault({"match": "post /things", "mode": "status"}, 1)
    assert (fault.match, fault.count, fault.status) == ("POST /things", 1, 503)
    assert parse_fault({"match": "*", "mode": "commit_then_status", "count": -1}, 2).count is None
    assert parse_fault({"match": "*", "mode": "commit_then_status", "count": None}, 3).status == 500
    bad = [
        {"match": "POST /things", "mode": "explode"},
        {"match": "things", "mode": "status"},
        {"match": "*", "mode": "status", "count": 0},
        {"match": "*", "mode": "latency"},
        {"match": "*", "mode": "status", "status": 200},
        ["not", "an", "object"],
    ]
    for spec in bad:
        with pytest.raises(ValueError):
            parse_fault(spec, 9)


def test_first_matching_fault_with_count_left_applies() -> None:
    admin = SimAdmin()
    admin.add_fault({"match": "POST /things", "mode": "status", "count": 1})
    admin.add_fault({"match": "*", "mode": "rate_limit", "count": None})
    modes = [fault.mode for fault in (admin.take_fault("POST /things") for _ in range(3)) if fault]
    assert modes == ["status", "rate_limit", "rate_limit"]
    assert [f["applied"] for f in admin.faults_json()] == [1, 2]


def test_call_log_keeps_the_last_entries_but_counts_all() -> None:
    admin = SimAdmin()
    scope = {"method": "GET", "path": "/api/things", "query_string": b""}
    for _ in range(CALL_LOG_SIZE + 5):
        admin.log_call("GET /things", scope)
    calls = admin.calls_json()
    assert calls["total"] == CALL_LOG_SIZE + 5 and len(calls["calls"]) == CALL_LOG_SIZE
    assert calls["by_endpoint"] == {"GET /things": CALL_LOG_SIZE + 5}


def test_faults_over_http(client: httpx.Client, erp: ThingsErp) -> None:
    bogus = client.post("/_sim/faults", json={"match": "POST /things", "mode": "bogus"})
    assert bogus.status_code == 400
    created = client.post(
        "/_sim/faults", json={"match": "POST /things", "mode": "status", "status": 502}
    )
    assert created.status_code == 201 and created.json()["count"] == 1
    failed = client.post("/api/things", json={"n": 1})
    assert failed.status_code == 502 and failed.text == "things error 502"
    assert erp.things == []
    client.post(
        "/_sim/faults", json={"match": "POST /things", "mode": "commit_then_status", "status": 500}
    )
    assert client.post("/api/things", json={"n": 2}).status_code == 500
    assert erp.things == [{"n": 2}]
    client.post("/_sim/faults", json={"match": "*", "mode": "rate_limit", "count": None})
    assert client.get("/api/things").headers["Retry-After"] == "2"
    assert client.delete("/_sim/faults").status_code == 200
    assert client.get("/_sim/faults").json() == []
    assert client.get("/api/things").json() == [{"n": 2}]


def test_commit_then_drop_over_http(client: httpx.Client, erp: ThingsErp) -> None:
    client.post("/_sim/faults", json={"match": "POST /things", "mode": "commit_then_drop"})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        client.post("/api/things", json={"n": 1})
    assert client.get("/_sim/state").json() == {"things": [{"n": 1}]}
    assert client.post("/api/things", json={"n": 2}).status_code == 201


def test_latency_beyond_the_client_timeout_still_commits(
    client: httpx.Client, erp: ThingsErp
) -> None:
    # Given a write that is held back longer than the client is willing to wait
    client.post("/_sim/faults", json={"match": "POST /things", "mode": "latency", "ms": 300})
    with pytest.raises(httpx.ReadTimeout):
        client.post("/api/things", json={"n": 1}, timeout=0.05)
    # Then the server still acts on the request it received (the ambiguous case)
    deadline = time.monotonic() + 5
    while erp.things != [{"n": 1}] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert erp.things == [{"n": 1}]
    assert client.get("/_sim/calls").json()["calls"][0]["fault"] == "latency"


def test_drop_without_a_transport_raises_in_process(erp: ThingsErp) -> None:
    app = SimApp(erp)
    app.admin.add_fault({"match": "POST /things", "mode": "commit_then_drop"})

    async def call() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            await client.post("/api/things", json={"n": 1})

    with pytest.raises(ConnectionDropped):
        asyncio.run(call())
    assert erp.things == [{"n": 1}]


def test_global_latency_and_call_log(client: httpx.Client) -> None:
    assert client.post("/_sim/latency", json={"ms": -1}).status_code == 400
    client.post("/_sim/latency", json={"ms": 200}).raise_for_status()
    started = time.monotonic()
    client.get("/api/things", params={"page": "2"})
    assert time.monotonic() - started >= 0.2
    calls = client.get("/_sim/calls").json()  # admin calls are not logged
    assert calls["total"] == 1 and calls["by_endpoint"] == {"GET /things": 1}
    call = calls["calls"][0]
    assert (call["method"], call["path"], call["query"], call["status"], call["fault"]) == (
        "GET",
        "/api/things",
        "page=2",
        200,
        None,
    )


def test_admin_routes_config_and_reset(client: httpx.Client, erp: ThingsErp) -> None:
    assert client.get("/_sim/nothing").status_code == 404
    assert client.put("/_sim/reset").status_code == 405
    assert client.post("/_sim/config", json={"colour": "red"}).status_code == 400
    assert client.post("/_sim/config", json={"flavour": "spicy"}).json() == {"flavour": "spicy"}
    client.post("/api/things", json={"n": 1})
    client.post("/_sim/latency", json={"ms": 50})
    assert client.post("/_sim/reset").status_code == 200
    assert client.get("/_sim/config").json() == {"flavour": "plain"}
    assert client.get("/_sim/state").json() == {"things": []}
    assert client.get("/_sim/calls").json()["total"] == 0
    assert client.get("/_sim/latency").json() == {"ms": 0}
