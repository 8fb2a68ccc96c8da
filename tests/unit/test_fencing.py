"""Lease fencing, in-process on fakeredis: a worker whose lease expired and went to another
worker (it was cut off, paused or slow) neither calls the ERP nor writes over the new holder's
record, however late its writes arrive."""

from __future__ import annotations

import time

import pytest
import redis

from connectors.errors import PermanentError
from core.fencing import Fence, LeaseLost
from core.runtime import Runtime, reset_heartbeat, set_heartbeat
from core.store import Store
from schemas.dead_letter import DeadLetter
from schemas.job import Step
from tasks.lease import Lease
from tasks.runner import Outcome, run_step
from tests.support.fakes import FakeConnector, accept, job_of, make_runtime

SHORT_STALE = 0.5  # lock 0.3 s, renewed every 0.1 s: a lost lease shows within a test's time


def take_over(rt: Runtime, job_id: str) -> Lease:
    """What the other worker does once our lease has run out: take the job and record its own
    progress (here: a marker in the ERP ids)."""
    rt.store.redis.delete(rt.store.lease_key(job_id))  # our lock expired
    other = Lease(rt.store, job_id, SHORT_STALE)
    got, job = other.acquire_and_load()
    assert got and job is not None
    job.erp["taken_over"] = "yes"
    other.save_job(job)
    return other


def test_a_fenced_save_lands_only_while_the_lease_is_ours_and_renews_it() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    store, job = rt.store, job_of(rt, job_id)
    ours = Lease(store, job_id, 45)
    assert ours.acquire()
    store.redis.pexpire(store.lease_key(job_id), 50)
    job.erp["ours"] = "1"
    ours.save_job(job, counters=("saved",))
    assert store.redis.pttl(store.lease_key(job_id)) > 20_000  # renewed to the lock's length
    assert job_of(rt, job_id).erp["ours"] == "1"
    # A write under another token, whatever it carries, changes nothing
    job.erp["ours"] = "2"
    with pytest.raises(LeaseLost):
        store.save_job(job, due_at=None, counters=("saved",), fence=Fence(ours.key, "stolen"))
    assert job_of(rt, job_id).erp["ours"] == "1"
    assert store.counters().get("saved") == 1
    assert store.due_at(job_id) is not None


def test_a_lease_that_expired_is_lost_even_if_nobody_took_it() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    ours = Lease(rt.store, job_id, 45)
    assert ours.acquire()
    rt.store.redis.delete(ours.key)  # expired; a taker may have come and gone since
    with pytest.raises(LeaseLost):
        ours.save_job(job_of(rt, job_id))
    with pytest.raises(LeaseLost):
        ours.beat(force=True)


def test_a_renewal_asks_redis_only_when_due_and_says_when_the_lease_is_gone() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    ours = Lease(rt.store, job_id, SHORT_STALE)
    assert ours.acquire()
    take_over(rt, job_id)
    due = rt.store.due_at(job_id)
    ours.beat()  # confirmed a moment ago: still certainly ours, no round trip
    time.sleep(ours.renew_every + 0.05)
    with pytest.raises(LeaseLost):
        ours.beat()
    assert rt.store.due_at(job_id) == due  # the loser did not move the new holder's wake-up


def test_an_erp_call_after_the_lease_is_lost_is_never_made() -> None:
    rt, connector, _ = make_runtime(stale_after_seconds=SHORT_STALE)
    job_id = accept(rt)
    ours = Lease(rt.store, job_id, SHORT_STALE)
    assert ours.acquire()
    take_over(rt, job_id)
    time.sleep(ours.renew_every + 0.05)
    token = set_heartbeat(ours.beat)  # as the runner does around a step
    try:
        with pytest.raises(LeaseLost):
            connector.create_order(job_of(rt, job_id).order, "ref", "C1")  # type: ignore[arg-type]
    finally:
        reset_heartbeat(token)
    assert connector.calls == []


class CutOffAfter(FakeConnector):
    """A connector whose worker is cut off right after its `cut_at` call (answered or failed):
    by the time it goes on, its lease has run out and another worker has taken the job."""

    def __init__(self, rt: Runtime, cut_at: str) -> None:
        super().__init__()
        self.rt, self.cut_at, self.job_id = rt, cut_at, ""

    def _call(self, name: str) -> None:
        try:
            super()._call(name)
        finally:
            if name == self.cut_at:
                take_over(self.rt, self.job_id)
                time.sleep(SHORT_STALE)


def cut_off_runtime(cut_at: str) -> tuple[Runtime, CutOffAfter, str]:
    rt, _, _ = make_runtime(stale_after_seconds=SHORT_STALE)
    connector = CutOffAfter(rt, cut_at)
    rt._factory = lambda _: connector
    connector.job_id = accept(rt)
    return rt, connector, connector.job_id


def test_a_step_cut_off_mid_job_posts_nothing_and_leaves_the_new_holders_record() -> None:
    rt, connector, job_id = cut_off_runtime("find_order")
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.LEASE_LOST
    assert "create_order" not in connector.calls
    job = job_of(rt, job_id)
    assert job.erp.get("taken_over") == "yes"  # the new holder's record stands
    assert job.step(Step.CHECK_DUPLICATE).state != "done"  # ours was not written over it
    assert job.step(Step.CREATE_DRAFT).state == "pending"  # no `sending` mark of ours either


def test_a_failure_after_the_lease_is_lost_writes_no_dead_letter() -> None:
    rt, connector, job_id = cut_off_runtime("upsert_customer")
    connector.fail["upsert_customer"] = [PermanentError("refused", erp_status=400)]
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.LEASE_LOST
    assert rt.store.dead_letters()[1] == 0
    job = job_of(rt, job_id)
    assert job.state != "dead" and job.erp.get("taken_over") == "yes"


def test_a_dead_letter_is_fenced_with_its_job() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    store: Store = rt.store
    ours = Lease(store, job_id, 45)
    assert ours.acquire()
    job = job_of(rt, job_id)
    letter = DeadLetter(
        id="dl1",
        job_id=job_id,
        connection="shop",
        external_id=job.external_id,
        reference=job.reference,
        step=Step.UPSERT_CUSTOMER,
        kind="permanent",
        reason="permanent_error",
        message="refused",
        attempts=1,
    )
    store.redis.set(ours.key, "someone else")
    with pytest.raises(LeaseLost):
        store.add_dead_letter(letter, job, fence=ours.fence)
    assert store.dead_letters()[1] == 0 and store.due_at(job_id) is not None
    store.redis.set(ours.key, ours.token)
    store.add_dead_letter(letter, job, fence=ours.fence)
    assert store.dead_letters()[1] == 1 and store.due_at(job_id) is None


def test_locks_taken_under_a_lease_live_and_die_with_it() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    store = rt.store
    ours = Lease(store, job_id, 45)
    assert ours.acquire()
    (customer_lock,) = store.lock_keys(("shop", "customer"), ["c-42"])
    with ours.locked(("shop", "customer"), ["c-42"]):
        assert store.redis.get(customer_lock) == ours.token
        store.redis.pexpire(customer_lock, 50)
        ours.beat(force=True)
        assert store.redis.pttl(customer_lock) > 20_000  # renewed with the lease
        store.redis.set(customer_lock, "someone else")  # it expired and was taken meanwhile
        with pytest.raises(LeaseLost):
            ours.beat(force=True)
    assert store.redis.get(customer_lock) == "someone else"  # not ours to release


def test_waiting_for_a_lock_keeps_the_lease_and_a_lost_lease_stops_the_wait() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    store = rt.store
    ours = Lease(store, job_id, SHORT_STALE)
    assert ours.acquire()
    (product_lock,) = store.lock_keys(("shop", "product"), ["A"])
    store.redis.set(product_lock, "another job")
    with pytest.raises(redis.exceptions.LockError), ours.locked(("shop", "product"), ["A"], 0.5):
        pass
    assert store.redis.get(ours.key) == ours.token  # still ours after waiting past its length
    take_over(rt, job_id)
    with pytest.raises(LeaseLost), ours.locked(("shop", "product"), ["A"], 5):
        pass
