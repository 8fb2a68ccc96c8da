"""Shared fixtures and factories of the Exact Online simulator tests
(tests/simulators/test_exact*.py).

The simulator runs under real uvicorn, and clients get their tokens through the real
authorization-code flow, as a connector would. Test modules import the fixture functions by name
(`server_fixture`, `sim_fixture`, `api_fixture`) so pytest registers them there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from simulators.exact import GL_ACCOUNT_8000_ID, create_app
from tests.support.sim_server import simulator_fixtures

CLIENT = {"client_id": "demo-exact-client", "client_secret": "demo-exact-secret"}
REDIRECT_URI = "https://app.example.com/exact/callback"
ROOMY = {"minute_limit": 100_000, "day_limit": 1_000_000}  # limits out of the way by default
RATE_HEADERS = (
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-minutely-limit",
    "x-ratelimit-minutely-remaining",
    "x-ratelimit-minutely-reset",
)
MINUTELY = RATE_HEADERS[3:]
DAILY = RATE_HEADERS[:3]


# Test modules import these fixtures by their function names; tests ask for them by `name`.
server_fixture, sim_fixture = simulator_fixtures(lambda: create_app(ROOMY))


def authorize(
    sim: httpx.Client, redirect_uri: str = REDIRECT_URI, state: str | None = "s-1"
) -> httpx.Response:
    params = {
        "client_id": CLIENT["client_id"],
        "redirect_uri": redirect_uri,
        "response_type": "code",
        **({"state": state} if state else {}),
    }
    return sim.get("/api/oauth2/auth", params=params, follow_redirects=False)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    return parse_qs(urlparse(response.headers["location"]).query)["code"][0]


def exchange(
    sim: httpx.Client, code: str, redirect_uri: str = REDIRECT_URI, **overrides: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        **CLIENT,
        **overrides,
    }
    return sim.post("/api/oauth2/token", data=form)


def refresh(sim: httpx.Client, refresh_token: str) -> httpx.Response:
    return sim.post(
        "/api/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, **CLIENT},
    )


def tokens(sim: httpx.Client) -> dict[str, Any]:
    """A fresh access and refresh token through the code flow."""
    response = exchange(sim, code_from(authorize(sim)))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}


@pytest.fixture(name="api")
def api_fixture(server: str, sim: httpx.Client) -> Iterator[httpx.Client]:
    """An authorised client on division 1's REST base."""
    headers = bearer(tokens(sim)["access_token"])
    with httpx.Client(base_url=f"{server}/api/v1/1", headers=headers, timeout=10) as client:
        yield client


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    entity: dict[str, Any] = response.json()["d"]
    return entity


def error_text(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == ""
    assert set(body["error"]["message"]) == {"lang", "value"}
    return str(body["error"]["message"]["value"])


def make_account(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    return created(
        api.post(
            "/crm/Accounts", json={"Name": "Kari Nordmann", "Email": "kari@example.com", **fields}
        )
    )


def make_item(api: httpx.Client, code: str = "KAFFE-500", **fields: Any) -> dict[str, Any]:
    body = {"Code": code, "Description": f"Item {code}", "StandardSalesPrice": 10, **fields}
    return created(api.post("/logistics/Items", json=body))


def order_body(account: dict[str, Any], item: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "OrderedBy": account["ID"],
        "YourRef": "1001",
        "SalesOrderLines": [{"Item": item["ID"], "Quantity": 2, "UnitPrice": 10}],
        **fields,
    }


def invoice_body(account: dict[str, Any], item: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Journal": "70",
        "OrderedBy": account["ID"],
        "YourRef": "1001",
        "Type": 8020,
        "SalesInvoiceLines": [{"Item": item["ID"], "Quantity": 1}],
        **fields,
    }


def entry_body(account: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "Customer": account["ID"],
        "Journal": "70",
        "YourRef": "1001",
        "SalesEntryLines": [
            {"AmountFC": 100, "GLAccount": GL_ACCOUNT_8000_ID, "Description": "KAFFE-500"}
        ],
        **fields,
    }
