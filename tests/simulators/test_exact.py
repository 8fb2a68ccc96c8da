"""The Exact Online simulator over real HTTP: OAuth with one-use codes and rotating refresh tokens,
the per-division call limits, the error body, faults and the admin extras (erp/exact-online.md
§8). OData and the four documents are in test_sim_exact_odata.py and test_sim_exact_documents.py.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from simulators.exact import WAREHOUSE_ID, create_app
from simulators.registry import SIMULATORS
from simulators.testing import running
from tests.support.sim_exact import (  # noqa: F401 (fixtures)
    DAILY,
    MINUTELY,
    RATE_HEADERS,
    REDIRECT_URI,
    ROOMY,
    api_fixture,
    authorize,
    bearer,
    code_from,
    created,
    error_text,
    exchange,
    make_account,
    make_item,
    order_body,
    refresh,
    server_fixture,
    sim_fixture,
    tokens,
)

POLL_DEADLINE_S = 8.0


# --- OAuth ------------------------------------------------------------------------------------


def test_authorize_redirects_at_once_with_a_code_and_the_state(sim: httpx.Client) -> None:
    response = authorize(sim, redirect_uri="https://app.example.com/cb?tenant=7", state="x y")

    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://app.example.com/cb?tenant=7&code=")
    assert "state=x+y" in location
    assert "!" in code_from(response)  # real codes carry characters clients must encode


def test_code_exchange_answers_exact_token_shape_and_the_code_works_once(sim: httpx.Client) -> None:
    code = code_from(authorize(sim))

    first = exchange(sim, code)
    again = exchange(sim, code)

    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert body["expires_in"] == "600" and body["token_type"] == "bearer"
    assert len(body["access_token"]) >= 600 and "!" in body["refresh_token"]
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_code_flow_refuses_wrong_redirect_uri_secret_and_client(sim: httpx.Client) -> None:
    other_uri = exchange(sim, code_from(authorize(sim)), redirect_uri="https://evil.example/cb")
    bad_secret = exchange(sim, code_from(authorize(sim)), client_secret="wrong")
    unknown_client = sim.get(
        "/api/oauth2/auth",
        params={"client_id": "nobody", "redirect_uri": REDIRECT_URI, "response_type": "code"},
    )

    assert other_uri.status_code == 400 and other_uri.json()["error"] == "invalid_grant"
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"
    assert unknown_client.status_code == 400


def test_expired_code_is_refused(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"auth_code_lifetime_s": 0}).raise_for_status()

    response = exchange(sim, code_from(authorize(sim)))

    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_refresh_rotates_and_the_old_refresh_token_is_refused(
    sim: httpx.Client, server: str
) -> None:
    first = tokens(sim)
    assert sim.post("/_sim/expire-tokens").json()["expired"] >= 1

    renewed = refresh(sim, first["refresh_token"])
    reused = refresh(sim, first["refresh_token"])

    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["refresh_token"] != first["refresh_token"]
    assert renewed.json()["expires_in"] == "600"
    assert reused.status_code == 400
    assert reused.json() == {
        "error": "invalid_grant",
        "error_description": "Old refresh token used",
    }
    me = sim.get(f"{server}/api/v1/current/Me", headers=bearer(renewed.json()["access_token"]))
    assert me.status_code == 200


def test_refresh_while_the_access_token_is_young_is_refused_and_costs_nothing(
    sim: httpx.Client,
) -> None:
    first = tokens(sim)

    early = refresh(sim, first["refresh_token"])

    assert early.status_code == 401
    assert early.headers["reason"] == "Access Token not expired"
    assert "Access Token not expired" in early.text
    sim.post("/_sim/config", json={"early_refresh_block_s": 0}).raise_for_status()
    assert refresh(sim, first["refresh_token"]).status_code == 200  # the refusal used nothing


def test_early_refresh_rule_can_be_switched_off(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"block_early_refresh": False}).raise_for_status()

    assert refresh(sim, tokens(sim)["refresh_token"]).status_code == 200


def test_expired_refresh_token_is_refused(sim: httpx.Client) -> None:
    first = tokens(sim)
    sim.post("/_sim/config", json={"refresh_token_lifetime_s": 0}).raise_for_status()

    response = refresh(sim, first["refresh_token"])

    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith("The refresh token expired at")


def test_twenty_workers_refreshing_at_once_get_one_success(sim: httpx.Client) -> None:
    # Given twenty jobs that all found the shared access token expired at the same moment
    first = tokens(sim)
    sim.post("/_sim/expire-tokens").raise_for_status()

    # When each of them refreshes with the refresh token it holds
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: refresh(sim, first["refresh_token"]), range(20)))

    # Then one wins and nineteen are told their refresh token is old
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [400] * 19
    assert all(
        a.json()["error_description"] == "Old refresh token used"
        for a in answers
        if a.status_code == 400
    )


def test_revoked_refresh_tokens_need_a_new_consent(sim: httpx.Client) -> None:
    first = tokens(sim)
    sim.post("/_sim/expire-tokens").raise_for_status()
    assert sim.post("/_sim/revoke-refresh-tokens").json()["revoked"] >= 1

    refused = refresh(sim, first["refresh_token"])

    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert refresh(sim, tokens(sim)["refresh_token"]).status_code == 401  # new consent: fine


def test_bad_missing_and_expired_bearers_get_401(sim: httpx.Client, server: str) -> None:
    good = tokens(sim)["access_token"]
    url = f"{server}/api/v1/current/Me"
    assert sim.get(url, headers=bearer(good)).status_code == 200

    assert sim.get(url, headers=bearer("AAEAAnot-a-token")).status_code == 401
    assert sim.get(url).status_code == 401
    sim.post("/_sim/expire-tokens").raise_for_status()
    expired = sim.get(url, headers=bearer(good))
    assert expired.status_code == 401
    assert "x-ratelimit-limit" not in expired.headers


def test_tokens_survive_a_reset(sim: httpx.Client, server: str) -> None:
    access = tokens(sim)["access_token"]
    sim.post("/_sim/reset").raise_for_status()

    assert sim.get(f"{server}/api/v1/current/Me", headers=bearer(access)).status_code == 200


# --- current/Me and divisions -----------------------------------------------------------------


def test_current_me_is_a_list_with_the_current_division(api: httpx.Client, server: str) -> None:
    response = api.get(f"{server}/api/v1/current/Me", params={"$select": "CurrentDivision"})

    assert response.status_code == 200
    results = response.json()["d"]["results"]
    assert len(results) == 1 and results[0]["CurrentDivision"] == 1
    assert set(results[0]) == {"__metadata", "CurrentDivision"}
    assert results[0]["__metadata"]["uri"].startswith(f"{server}/api/v1/current/Me(guid'")


def test_unknown_division_is_forbidden(api: httpx.Client, server: str) -> None:
    response = api.get(f"{server}/api/v1/2/financial/Journals")

    assert response.status_code == 403
    error_text(response)


def test_configured_division_moves_the_api() -> None:
    with (
        running(create_app({**ROOMY, "division": 4711})) as base_url,
        httpx.Client(base_url=base_url, timeout=10) as other,
    ):
        headers = bearer(tokens(other)["access_token"])
        me = other.get("/api/v1/current/Me", headers=headers).json()["d"]["results"][0]
        assert me["CurrentDivision"] == 4711
        assert other.get("/api/v1/4711/financial/Journals", headers=headers).status_code == 200
        assert other.get("/api/v1/1/financial/Journals", headers=headers).status_code == 403


# --- rate limits -----------------------------------------------------------------------------


def _rate(response: httpx.Response) -> dict[str, int]:
    return {name: int(response.headers[name]) for name in RATE_HEADERS if name in response.headers}


def test_every_api_reply_carries_all_six_rate_headers(api: httpx.Client, server: str) -> None:
    account = make_account(api)
    replies = [
        api.get(f"{server}/api/v1/current/Me"),
        api.get("/financial/Journals"),
        api.post("/crm/Accounts", json={"Name": "Ola"}),
        api.post("/crm/Accounts", json={}),  # 400
        api.get("/crm/Accounts(guid'00000000-0000-4000-8000-000000000000')"),  # 404
        api.put(f"/crm/Accounts(guid'{account['ID']}')", json={"City": "Oslo"}),  # 204
        api.get("/crm/Nothing"),  # 404
    ]

    assert [r.status_code for r in replies] == [200, 200, 201, 400, 404, 204, 404]
    for reply in replies:
        assert set(_rate(reply)) == set(RATE_HEADERS), reply.request.url
    remaining = [_rate(r)["x-ratelimit-remaining"] for r in replies]
    assert remaining == list(range(remaining[0], remaining[0] - len(replies), -1))
    first = _rate(replies[0])
    assert first["x-ratelimit-limit"] == ROOMY["day_limit"]
    assert first["x-ratelimit-reset"] % 86_400_000 == 0  # midnight UTC, epoch milliseconds
    assert first["x-ratelimit-minutely-reset"] % 60_000 == 0
    assert first["x-ratelimit-minutely-reset"] > time.time() * 1000


def _wait_for_window_start(seconds: int) -> None:
    """Return just after a new window starts, so a short test stays inside one window."""
    deadline = time.monotonic() + seconds + 2
    start = int(time.time() // seconds)
    while int(time.time() // seconds) == start:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_over_the_minute_limit_429_carries_only_the_minutely_headers(
    api: httpx.Client, sim: httpx.Client
) -> None:
    sim.post("/_sim/config", json={"minute_limit": 3, "minute_seconds": 3}).raise_for_status()
    _wait_for_window_start(3)

    replies = [api.get("/financial/Journals") for _ in range(5)]

    assert [r.status_code for r in replies] == [200, 200, 200, 429, 429]
    assert [_rate(r)["x-ratelimit-minutely-remaining"] for r in replies[:3]] == [2, 1, 0]
    refused = replies[3]
    assert set(_rate(refused)) == set(MINUTELY)
    assert _rate(refused)["x-ratelimit-minutely-remaining"] == 0
    assert error_text(refused)
    reset_ms = _rate(refused)["x-ratelimit-minutely-reset"]
    assert reset_ms % 3000 == 0
    # After the reset the same calls are admitted again.
    deadline = time.monotonic() + POLL_DEADLINE_S
    while api.get("/financial/Journals").status_code == 429:
        assert time.monotonic() < deadline, "still refused after the window reset"
        time.sleep(0.05)
    assert time.time() * 1000 >= reset_ms
    statuses = [
        c["status"]
        for c in sim.get("/_sim/calls").json()["calls"]
        if c["endpoint"] == "GET /financial/Journals"
    ]
    assert statuses.count(429) >= 2 and statuses[:5] == [200, 200, 200, 429, 429]


def test_over_the_day_limit_429_carries_only_the_daily_headers(
    api: httpx.Client, sim: httpx.Client
) -> None:
    sim.post("/_sim/config", json={"day_limit": 2}).raise_for_status()

    replies = [api.get("/financial/Journals") for _ in range(3)]

    assert [r.status_code for r in replies] == [200, 200, 429]
    assert set(_rate(replies[2])) == set(DAILY)
    assert _rate(replies[2])["x-ratelimit-remaining"] == 0


def test_limits_are_per_division_and_reset_clears_them(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"day_limit": 1}).raise_for_status()
    headers = bearer(tokens(sim)["access_token"])
    assert sim.get("/api/v1/1/financial/Journals", headers=headers).status_code == 200
    assert sim.get("/api/v1/1/financial/Journals", headers=headers).status_code == 429

    sim.post("/_sim/reset").raise_for_status()  # back to the roomy start options and counts

    assert sim.get("/api/v1/1/financial/Journals", headers=headers).status_code == 200


# --- errors, faults, admin --------------------------------------------------------------------


def test_errors_use_the_exact_body_and_dutch_when_configured(
    api: httpx.Client, sim: httpx.Client
) -> None:
    english = api.post("/salesorder/SalesOrders", json={"YourRef": "1"})
    sim.post("/_sim/config", json={"language": "nl"}).raise_for_status()
    dutch = api.post("/salesinvoice/SalesInvoices", json={"Journal": "70"})

    assert english.status_code == 400
    assert error_text(english) == "Mandatory: Ordered by\r\nMandatory: Sales order lines"
    assert error_text(dutch) == (
        "Verplicht: Factuur voor\r\nVerplicht: Besteld door\r\nVerplicht: Verkoopfactuurregels"
    )


def test_status_fault_answers_the_exact_error_body_without_acting(
    api: httpx.Client, sim: httpx.Client
) -> None:
    sim.post(
        "/_sim/faults", json={"match": "POST /crm/Accounts", "mode": "status", "status": 500}
    ).raise_for_status()

    response = api.post("/crm/Accounts", json={"Name": "Ola"})

    assert response.status_code == 500
    assert error_text(response).startswith("A problem has occurred")
    assert set(_rate(response)) == set(RATE_HEADERS)
    assert sim.get("/_sim/state").json()["Accounts"] == []


def test_commit_then_status_fault_creates_and_then_fails(
    api: httpx.Client, sim: httpx.Client
) -> None:
    sim.post(
        "/_sim/faults", json={"match": "POST /crm/Accounts", "mode": "commit_then_status"}
    ).raise_for_status()

    response = api.post("/crm/Accounts", json={"Name": "Ola"})

    assert response.status_code == 500
    assert [a["Name"] for a in sim.get("/_sim/state").json()["Accounts"]] == ["Ola"]


def test_commit_then_drop_fault_creates_and_answers_nothing(
    api: httpx.Client, sim: httpx.Client
) -> None:
    sim.post(
        "/_sim/faults", json={"match": "POST /crm/Accounts", "mode": "commit_then_drop"}
    ).raise_for_status()

    with pytest.raises(httpx.TransportError):
        api.post("/crm/Accounts", json={"Name": "Ola"})

    assert [a["Name"] for a in sim.get("/_sim/state").json()["Accounts"]] == ["Ola"]


def test_rate_limit_fault_answers_a_minutely_429(api: httpx.Client, sim: httpx.Client) -> None:
    sim.post(
        "/_sim/faults", json={"match": "GET /logistics/Items", "mode": "rate_limit"}
    ).raise_for_status()

    response = api.get("/logistics/Items", params={"$filter": "Code eq 'X'", "$select": "ID"})

    assert response.status_code == 429
    assert set(_rate(response)) == set(MINUTELY)
    assert _rate(response)["x-ratelimit-minutely-remaining"] == 0
    error_text(response)
    assert (
        api.get("/logistics/Items", params={"$filter": "Code eq 'X'", "$select": "ID"}).status_code
        == 200
    )


def test_call_log_uses_templates_without_the_division(
    api: httpx.Client, sim: httpx.Client, server: str
) -> None:
    account = make_account(api)
    item = make_item(api)
    order = created(api.post("/salesorder/SalesOrders", json=order_body(account, item)))
    api.get(f"/salesorder/SalesOrders(guid'{order['OrderID']}')/SalesOrderLines")
    api.put(f"/crm/Accounts(guid'{account['ID']}')", json={"City": "Oslo"})
    api.get(f"{server}/api/v1/current/Me")

    by_endpoint = sim.get("/_sim/calls").json()["by_endpoint"]

    assert by_endpoint["POST /api/oauth2/token"] >= 1
    assert by_endpoint["GET /api/oauth2/auth"] >= 1
    for endpoint in (
        "POST /crm/Accounts",
        "POST /logistics/Items",
        "POST /salesorder/SalesOrders",
        "GET /salesorder/SalesOrders({id})/SalesOrderLines",
        "PUT /crm/Accounts({id})",
        "GET /current/Me",
    ):
        assert by_endpoint.get(endpoint) == 1, (endpoint, by_endpoint)


def test_admin_items_are_added_checked_and_found(api: httpx.Client, sim: httpx.Client) -> None:
    added = sim.post("/_sim/items", json={"Code": "TE-100", "Description": "Te"})
    duplicate = sim.post("/_sim/items", json={"Code": "TE-100", "Description": "Te"})
    incomplete = sim.post("/_sim/items", json={"Code": "TE-200"})

    assert added.status_code == 201 and added.json()["Code"] == "TE-100"
    assert duplicate.status_code == 400 and incomplete.status_code == 400
    found = api.get(
        "/logistics/Items", params={"$filter": "Code eq 'TE-100'", "$select": "ID,Code"}
    ).json()["d"]["results"]
    assert [item["ID"] for item in found] == [added.json()["ID"]]


def test_config_round_trips_and_refuses_unknown_options(sim: httpx.Client) -> None:
    changed = sim.post("/_sim/config", json={"language": "nl", "minute_limit": 5})
    unknown = sim.post("/_sim/config", json={"nonsense": 1})
    bad = sim.post("/_sim/config", json={"language": "de"})

    assert changed.status_code == 200 and changed.json()["minute_limit"] == 5
    assert sim.get("/_sim/config").json()["language"] == "nl"
    assert unknown.status_code == 400 and bad.status_code == 400


def test_warehouse_guid_is_an_option_shown_in_the_config(
    api: httpx.Client, sim: httpx.Client
) -> None:
    default = sim.get("/_sim/config").json()["warehouse_id"]
    other = "0000a002-0000-4000-8000-00000000a002"

    sim.post("/_sim/config", json={"warehouse_id": other}).raise_for_status()
    listed = api.get("/inventory/Warehouses").json()["d"]["results"]

    assert default == WAREHOUSE_ID
    assert [w["ID"] for w in listed] == [other]
    assert sim.post("/_sim/config", json={"warehouse_id": "not-a-guid"}).status_code == 400


def test_state_has_the_exact_entity_names(sim: httpx.Client) -> None:
    state = sim.get("/_sim/state").json()

    assert {"Accounts", "Items", "SalesOrders", "SalesInvoices", "SalesEntries"} <= set(state)
    assert all(rows == [] for rows in state.values())


def test_registered_under_exact_on_its_default_port() -> None:
    factory, port = SIMULATORS["exact"]

    assert port == 18082 and factory is create_app
