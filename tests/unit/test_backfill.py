"""Backfill's paging, resume and summary (`tasks.backfill`), on fakeredis, with the shop
simulators in-process over real HTTP: orders created in the period (and only those) are read
page by page and submitted once; a run killed part-way continues from its cursor and counts
each order once; the counts add up; a dry run writes nothing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from core.runtime import Runtime
from core.settings import parse_settings
from core.store import Store
from schemas.backfill import BackfillProgress
from simulators.shops import create_shopify, create_woocommerce
from simulators.testing import running
from tasks.backfill import BackfillArgs, begin, carry_on
from tasks.backfill_progress import Busy, Progress, fraction, run_id, valid_run_id
from tasks.events import apply_event
from tasks.sources import event_from_shop
from tests.support.fakes import Enqueued, FakeConnector, fake_store
from tests.support.payloads import shopify_nok_order, woo_nok_order

SINCE = datetime(2026, 11, 1, tzinfo=UTC)
UNTIL = datetime(2026, 11, 8, tzinfo=UTC)


class Killed(BaseException):
    """The process dies (SIGKILL): nothing after it runs but the `finally` blocks."""


@pytest.fixture(scope="module", name="shopify")
def shopify_fixture() -> Iterator[str]:
    with running(create_shopify()) as url:
        yield url


@pytest.fixture(scope="module", name="woo")
def woo_fixture() -> Iterator[str]:
    with running(create_woocommerce()) as url:
        yield url


def runtime(
    source: str,
    url: str,
    store: Store | None = None,
    enqueue: Enqueued | None = None,
    **shop: Any,
) -> Runtime:
    settings = parse_settings(
        {
            "connections": {
                "shop": {
                    "erp": "poweroffice",
                    "source": source,
                    "settings": {
                        "application_key": "a",
                        "client_key": "c",
                        "subscription_key": "s",
                    },
                    "shop": {
                        "api_url": url,
                        "access_token": "demo-shopify-token",
                        "consumer_key": "ck_demo",
                        "consumer_secret": "cs_demo",
                        **shop,
                    },
                }
            }
        },
        env={},
    )
    connector = FakeConnector()
    return Runtime(
        settings,
        store or fake_store(),
        enqueue=enqueue if enqueue is not None else Enqueued(),
        connector_factory=lambda _: connector,
    )


def seed_shopify(url: str, count: int, start: datetime = SINCE, **extra: Any) -> list[str]:
    """`count` orders created an hour apart from `start` (not delivered); their ids."""
    base = {k: v for k, v in shopify_nok_order().items() if k not in ("id", "updated_at")}
    ids = []
    with httpx.Client(base_url=url) as sim:
        sim.post("/_sim/reset").raise_for_status()
        for n in range(count):
            at = (start + timedelta(hours=n)).isoformat()
            body = {**base, "created_at": at, "processed_at": at, "deliver": False, **extra}
            made = sim.post("/_sim/orders", json=body)
            made.raise_for_status()
            ids.append(str(made.json()["order"]["id"]))
    return ids


def backfill(rt: Runtime, **args: Any) -> BackfillProgress:
    run = begin(rt, BackfillArgs("shop", **{"since": SINCE, "until": UNTIL, **args}))
    view = carry_on(run, sleep=lambda _: None)
    assert view is not None
    return view


def adds_up(view: BackfillProgress) -> bool:
    s = view.summary
    return s.found == s.new + s.known + s.refused == sum(s.by_reason.values()) + s.new + s.known


def test_orders_created_in_the_period_are_submitted_once_over_many_pages(shopify: str) -> None:
    # Given 12 orders in the period (4 GraphQL pages of 3) and two outside it
    ids = seed_shopify(shopify, 12)
    seed_shopify_extra(shopify, SINCE - timedelta(hours=1), UNTIL)
    rt = runtime("shopify", shopify)
    view = backfill(rt)
    assert view.state == "done" and view.done_fraction == 1.0
    assert view.summary.found == 12 and view.summary.new == 12 and adds_up(view)
    assert view.pages == 4
    assert all(rt.store.job_id_for("shop", order_id) for order_id in ids)
    assert len(list(rt.store.iter_jobs())) == 12
    # the same arguments again: it is done, and says so without submitting anything again
    again = backfill(rt)
    assert again.summary == view.summary and again.pages == 4


def seed_shopify_extra(url: str, *moments: datetime) -> None:
    base = {k: v for k, v in shopify_nok_order().items() if k not in ("id", "updated_at")}
    with httpx.Client(base_url=url) as sim:
        for at in moments:
            body = {**base, "created_at": at.isoformat(), "deliver": False}
            sim.post("/_sim/orders", json=body).raise_for_status()


def test_orders_delivered_by_webhook_are_known_and_refusals_are_counted_by_reason(
    shopify: str,
) -> None:
    ids = seed_shopify(shopify, 5)
    with httpx.Client(base_url=shopify) as sim:
        # an order cancelled in the shop before anything reached us, and one we cannot map
        cancelled = sim.post(f"/_sim/orders/{ids[1]}/cancel", json={"deliver": False})
        cancelled.raise_for_status()
        broken = {**shopify_nok_order(), "created_at": (SINCE + timedelta(hours=9)).isoformat()}
        broken["line_items"][0]["sku"] = None
        broken.pop("id")
        sim.post("/_sim/orders", json={**broken, "deliver": False}).raise_for_status()
        orders = {str(o["id"]): o for o in sim.get("/_sim/state").json()["orders"]}
    rt = runtime("shopify", shopify)
    # Given the first two orders already came in by webhook
    for order_id in ids[:1] + ids[2:3]:
        apply_event(rt, "shop", event_from_shop("shopify", orders[order_id], None))
    view = backfill(rt)
    s = view.summary
    assert (s.found, s.new, s.known, s.refused) == (6, 2, 2, 2), s
    assert adds_up(view)
    assert s.by_reason["cancelled in the shop before it was transferred"] == 1
    assert [r for r in s.by_reason if r.startswith("unmappable: line_items.0")], s.by_reason
    assert {r.order_id for r in view.refused_orders} >= {ids[1]}


class DiesAfter(Progress):
    """The progress of a process killed after `lives` outcomes were recorded, while it handles
    the next order: that order is submitted, its outcome never recorded."""

    def __init__(self, progress: Progress, lives: int) -> None:
        self.__dict__.update(progress.__dict__)
        self.lives = lives

    def record_outcome(self, *args: Any, **kwargs: Any) -> bool:
        if self.lives == 0:
            raise Killed
        self.lives -= 1
        return super().record_outcome(*args, **kwargs)


def test_a_killed_run_continues_where_it_stopped_and_counts_each_order_once(
    shopify: str,
) -> None:
    ids = seed_shopify(shopify, 10)
    rt = runtime("shopify", shopify)
    args = BackfillArgs("shop", SINCE, UNTIL)
    run = begin(rt, args)
    run.progress = DiesAfter(run.progress, lives=7)
    with pytest.raises(Killed):
        carry_on(run, sleep=lambda _: None)
    stopped = Progress(rt.store, "shop", args.id).view()
    assert stopped is not None and stopped.state == "interrupted"
    assert stopped.summary.found == 7 and stopped.pages == 2  # two pages of 3 done, then one
    assert 0 < stopped.done_fraction < 1
    # Given a webhook for an order of the unfinished part arrives meanwhile
    with httpx.Client(base_url=shopify) as sim:
        orders = {str(o["id"]): o for o in sim.get("/_sim/state").json()["orders"]}
    apply_event(rt, "shop", event_from_shop("shopify", orders[ids[9]], None))
    # When it is started again with the same arguments
    view = carry_on(begin(rt, args), sleep=lambda _: None)
    assert view is not None and view.state == "done"
    s = view.summary
    # the eighth order, submitted by the killed run, is its own (new), not "known"
    assert (s.found, s.new, s.known, s.refused) == (10, 9, 1, 0), s
    assert len(list(rt.store.iter_jobs())) == 10
    assert rt.store.counters().get("orders_repeated", 0) >= 1  # the eighth, submitted twice


def test_woocommerce_numbered_pages_oldest_first(woo: str) -> None:
    base = {k: v for k, v in woo_nok_order().items() if k != "id"}
    with httpx.Client(base_url=woo) as sim:
        sim.post("/_sim/reset").raise_for_status()
        for n in range(130):  # two pages of 100
            at = (SINCE + timedelta(minutes=30 * n)).replace(tzinfo=None).isoformat()
            body = {**base, "date_created_gmt": at, "date_modified_gmt": at, "deliver": False}
            sim.post("/_sim/orders", json=body).raise_for_status()
    rt = runtime("woocommerce", woo)
    view = backfill(rt)
    assert view.pages == 2 and view.summary.found == 130 and view.summary.new == 130
    assert adds_up(view)


def test_shopify_rest_variant(shopify: str) -> None:
    seed_shopify(shopify, 4)
    seed_shopify_extra(shopify, UNTIL, SINCE - timedelta(seconds=1))
    view = backfill(runtime("shopify", shopify, api="rest"))
    assert view.summary.found == 4 and view.summary.new == 4 and view.state == "done"


def test_a_running_backfill_cannot_be_run_twice_but_a_dead_holder_is_taken_over(
    shopify: str,
) -> None:
    seed_shopify(shopify, 1)
    rt = runtime("shopify", shopify)
    args = BackfillArgs("shop", SINCE, UNTIL)
    first = begin(rt, args)
    with pytest.raises(Busy):
        begin(rt, args)
    rt.store.redis.set(first.progress.lease, "nohost-is-not-us/1/x")
    with pytest.raises(Busy):
        begin(rt, args)  # another machine's holder: its lease must expire
    # a holder on this machine whose process is gone (pid far above any in use) lets go
    rt.store.redis.set(first.progress.lease, f"{socket.gethostname()}/99999999/x")
    taken = begin(rt, args)
    assert rt.store.redis.get(taken.progress.lease) == taken.token


def test_ids_and_fraction() -> None:
    assert run_id(SINCE, None, False) == "20261101T000000Z-open-live"
    assert run_id(SINCE, UNTIL, True) == "20261101T000000Z-20261108T000000Z-dry"
    assert valid_run_id("20261101T000000Z-open-live")
    assert not valid_run_id("20261101T000000Z-open-live:orders")
    assert not valid_run_id("x")
    assert fraction(0, 100, 25, oldest_first=True) == 0.25
    assert fraction(0, 100, 25, oldest_first=False) == 0.75
    assert fraction(0, 100, None, oldest_first=True) == 0.0


def test_a_shop_that_answers_503_is_waited_out_and_a_refusal_stops_the_run_resumably(
    shopify: str,
) -> None:
    seed_shopify(shopify, 6)
    fault = {"match": "POST /admin/api/{version}/graphql.json", "mode": "status", "status": 503}
    with httpx.Client(base_url=shopify) as sim:
        sim.post("/_sim/faults", json={**fault, "count": 2}).raise_for_status()
    waits: list[float] = []
    rt = runtime("shopify", shopify)
    view = carry_on(begin(rt, BackfillArgs("shop", SINCE, UNTIL)), sleep=waits.append)
    assert view is not None and view.state == "done" and view.summary.found == 6
    assert waits == [1.0, 2.0]  # a little longer each time
    # a shop that refuses us (a revoked token) stops it; with the token back it carries on
    refused = runtime("shopify", shopify, access_token="revoked")
    again = BackfillArgs("shop", SINCE, UNTIL + timedelta(days=1))
    failed = carry_on(begin(refused, again), sleep=waits.append)
    assert failed is not None and failed.state == "failed" and "401" in (failed.error or "")
    restored = runtime("shopify", shopify, store=refused.store)
    done = carry_on(begin(restored, again), sleep=waits.append)
    assert done is not None and done.state == "done" and done.summary.found == 6
    assert done.error is None


def test_the_lease_is_renewed_taken_again_after_a_long_wait_but_never_from_another(
    shopify: str,
) -> None:
    rt = runtime("shopify", shopify)
    run = begin(rt, BackfillArgs("shop", SINCE, UNTIL))
    progress = run.progress
    assert progress.renew_lease(run.token)
    rt.store.redis.delete(progress.lease)  # expired while it waited for the shop
    assert progress.renew_lease(run.token)
    rt.store.redis.set(progress.lease, "elsewhere/1/x")
    assert not progress.renew_lease(run.token)


def test_orders_previewed_in_preview_mode_are_sent_by_a_live_backfill_once(shopify: str) -> None:
    # Given five orders whose jobs ended `previewed` while the connection was in preview mode
    ids = seed_shopify(shopify, 5)
    enqueued = Enqueued()
    rt = runtime("shopify", shopify, enqueue=enqueued)
    with httpx.Client(base_url=shopify) as sim:
        orders = {str(o["id"]): o for o in sim.get("/_sim/state").json()["orders"]}
    for order_id in ids:
        apply_event(rt, "shop", event_from_shop("shopify", orders[order_id], None))
        rt.store.mark_previewed("shop", order_id)
    # When the connection is live and a backfill runs over the period
    view = backfill(rt)
    # Then each is sent (the job leaves `previewed`), once, and counts as new
    assert (view.summary.found, view.summary.new) == (5, 5), view.summary
    go_live = [job_id for name, job_id in enqueued if name == "order_go_live"]
    assert sorted(go_live) == sorted(str(rt.store.job_id_for("shop", i)) for i in ids)
