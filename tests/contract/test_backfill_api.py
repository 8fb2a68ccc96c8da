"""Backfill as its users reach it: `POST/GET /v1/connections/{name}/backfills` and `orderbridge
backfill`, on the intake and the CLI over a fakeredis store, with the Shopify simulator as the
shop and PowerOffice's as the ERP (both in-process, over HTTP). Here: the answers and their
statuses, the CLI's bar and summary, and a dry run that writes nothing anywhere."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.runtime import Runtime
from core.settings import parse_settings
from simulators.poweroffice import create_app as create_poweroffice
from simulators.shops import create_shopify
from simulators.testing import running
from tasks.backfill import BackfillArgs, begin
from tests.support.config import OPERATOR_TOKEN, poweroffice_connection
from tests.support.fakes import fake_store
from tests.support.payloads import shopify_nok_order
from tests.support.polling import poll
from workers import cli
from workers.intake import create_app as create_intake

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

AUTH = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
SINCE = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD = {"since": "2026-11-01", "until": "2026-11-08T00:00:00Z"}
BACKFILL_ID = "20261101T000000Z-20261108T000000Z-live"


@pytest.fixture(scope="module", name="servers")
def servers_fixture() -> Iterator[tuple[str, str]]:
    with running(create_shopify()) as shop, running(create_poweroffice()) as erp:
        yield shop, erp


@pytest.fixture(name="rt")
def rt_fixture(servers: tuple[str, str]) -> Runtime:
    shop, erp = servers
    for url in servers:
        httpx.post(f"{url}/_sim/reset").raise_for_status()
    api = {"api_url": shop, "access_token": "demo-shopify-token"}
    settings = parse_settings(
        {
            "orderbridge": {"operator_token": OPERATOR_TOKEN},
            "connections": {
                "shop": poweroffice_connection(erp, source="shopify", shop=api),
                "bare": poweroffice_connection(erp, source="shopify"),
            },
        },
        env={},
    )
    return Runtime(settings, fake_store(), enqueue=lambda *_: None)


@pytest.fixture(name="intake")
def intake_fixture(rt: Runtime) -> TestClient:
    return TestClient(create_intake(rt), base_url="http://127.0.0.1")


def seed(shop: str, count: int) -> None:
    base = {k: v for k, v in shopify_nok_order().items() if k not in ("id", "updated_at")}
    with httpx.Client(base_url=shop) as sim:
        for n in range(count):
            at = (SINCE + timedelta(hours=n)).isoformat()
            body = {**base, "created_at": at, "deliver": False}
            sim.post("/_sim/orders", json=body).raise_for_status()


def test_post_starts_it_get_follows_it_and_a_second_post_shows_the_summary(
    rt: Runtime, intake: TestClient, servers: tuple[str, str]
) -> None:
    seed(servers[0], 7)
    started = intake.post("/v1/connections/shop/backfills", json=PERIOD, headers=AUTH)
    assert started.status_code == 202, started.text
    assert started.json()["id"] == BACKFILL_ID and started.json()["state"] == "running"
    path = f"/v1/connections/shop/backfills/{BACKFILL_ID}"
    done = poll(
        lambda: (v := intake.get(path, headers=AUTH).json())["state"] == "done" and v,
        20,
        what="the backfill to finish",
    )
    assert done["summary"]["found"] == done["summary"]["new"] == 7
    again = intake.post("/v1/connections/shop/backfills", json=PERIOD, headers=AUTH)
    assert again.status_code == 200 and again.json()["summary"] == done["summary"]
    listed = intake.get("/v1/connections/shop/backfills", headers=AUTH).json()["items"]
    assert [item["id"] for item in listed] == [BACKFILL_ID]
    assert len(list(rt.store.iter_jobs())) == 7


def test_a_backfill_that_runs_is_not_started_twice(rt: Runtime, intake: TestClient) -> None:
    held = begin(rt, BackfillArgs("shop", SINCE, datetime(2026, 11, 8, tzinfo=UTC)))
    answer = intake.post("/v1/connections/shop/backfills", json=PERIOD, headers=AUTH)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "busy"
    held.progress.drop_lease(held.token)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "code"),
    [
        ("POST", "/v1/connections/shop/backfills", PERIOD, {}, 401, "unauthorized"),
        ("POST", "/v1/connections/nope/backfills", PERIOD, AUTH, 404, "unknown_connection"),
        ("POST", "/v1/connections/bare/backfills", PERIOD, AUTH, 422, "cannot_backfill"),
        ("POST", "/v1/connections/shop/backfills", {}, AUTH, 422, "validation_failed"),
        ("POST", "/v1/connections/shop/backfills", {"since": "0001-01-01"}, AUTH, 422, None),
        (
            "POST",
            "/v1/connections/shop/backfills",
            {"since": "2026-11-08", "until": "2026-11-01"},
            AUTH,
            422,
            "cannot_backfill",
        ),
        ("GET", "/v1/connections/shop/backfills/nothing", None, AUTH, 404, "not_found"),
        ("GET", f"/v1/connections/shop/backfills/{BACKFILL_ID}", None, AUTH, 404, "not_found"),
        ("GET", "/v1/connections/nope/backfills", None, AUTH, 404, "unknown_connection"),
    ],
)
def test_what_cannot_be_backfilled_gets_a_clear_4xx(
    intake: TestClient,
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str],
    status: int,
    code: str | None,
) -> None:
    answer = intake.request(method, path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["message"] and (code is None or error["code"] == code), error


def test_the_cli_shows_a_bar_and_the_summary(
    rt: Runtime,
    servers: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(servers[0], 4)
    monkeypatch.setattr(cli, "load_settings", lambda: rt.settings)
    monkeypatch.setattr(cli, "_runtime", lambda _: rt)
    argv = ["backfill", "--connection", "shop", "--since", "2026-11-01", "--until", "2026-11-08"]
    assert cli.main(argv) == 0
    shown = capsys.readouterr().out
    assert "found" in shown and "already known" in shown and BACKFILL_ID in shown
    assert cli.main([*argv[:-2], "--until", "never"]) == 2
    assert cli.main(["backfill", "--connection", "bare", "--since", "2026-11-01"]) == 2


def test_a_dry_run_previews_each_order_and_writes_nothing(
    rt: Runtime, intake: TestClient, servers: tuple[str, str]
) -> None:
    seed(servers[0], 3)
    body = {**PERIOD, "dry_run": True}
    started = intake.post("/v1/connections/shop/backfills", json=body, headers=AUTH)
    assert started.status_code == 202, started.text
    path = f"/v1/connections/shop/backfills/{started.json()['id']}"
    done = poll(
        lambda: (v := intake.get(path, headers=AUTH).json())["state"] in ("done", "failed") and v,
        30,
        what="the dry run to finish",
    )
    assert done["state"] == "done", done
    summary = done["summary"]
    assert summary["found"] == 3 == summary["new"] + summary["known"] + summary["refused"]
    assert sum(summary["by_verdict"].values()) == 3, summary
    assert list(rt.store.iter_jobs()) == []
    erp = httpx.get(f"{servers[1]}/_sim/state").json()
    assert erp["SalesOrders"] == [] and erp["OutgoingInvoices"] == []
    writes = [
        c for c in httpx.get(f"{servers[1]}/_sim/calls").json()["calls"] if c["method"] != "GET"
    ]
    assert all("Token" in c["endpoint"] for c in writes), writes
