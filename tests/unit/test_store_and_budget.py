"""The Redis store and the shared request budget, against the real Redis (database 13)."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from core.budget import RequestBudget
from core.store import LOCKS, Store
from schemas.job import CustomerResult, Job, Step
from schemas.order import Order
from tests.support.cluster import REDIS_URL
from tests.support.factories import order

URL = REDIS_URL  # this xdist process's own database


@pytest.fixture
def client() -> redis.Redis:
    c = redis.Redis.from_url(URL, decode_responses=True)
    c.flushdb()
    return c


def new_job(job_id: str, external_id: str = "1001") -> Job:
    return Job.new(job_id, "shop", external_id, Order.model_validate(order(external_id)), False)


def test_same_order_twice_is_one_job(client: redis.Redis) -> None:
    store = Store(client)
    assert store.create_job(new_job("a"), time.time()) == ("a", True)
    assert store.create_job(new_job("b"), time.time()) == ("a", False)
    assert store.load_job("b") is None
    assert store.create_job(new_job("c", "1002"), time.time()) == ("c", True)


def test_concurrent_submissions_make_one_job(client: redis.Redis) -> None:
    store = Store(client)
    results: list[tuple[str, bool]] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(store.create_job(new_job(f"j{i}"), time.time()))
        )
        for i in range(20)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in results) == 1
    assert len({job_id for job_id, _ in results}) == 1


def test_claim_due_hands_each_job_to_one_sweeper(client: redis.Redis) -> None:
    store = Store(client)
    now = time.time()
    for i in range(5):
        store.set_due(f"j{i}", now - 1)
    store.set_due("later", now + 100)
    first = store.claim_due(now, now + 60)
    second = store.claim_due(now, now + 60)
    assert sorted(first) == [f"j{i}" for i in range(5)] and second == []
    assert store.due_at("j0") == pytest.approx(now + 60)


def test_ledger_transitions_resume_at_failed_step() -> None:
    job = new_job("x")
    job.start_step("upsert_customer")
    job.finish_step(Step.UPSERT_CUSTOMER, CustomerResult(customer_id="1"))
    assert job.current_step == "upsert_products"
    job.requeue_at("create_draft")
    assert job.state == "queued" and job.current_step == "create_draft"
    assert job.step("upsert_customer").state == "done"
    job.start_step("create_draft")
    job.finish_step("create_draft")
    assert job.current_step is None  # send_invoice skipped


def test_budget_allows_limit_per_window_across_clients(client: redis.Redis) -> None:
    a = RequestBudget(client, "t", limit=5, window_seconds=1.0)
    b = RequestBudget(redis.Redis.from_url(URL), "t", limit=5, window_seconds=1.0)
    taken = [a.try_take() == 0 for _ in range(3)] + [b.try_take() == 0 for _ in range(3)]
    assert taken.count(True) == 5
    assert b.try_take() > 0


def test_budget_pause_stops_everyone(client: redis.Redis) -> None:
    budget = RequestBudget(client, "p", limit=100)
    budget.pause(2.0)
    assert 1.0 < budget.try_take() <= 2.0


def test_budget_too_long_a_wait_is_rate_limited(client: redis.Redis) -> None:
    from connectors.errors import RateLimited

    budget = RequestBudget(client, "w", limit=1, window_seconds=60, max_wait=0.5)
    budget.take()
    with pytest.raises(RateLimited) as caught:
        budget.take()
    assert 55 < caught.value.retry_after <= 60


def test_day_limit_and_header_feedback(client: redis.Redis) -> None:
    import httpx

    budget = RequestBudget(client, "d", limit=100, window_seconds=60, day_limit=3)
    assert [budget.try_take() == 0 for _ in range(4)] == [True, True, True, False]
    # The ERP says 10 calls are left today: its count replaces ours
    reset = int(time.time() * 1000) + 3_600_000
    budget.observe(
        httpx.Response(200, headers={"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": str(reset)})
    )
    assert budget.try_take() == 0
    # A 429 naming the minutely reset pauses everyone until then
    minute_reset = int(time.time() * 1000) + 5_000
    budget.observe(
        httpx.Response(
            429,
            headers={
                "X-RateLimit-Minutely-Remaining": "0",
                "X-RateLimit-Minutely-Reset": str(minute_reset),
            },
        )
    )
    assert 3.0 < budget.try_take() <= 5.0


def lock_key(name: str) -> str:
    return LOCKS.key("shop", "product", name)


def test_locks_taken_together_are_all_or_none(client: redis.Redis) -> None:
    store = Store(client)
    with store.locked("shop", "product", "B", wait=1):
        with (
            pytest.raises(redis.exceptions.LockError),
            store.locked_all(("shop", "product"), ["A", "B"], wait=0.2),
        ):
            pass
        assert not client.exists(lock_key("A"))  # no part of the set was kept
    with store.locked_all(("shop", "product"), ["A", "B", "A"]):
        assert client.exists(lock_key("A")) and client.exists(lock_key("B"))
        with (
            pytest.raises(redis.exceptions.LockError),
            store.locked("shop", "product", "A", wait=0.1),
        ):
            pass  # the single-key lock sees the set's lock
    assert not client.exists(lock_key("A")) and not client.exists(lock_key("B"))


def test_overlapping_lock_sets_never_hold_at_once(client: redis.Redis) -> None:
    store = Store(client)
    inside: list[list[str]] = []
    overlaps: list[list[str]] = []

    def work(names: list[str]) -> None:
        for _ in range(15):
            with store.locked_all(("shop", "product"), names, wait=10):
                inside.append(names)
                if len(inside) > 1:
                    overlaps.append(names)
                time.sleep(0.002)
                inside.remove(names)

    threads = [
        threading.Thread(target=work, args=(names,))
        for names in (["A", "B"], ["B", "C"], ["C", "A"], ["C", "B", "A"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert not any(client.exists(lock_key(n)) for n in "ABC")


def test_an_expired_set_lock_never_drops_the_next_holders(client: redis.Redis) -> None:
    store = Store(client)
    with store.locked_all(("shop", "product"), ["A"], timeout=0.05):
        deadline = time.monotonic() + 5
        while client.exists(lock_key("A")) and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for the expiry under test, not for another thread
        assert client.set(lock_key("A"), "the next holder", nx=True, px=5000)
    assert client.exists(lock_key("A"))  # the new holder's lock survived our release


def test_taking_the_lease_reads_the_job_and_never_postpones_a_wake_up(client: redis.Redis) -> None:
    store = Store(client)
    store.create_job(new_job("j1"), time.time())
    now = time.time()
    got, job = store.take_lease("j1", "t1", 5, now + 45, load=True)
    assert got and job is not None and job.job_id == "j1"
    assert store.due_at("j1") == pytest.approx(now + 45)
    store.set_due("j1", now + 10)
    assert store.take_lease("j1", "t2", 5, now + 45, load=True) == (False, None)
    assert store.due_at("j1") == pytest.approx(now + 10)  # held: brought forward only
    assert store.take_lease("j1", "t2", 5, now + 5) == (False, None)
    assert store.due_at("j1") == pytest.approx(now + 5)
    assert store.release_locks([store.lease_key("j1")], "t2") == 0  # not ours to drop
    assert store.release_locks([store.lease_key("j1")], "t1") == 1
    assert store.take_lease("nope", "t3", 5, now + 45, load=True) == (True, None)
