"""The shop contract: every shop of `connectors.shops.registry`, driven through its simulator,
meets orderbridge's door the same way.

Per shop: its simulator under real uvicorn (`tests.support.shop_rigs`), sending its signed
webhooks to a sink; the intake app in-process on a fakeredis store (jobs are recorded, no worker
runs them). Each test has the merchant act in the shop, then hands the intake the deliveries
exactly as the shop sent them (its headers, its bytes), in the shop's order or another: so a
repeat and a late arrival are the shop's own deliveries, not hand-made ones. Reconciliation and
the readers run against the simulator's API over HTTP.

A registered shop without a rig fails `test_every_registered_shop_is_in_the_suite` (and errors
in every other test): adding a shop means adding its simulator and rig here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.shops.registry import SHOPS
from core.runtime import Runtime
from core.settings import parse_settings
from simulators.testing import running
from tasks.backfill import BackfillArgs, begin, carry_on
from tasks.reconcile import reconcile
from tests.support.fakes import Enqueued, fake_store
from tests.support.polling import poll
from tests.support.shop_rigs import RIGS, ShopRig
from tests.support.sim_shops import (  # noqa: F401  (fixtures)
    Receiver,
    receiver_fixture,
    receiver_server_fixture,
)
from workers.intake.app import create_app

SECRET, PREVIOUS, STRANGER = "shop-secret-now", "shop-secret-before", "nobody-we-know"
CONNECTION = "shop"
DEADLINE_S = 10.0


def test_every_registered_shop_is_in_the_suite() -> None:
    assert set(RIGS) == set(SHOPS), "each registered shop needs its rig in tests/support"


@pytest.fixture(scope="module", params=sorted(SHOPS))
def shop_server(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """(source, base URL) of the shop's simulator, one per registered shop."""
    source: str = request.param
    with running(RIGS[source].create_app()) as base_url:
        yield source, base_url


@dataclass
class Shop:
    """A shop's simulator, where its webhooks go, and the intake that takes them."""

    source: str
    rig: ShopRig
    sim: httpx.Client
    url: str
    sink: str  # where the simulator sends its webhooks (a recorder answering 200)
    rt: Runtime
    intake: TestClient
    handed: int = 0  # deliveries already taken from the simulator
    enqueued: Enqueued = field(default_factory=Enqueued)

    def subscribe(self, secret: str = SECRET) -> None:
        self.rig.subscribe(self.sim, f"{self.sink}/webhooks/{self.source}/{CONNECTION}", secret)

    def sent(self) -> list[dict[str, Any]]:
        """The deliveries the shop has sent since last asked (pings included), in its order."""

        def settled() -> tuple[list[dict[str, Any]]] | None:
            body = self.sim.get("/_sim/deliveries").json()
            return None if body["pending"] else (list(body["deliveries"]),)

        (every,) = poll(settled, DEADLINE_S, what="the shop's deliveries")
        every.sort(key=lambda d: d["seq"])
        new, self.handed = every[self.handed :], len(every)
        return new

    def hand(self, delivery: dict[str, Any]) -> httpx.Response:
        """Hand the intake one delivery exactly as the shop sent it."""
        path = f"/webhooks/{self.source}/{CONNECTION}"
        return self.intake.post(
            path, content=delivery["body"].encode(), headers=delivery["headers"]
        )

    def hand_all(self, deliveries: list[dict[str, Any]] | None = None) -> list[httpx.Response]:
        return [self.hand(d) for d in (self.sent() if deliveries is None else deliveries)]

    def job_for(self, external_id: str) -> str | None:
        return self.rt.store.job_id_for(CONNECTION, external_id)

    def reconcile(self) -> int:
        return reconcile(self.rt, CONNECTION)


@pytest.fixture
def shop(shop_server: tuple[str, str], receiver: Receiver) -> Iterator[Shop]:
    source, url = shop_server
    rig = RIGS[source]
    shop_settings = {
        "webhook_secret": SECRET,
        "previous_webhook_secret": PREVIOUS,
        "fallback_sku": "DIVERSE",
        **rig.api(url),
    }
    settings = parse_settings(
        {
            "orderbridge": {"worker": {"inline_steps": True}},
            "connections": {
                CONNECTION: {
                    "erp": "poweroffice",
                    "source": source,
                    "invoice_on_payment": True,
                    "shop": shop_settings,
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
    enqueued = Enqueued()
    rt = Runtime(settings, fake_store(), enqueue=enqueued)
    with (
        httpx.Client(base_url=url, timeout=10) as sim,
        TestClient(create_app(rt), raise_server_exceptions=False) as intake,
    ):
        sim.post("/_sim/reset").raise_for_status()
        yield Shop(source, rig, sim, url, receiver.base_url, rt, intake, enqueued=enqueued)


def an_hour_ago() -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def states(answers: list[httpx.Response]) -> list[tuple[int, str]]:
    return [(a.status_code, a.json().get("state") or a.json()["error"]["code"]) for a in answers]


# --- signatures -------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [SECRET, PREVIOUS], ids=["current", "rotated"])
def test_a_delivery_signed_with_the_current_or_previous_secret_is_taken(
    shop: Shop, secret: str
) -> None:
    shop.subscribe(secret)
    shop.sent()  # a shop's hello when a webhook is made (WooCommerce pings), not an order
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    answers = shop.hand_all()
    assert (202, "accepted") in states(answers), states(answers)
    assert shop.job_for(order_id) is not None


def test_a_delivery_signed_otherwise_or_changed_on_the_way_is_refused(shop: Shop) -> None:
    shop.subscribe(STRANGER)
    shop.sent()
    shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    answers = shop.hand_all()
    assert answers and all(s == (401, "bad_signature") for s in states(answers)), states(answers)
    # signed with our secret, then one byte of the body changed
    shop.subscribe(SECRET)
    shop.sent()
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    delivery = shop.sent()[0]
    tampered = {**delivery, "body": delivery["body"].replace('"', "'", 1)}
    assert states([shop.hand(tampered)]) == [(401, "bad_signature")]
    assert shop.job_for(order_id) is None


# --- deliveries -------------------------------------------------------------------------------


def test_a_repeated_delivery_is_answered_at_once_and_makes_no_second_job(shop: Shop) -> None:
    shop.subscribe()
    shop.sent()
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    deliveries = shop.sent()
    first = shop.hand_all(deliveries)
    job_id = shop.job_for(order_id)
    assert job_id is not None and (202, "accepted") in states(first)
    again = shop.hand_all(deliveries)
    assert states(again) == [(200, "duplicate")] * len(deliveries)
    assert shop.job_for(order_id) == job_id


def test_an_older_state_arriving_after_a_newer_one_is_ignored(shop: Shop) -> None:
    shop.subscribe()
    shop.sent()
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    created = shop.sent()
    shop.rig.cancel(shop.sim, order_id)
    cancelled = shop.sent()
    # the cancellation overtakes the creation: the order never becomes a job
    assert (200, "cancelled") in states(shop.hand_all(cancelled))
    late = states(shop.hand_all(created))
    assert late and all(s == (200, "ignored") for s in late), late
    assert shop.job_for(order_id) is None


# --- an order's life --------------------------------------------------------------------------


def test_paid_in_the_shop_asks_the_job_to_invoice(shop: Shop) -> None:
    shop.subscribe()
    shop.sent()
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    shop.hand_all()
    job_id = shop.job_for(order_id)
    assert job_id is not None and shop.enqueued == []
    shop.rig.pay(shop.sim, order_id)
    answers = shop.hand_all()
    assert (200, "invoicing") in states(answers), states(answers)
    assert ("order_paid", job_id) in shop.enqueued


def test_cancelled_in_the_shop_cancels_the_job(shop: Shop) -> None:
    shop.subscribe()
    shop.sent()
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False)
    shop.hand_all()
    job_id = shop.job_for(order_id)
    shop.rig.cancel(shop.sim, order_id)
    assert (200, "cancelled") in states(shop.hand_all())
    assert ("order_cancelled", job_id) in shop.enqueued


def test_a_refund_in_the_shop_becomes_one_credit_job(shop: Shop) -> None:
    shop.subscribe()
    shop.sent()
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=True)
    shop.hand_all()
    assert shop.job_for(order_id) is not None
    refund_id = shop.rig.refund(shop.sim, order_id)
    refunded = shop.sent()
    shop.hand_all(refunded)
    shop.reconcile()  # a shop whose webhooks list refunds without lines has them read here
    credit_job = shop.job_for(f"refund-{refund_id}")
    assert credit_job is not None
    job = shop.rt.store.load_job(credit_job)
    assert job is not None and job.order is not None and job.order.credit_for == order_id
    # the same deliveries again, and another poll: still the one credit job
    shop.hand_all(refunded)
    shop.reconcile()
    assert shop.job_for(f"refund-{refund_id}") == credit_job


# --- the shop's API ---------------------------------------------------------------------------


def test_reconciliation_finds_an_order_whose_webhook_never_came(shop: Shop) -> None:
    order_id = shop.rig.place(shop.sim, an_hour_ago(), paid=False, deliver=False)
    assert shop.sent() == []
    assert shop.reconcile() >= 1
    assert shop.job_for(order_id) is not None


def test_orders_created_between_two_dates_are_read_from_the_shop(shop: Shop) -> None:
    now = an_hour_ago() + timedelta(hours=1)
    ids = [
        shop.rig.place(shop.sim, now - timedelta(hours=hours), paid=True, deliver=False)
        for hours in (3, 2, 1)
    ]
    conn = shop.rt.settings.connection(CONNECTION)
    since, until = now - timedelta(minutes=150), now - timedelta(minutes=30)
    found: list[str] = []
    with httpx.Client(timeout=10) as client:
        lister = SHOPS[shop.source].orders_created(conn.shop, since, until, client, shop.rt.store)
        cursor: str | None = None
        for _ in range(10):
            page = lister.page(cursor)
            found += [str(order["id"]) for order in page.orders]
            if page.next is None:
                break
            cursor = page.next
    assert sorted(found) == sorted(ids[1:])


# --- backfill (issue 19, item 2) ---------------------------------------------------------------


def test_a_backfill_submits_the_orders_created_in_its_period_once(shop: Shop) -> None:
    now = an_hour_ago() + timedelta(hours=1)
    shop.subscribe()
    shop.sent()
    # Given one order that came by webhook, one whose webhook never came, one before the period
    delivered = shop.rig.place(shop.sim, now - timedelta(hours=3), paid=False)
    shop.hand_all()
    missed = shop.rig.place(shop.sim, now - timedelta(hours=2), paid=False, deliver=False)
    before = shop.rig.place(shop.sim, now - timedelta(hours=5), paid=False, deliver=False)
    known = shop.job_for(delivered)
    args = BackfillArgs(CONNECTION, now - timedelta(hours=4), now - timedelta(minutes=30))
    view = carry_on(begin(shop.rt, args), sleep=lambda _: None)
    assert view is not None and view.state == "done", view
    summary = view.summary
    assert (summary.found, summary.new, summary.known, summary.refused) == (2, 1, 1, 0), summary
    assert shop.job_for(delivered) == known and shop.job_for(missed) is not None
    assert shop.job_for(before) is None
    # the same backfill again, from scratch: nothing new
    again = carry_on(begin(shop.rt, args, fresh=True), sleep=lambda _: None)
    assert again is not None and again.summary.new == 0 and again.summary.found == 2
