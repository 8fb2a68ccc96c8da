"""Reconciliation's cursor when an order's refunds cannot be read, the refund reads' lookups of
the original order, and the door's job state read only when asked for: in-process, fakeredis,
the shop's order listing and refund reads replaced by functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from connectors.shops.registry import SHOPS
from connectors.shops.woocommerce import source as woocommerce_source
from core.runtime import Runtime
from core.settings import parse_settings
from core.store import Store
from schemas.order import Order
from tasks import reconcile as reconcile_module
from tasks import refunds as refunds_module
from tasks.events import apply_event, event_from_canonical, submit_order
from tests.support.factories import order as order_json
from tests.support.fakes import Enqueued, fake_store
from tests.support.payloads import woo_nok_order

OVERLAP = 120.0
START = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)


def woo_runtime() -> Runtime:
    settings = parse_settings(
        {
            "orderbridge": {"worker": {"inline_steps": True}},
            "connections": {
                "shop": {
                    "erp": "poweroffice",
                    "source": "woocommerce",
                    "shop": {
                        "api_url": "http://shop.invalid",
                        "consumer_key": "ck",
                        "consumer_secret": "cs",
                        "reconcile_overlap_seconds": OVERLAP,
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


def woo_order(order_id: int, modified: datetime) -> dict[str, Any]:
    body = woo_nok_order()
    body["id"] = body["number"] = order_id
    body["date_modified_gmt"] = modified.replace(tzinfo=None).isoformat()
    return body


class Shop:
    """The order listing (recording each poll's `since`) and refund reads that fail for the
    orders in `failing`."""

    def __init__(self, orders: list[dict[str, Any]]) -> None:
        self.orders, self.failing = orders, set[str]()
        self.asked: list[datetime] = []

    def orders_since(
        self, shop: Any, since: datetime, client: httpx.Client, store: Store
    ) -> list[dict[str, Any]]:
        self.asked.append(since)
        return [
            o
            for o in self.orders
            if datetime.fromisoformat(o["date_modified_gmt"]).replace(tzinfo=UTC) >= since
        ]

    def credit_missing_refunds(
        self,
        rt: Runtime,
        conn: Any,
        payload: dict[str, Any],
        order: Order | None,
        client: httpx.Client,
    ) -> int:
        if str(payload["id"]) in self.failing:
            raise httpx.ConnectError("the shop's refunds resource is down")
        return 0


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch) -> Shop:
    fake = Shop(
        [
            woo_order(801, START + timedelta(minutes=10)),
            woo_order(802, START + timedelta(minutes=30)),
        ]
    )
    monkeypatch.setattr(SHOPS["woocommerce"], "orders_since", fake.orders_since)
    monkeypatch.setattr(reconcile_module, "credit_missing_refunds", fake.credit_missing_refunds)
    return fake


def test_a_failed_refund_read_keeps_the_order_in_the_next_poll(shop: Shop) -> None:
    rt = woo_runtime()
    rt.store.set_cursor("shop", START.timestamp())
    since = START - timedelta(seconds=OVERLAP)
    shop.failing = {"801"}  # the older order's refunds fail; a newer order comes after it
    assert reconcile_module.reconcile(rt, "shop") == 2
    cursor = rt.store.cursor("shop")
    assert cursor is not None
    # the newer order 802 did not move the cursor past 801: it stays where the poll started
    assert cursor == START.timestamp() < (START + timedelta(minutes=10)).timestamp()
    assert shop.asked == [since]
    # the next poll asks again from the same point, so 801 is in it; not from further back
    assert reconcile_module.reconcile(rt, "shop") == 2
    assert shop.asked == [since, since]
    assert rt.store.cursor("shop") == START.timestamp()
    # once the refunds are read, the cursor moves on to the newest order seen
    shop.failing = set()
    reconcile_module.reconcile(rt, "shop")
    assert rt.store.cursor("shop") == (START + timedelta(minutes=30)).timestamp()
    assert shop.asked[-1] == since


def test_without_failures_the_cursor_moves_to_the_newest_order(shop: Shop) -> None:
    rt = woo_runtime()
    rt.store.set_cursor("shop", START.timestamp())
    assert reconcile_module.reconcile(rt, "shop") == 2
    assert rt.store.cursor("shop") == (START + timedelta(minutes=30)).timestamp()


def test_the_original_order_is_looked_up_once_for_all_its_missing_refunds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = woo_runtime()
    conn = rt.settings.connection("shop")
    original = submit_order(rt, "shop", Order.model_validate(order_json("727")))
    assert original.created
    loads: list[str] = []
    load_job = rt.store.load_job

    def counted(job_id: str) -> Any:
        loads.append(job_id)
        return load_job(job_id)

    monkeypatch.setattr(rt.store, "load_job", counted)
    read: list[str] = []
    against: list[Any] = []

    def resource(shop: Any, order_id: str, refund_id: str, client: Any) -> dict[str, Any]:
        read.append(refund_id)
        return {"id": refund_id}

    def mapped(refund: dict[str, Any], order: Any, *, fallback_sku: str | None) -> Order:
        against.append(order)
        return Order.model_validate(order_json(f"refund-{refund['id']}", credit_for="727"))

    monkeypatch.setattr(woocommerce_source, "woocommerce_refund_resource", resource)
    monkeypatch.setattr(woocommerce_source, "woocommerce_refund", mapped)
    payload = woo_nok_order()
    payload["refunds"] = [{"id": 901, "total": "-10.00"}, {"id": 902, "total": "-5.00"}]
    with httpx.Client() as client:
        made = refunds_module.credit_missing_refunds(rt, conn, payload, None, client)
    assert made == 2 and read == ["901", "902"]
    assert loads == [original.job_id]  # once, not once per refund
    assert [o.external_id for o in against] == ["727", "727"]  # the job's order, both times
    # both have their credit jobs now: nothing is read or looked up again
    loads.clear()
    with httpx.Client() as client:
        assert refunds_module.credit_missing_refunds(rt, conn, payload, None, client) == 0
    assert loads == [] and read == ["901", "902"]


def test_an_existing_jobs_state_is_read_only_when_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = woo_runtime()
    canonical = Order.model_validate(order_json("5001"))
    assert apply_event(rt, "shop", event_from_canonical(canonical)).outcome == "accepted"
    loads: list[str] = []
    load_job = rt.store.load_job

    def counted(job_id: str) -> Any:
        loads.append(job_id)
        return load_job(job_id)

    monkeypatch.setattr(rt.store, "load_job", counted)
    again = apply_event(rt, "shop", event_from_canonical(canonical))
    assert (again.outcome, again.job_state, loads) == ("exists", None, [])
    asked = apply_event(rt, "shop", event_from_canonical(canonical), with_state=True)
    assert (asked.outcome, asked.job_state) == ("exists", "queued")
    assert loads == [asked.job_id]
