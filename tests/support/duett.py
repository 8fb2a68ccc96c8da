"""Duett connectors against the in-process Duett simulator, shared by the connector tests.

    from tests.support.duett import connect_fixture, server_fixture, sim_fixture  # noqa: F401

`connect(**settings)` builds a Duett connector (the simulator's demo keys, a fakeredis store) on
the simulator that `sim` has just reset; its HTTP clients are closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.base import Connector
from connectors.duett import DuettSettings, build
from simulators.duett import create_app
from tests.support.fakes import fake_store
from tests.support.sim_server import simulator_fixtures

KEYS = {"integration_key": "demo-duett-integration-key", "client_key": "demo-duett-client-key"}

server_fixture, sim_fixture = simulator_fixtures(create_app)


@pytest.fixture(name="connect")
def connect_fixture(server: str, sim: httpx.Client) -> Iterator[Callable[..., Connector]]:
    clients: list[httpx.Client] = []

    def make(**settings: Any) -> Connector:
        client = httpx.Client(timeout=10)
        clients.append(client)
        return build(DuettSettings(base_url=server, **KEYS, **settings), client, fake_store())

    yield make
    for client in clients:
        client.close()
