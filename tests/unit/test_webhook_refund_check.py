"""A WooCommerce order webhook's refund check, in-process (the intake app on a fakeredis store):
an unreadable `refunds` list is a 422 naming the field, not a 500; a repeated delivery is
answered before the check, so it neither looks the refunds up again nor asks for a poll."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.runtime import Runtime
from core.settings import parse_settings
from core.store import RECONCILE_CLAIMS
from tests.support.fakes import Enqueued, fake_store
from tests.support.payloads import SECRET, sign, woo_nok_order
from workers.intake.app import create_app


@pytest.fixture
def rt() -> Runtime:
    settings = parse_settings(
        {
            "orderbridge": {"worker": {"inline_steps": True}},
            "connections": {
                "shop": {
                    "erp": "poweroffice",
                    "source": "woocommerce",
                    "shop": {
                        "webhook_secret": SECRET,
                        "api_url": "http://shop.invalid",
                        "consumer_key": "ck",
                        "consumer_secret": "cs",
                    },
                    "settings": {
                        "application_key": "a",
                        "client_key": "c",
                        "subscription_key": "s",
                    },
                }
            },
        },
        env={},
    )
    return Runtime(settings, fake_store(), enqueue=Enqueued())


@pytest.fixture
def http(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        yield client


def deliver(http: TestClient, body: Any, topic: str = "order.updated") -> Any:
    raw = json.dumps(body).encode()
    return http.post(
        "/webhooks/woocommerce/shop",
        content=raw,
        headers={
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": sign(raw),
            "X-WC-Webhook-Source": "http://shop.invalid/",
            "Content-Type": "application/json",
            "X-WC-Webhook-Delivery-ID": "1",
        },
    )


def poll_pending(rt: Runtime) -> bool:
    """True while the connection's reconcile interval is claimed (no poll asked for)."""
    return not rt.store.claim_interval(RECONCILE_CLAIMS, "shop", 3600)


@pytest.mark.parametrize(
    ("refunds", "field"),
    [
        ([{"id": None, "total": "-10.00"}], "refunds.0.id"),
        ("x", "refunds"),
        (["x"], "refunds.0"),
    ],
)
def test_unreadable_refunds_are_a_422_naming_the_field(
    rt: Runtime, http: TestClient, refunds: Any, field: str
) -> None:
    response = deliver(http, {**woo_nok_order(), "refunds": refunds})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "unusable_order"
    assert [d["field"] for d in error["details"]] == [field]
    assert rt.store.job_id_for("shop", str(woo_nok_order()["id"])) is None
    # not remembered as seen: the shop's retry (or a fixed body) is looked at again
    assert deliver(http, {**woo_nok_order(), "refunds": refunds}).status_code == 422


def test_a_new_refund_asks_for_a_poll_once_and_a_repeat_delivery_costs_nothing(
    rt: Runtime, http: TestClient
) -> None:
    body = {**woo_nok_order(), "refunds": [{"id": 901, "total": "-10.00"}]}
    rt.store.claim_interval(RECONCILE_CLAIMS, "shop", 3600)
    first = deliver(http, body)
    assert first.status_code == 202, first.text
    assert rt.store.job_id_for("shop", str(body["id"])) == first.json()["job_id"]
    assert not poll_pending(rt)  # the refund has no credit job: the next sweep polls the shop
    # the same delivery again: answered as a duplicate before the refund check
    lookups: list[str] = []
    job_id_for = rt.store.job_id_for

    def counted(connection: str, external_id: str) -> str | None:
        lookups.append(external_id)
        return job_id_for(connection, external_id)

    rt.store.job_id_for = counted  # type: ignore[method-assign]
    again = deliver(http, body)
    assert again.json()["state"] == "duplicate"
    assert poll_pending(rt) and lookups == []


def test_refunds_that_have_their_credit_jobs_ask_for_no_poll(rt: Runtime, http: TestClient) -> None:
    body = {**woo_nok_order(), "refunds": []}
    rt.store.claim_interval(RECONCILE_CLAIMS, "shop", 3600)
    assert deliver(http, body, topic="order.created").status_code == 202
    assert poll_pending(rt)
