"""The two fixtures every in-process simulator test module needs, made once.

    server, sim = simulator_fixtures(create_app)

`server` (module scope) serves the simulator on a free port over real HTTP; `sim` is an admin
client on it, reset before each test, with `config` applied (`POST /_sim/config`).

`pay(sim, invoice_id, amount)` is a customer's payment through `POST /_sim/payments`, which every
ERP simulator with invoices (Duett, Exact, PowerOffice, Sapera) takes with the same body.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from simulators.testing import running


def simulator_fixtures(create_app: Callable[[], ASGIApp], **config: Any) -> tuple[Any, Any]:
    @pytest.fixture(scope="module", name="server")
    def server() -> Iterator[str]:
        with running(create_app()) as base_url:
            yield base_url

    @pytest.fixture(name="sim")
    def sim(server: str) -> Iterator[httpx.Client]:
        """The admin API, on a freshly reset simulator."""
        with httpx.Client(base_url=server, timeout=10) as client:
            client.post("/_sim/reset").raise_for_status()
            if config:
                client.post("/_sim/config", json=config).raise_for_status()
            yield client

    return server, sim


def pay(sim: httpx.Client, invoice_id: str, amount: str | None = None) -> dict[str, Any]:
    """`POST /_sim/payments {"invoice_id", "amount"}` (no amount: the rest); it must answer 200.
    Returns the simulator's answer (the invoice as the ERP now shows it)."""
    body = {"invoice_id": invoice_id} | ({} if amount is None else {"amount": amount})
    response = sim.post("/_sim/payments", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())
