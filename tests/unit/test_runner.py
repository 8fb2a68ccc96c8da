"""The step runner's outcomes, in-process: fakeredis for the store, a fake connector, and a list
for what would be enqueued. No worker processes, no Celery, no HTTP."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from connectors.errors import PermanentError, RateLimited, StaleReference, TransientError
from core.runtime import Runtime
from schemas.job import CustomerResult, Step, utcnow
from tasks import deadletters, lifecycle
from tasks.lease import Lease
from tasks.runner import Outcome, run_step, run_step_for_task
from tasks.sweeper import sweep_once
from tests.support.fakes import STALE, Enqueued, accept, job_of, make_runtime


def due_in(rt: Runtime, job_id: str) -> float | None:
    at = rt.store.due_at(job_id)
    return None if at is None else at - time.time()


def test_advanced_records_the_step_and_enqueues_the_next() -> None:
    rt, connector, enqueued = make_runtime(inline=False)
    job_id = accept(rt)
    enqueued.clear()
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.ADVANCED
    job = job_of(rt, job_id)
    assert job.step(Step.UPSERT_CUSTOMER).read(CustomerResult).customer_id == "C1"
    assert job.current_step is Step.UPSERT_PRODUCTS
    assert enqueued == [("upsert_products", job_id)]
    assert 0 < (due_in(rt, job_id) or 0) <= STALE  # a lost message costs `stale_after`


def test_inline_steps_finish_the_job_in_one_delivery() -> None:
    rt, connector, enqueued = make_runtime(inline=True)
    job_id = accept(rt)
    enqueued.clear()
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED
    job = job_of(rt, job_id)
    assert job.state == "done" and job.erp["order_id"] == "SO-1"
    assert connector.calls == ["upsert_customer", "upsert_products", "find_order", "create_order"]
    assert enqueued == [] and rt.store.due_at(job_id) is None
    counters = rt.store.counters()  # each step's save (some written with the next step's)
    assert [
        counters.get(f"step_done:{s}")
        for s in ("upsert_customer", "upsert_products", "check_duplicate", "create_draft")
    ] == [1, 1, 1, 1]


def test_a_step_failing_inline_keeps_the_steps_before_it_done() -> None:
    rt, connector, enqueued = make_runtime(inline=True)
    job_id = accept(rt)
    connector.fail["find_order"] = [TransientError("down")]
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.RETRY
    job = job_of(rt, job_id)
    assert [
        job.step(s).state
        for s in (Step.UPSERT_CUSTOMER, Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE)
    ] == ["done", "done", "waiting"]
    assert job.step(Step.CHECK_DUPLICATE).attempts == 1
    counters = rt.store.counters()
    assert counters.get("step_done:upsert_products") == 1 and counters.get("retries") == 1


def test_busy_brings_the_wake_up_forward_and_does_nothing() -> None:
    rt, connector, enqueued = make_runtime()
    job_id = accept(rt)
    rt.store.set_due(job_id, time.time() + 3600)
    holder = Lease(rt.store, job_id, STALE)
    assert holder.acquire()
    rt.store.set_due(job_id, time.time() + 3600)  # as if the holder had parked it far
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.BUSY
    assert connector.calls == []
    assert (due_in(rt, job_id) or 0) <= STALE


def test_final_job_comes_off_the_schedule() -> None:
    rt, connector, _ = make_runtime()
    job_id = accept(rt)
    run_step(rt, job_id, Step.UPSERT_CUSTOMER)
    rt.store.set_due(job_id, time.time())
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.FINAL
    assert rt.store.due_at(job_id) is None
    assert connector.calls.count("create_order") == 1


def test_not_current_enqueues_the_current_step() -> None:
    rt, connector, enqueued = make_runtime(inline=False)
    job_id = accept(rt)
    run_step(rt, job_id, Step.UPSERT_CUSTOMER)
    enqueued.clear()
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.NOT_CURRENT
    assert enqueued == [("upsert_products", job_id)]
    assert connector.calls == ["upsert_customer"]


def test_retry_then_early_duplicate_keeps_the_retry_time() -> None:
    rt, connector, _ = make_runtime()
    connector.fail["upsert_customer"] = [TransientError("ERP answered 503")]
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.RETRY
    record = job_of(rt, job_id).step(Step.UPSERT_CUSTOMER)
    assert record.state == "waiting" and record.attempts == 1
    assert record.next_attempt_at is not None
    # A retry far enough out that a duplicate delivery comes early:
    job = job_of(rt, job_id)
    job.step(Step.UPSERT_CUSTOMER).next_attempt_at = utcnow() + timedelta(seconds=30)
    rt.store.save_job(job, due_at=time.time())
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.EARLY
    assert 28 < (due_in(rt, job_id) or 0) <= 30
    assert connector.calls == ["upsert_customer"]


def test_permanent_error_dead_letters_at_once_and_replay_resumes_there() -> None:
    rt, connector, enqueued = make_runtime()
    connector.fail["create_order"] = [PermanentError("VAT code 10 unknown", erp_status=400)]
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.DEAD
    job = job_of(rt, job_id)
    assert job.state == "dead" and rt.store.due_at(job_id) is None
    letters, total = rt.store.dead_letters()
    assert total == 1 and letters[0].step is Step.CREATE_DRAFT
    assert letters[0].erp_status == 400 and letters[0].reason == "permanent_error"
    # Replay: back to queued at create_draft, finished steps not repeated
    enqueued.clear()
    deadletters.replay(rt, letters[0].id)
    assert job_of(rt, job_id).state == "queued" and enqueued == []  # it waits for admission
    rt.dispatch()
    assert enqueued == [("create_draft", job_id)]
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.FINISHED
    assert connector.calls.count("upsert_customer") == 1
    assert connector.calls.count("create_order") == 2


def test_rate_limited_waits_without_counting_an_attempt() -> None:
    rt, connector, _ = make_runtime()
    connector.fail["upsert_customer"] = [RateLimited("budget used up", retry_after=30)]
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.WAITING
    record = job_of(rt, job_id).step(Step.UPSERT_CUSTOMER)
    assert record.attempts == 0 and record.state == "waiting"
    assert 28 < (due_in(rt, job_id) or 0) <= 30
    assert rt.store.dead_letters()[1] == 0


def test_stale_reference_refreshes_once_then_dead_letters() -> None:
    rt, connector, enqueued = make_runtime(inline=False)
    job_id = accept(rt)
    for step in (Step.UPSERT_CUSTOMER, Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE):
        run_step(rt, job_id, step)
    assert rt.store.cache_get("shop", "customer", "id:c-42") is not None
    connector.fail["create_order"] = [
        StaleReference("customer", "Customer 7 not found", erp_status=404)
    ] * 2
    enqueued.clear()
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.REFRESH
    assert enqueued == [("upsert_customer", job_id)]
    assert job_of(rt, job_id).current_step is Step.UPSERT_CUSTOMER
    assert rt.store.cache_get("shop", "customer", "id:c-42") is None
    for step in (Step.UPSERT_CUSTOMER, Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE):
        run_step(rt, job_id, step)
    assert connector.calls.count("upsert_customer") == 2
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.DEAD


def test_missing_job() -> None:
    rt, _, _ = make_runtime()
    assert run_step(rt, "no-such-job", Step.UPSERT_CUSTOMER) is Outcome.MISSING


def test_a_paid_event_holding_the_lease_never_postpones_the_step() -> None:
    # Given a new job whose first step arrives while the paid event holds the lease
    rt, connector, enqueued = make_runtime(queued_stale_after_seconds=600)
    job_id = accept(rt, send_invoice=False)
    enqueued.clear()
    event = Lease(rt.store, job_id, STALE)
    assert event.acquire()
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.BUSY
    event.release()
    # When the paid event runs
    assert lifecycle.order_paid(rt, job_id) == "invoicing"
    # Then the job's step is admitted again at once and its wake-up stays near
    assert rt.admission.is_waiting("shop", job_id)
    rt.dispatch()
    assert enqueued == [("upsert_customer", job_id)]
    assert (due_in(rt, job_id) or 0) <= STALE
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED
    assert connector.calls.count("send_invoice") == 1


def test_events_and_replay_share_the_one_lease() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt)
    step_lease = Lease(rt.store, job_id, STALE)
    assert step_lease.acquire()
    with pytest.raises(lifecycle.Busy):
        lifecycle.order_paid(rt, job_id)
    with pytest.raises(lifecycle.Busy):
        lifecycle.order_cancelled(rt, job_id)
    assert deadletters.Busy is lifecycle.Busy


def sent_runtime() -> tuple[Runtime, Enqueued]:
    rt, _, enqueued = make_runtime()
    record = enqueued

    def send(name: str, job_id: str) -> None:  # as Runtime._send does, without a broker
        rt.store.mark_sent(job_id, time.time())
        record(name, job_id)

    rt.enqueue = send
    return rt, enqueued


def test_sweeper_leaves_a_job_whose_message_is_not_taken_yet() -> None:
    rt, enqueued = sent_runtime()
    job_id = accept(rt)
    rt.store.set_due(job_id, time.time() - 1)  # due (an event brought it forward), still queued
    assert sweep_once(rt) == 0
    assert enqueued == [("upsert_customer", job_id)]  # only the first send
    assert 0 < (due_in(rt, job_id) or 0) <= STALE


def test_sweeper_resends_a_job_whose_message_was_taken_and_never_leased() -> None:
    rt, enqueued = sent_runtime()
    job_id = accept(rt)
    rt.store.message_taken(job_id)  # a worker took it and died before leasing the job
    rt.store.set_due(job_id, time.time() - 1)
    assert sweep_once(rt) == 1
    assert rt.admission.is_waiting("shop", job_id)  # back in line, sent when admitted
    rt.dispatch()
    assert enqueued == [("upsert_customer", job_id)] * 2


def test_sweeper_resends_a_message_not_taken_within_stale_after() -> None:
    rt, enqueued = sent_runtime()
    job_id = accept(rt)
    rt.store.mark_sent(job_id, time.time() - STALE - 1)  # lost, or on a worker that died
    rt.store.set_due(job_id, time.time() - 1)
    assert sweep_once(rt) == 1


def test_the_step_task_takes_its_message_off_the_record_first() -> None:
    rt, enqueued = sent_runtime()
    job_id = accept(rt)
    assert rt.store.sent_at([job_id])
    run_step_for_task(rt, job_id, Step.UPSERT_CUSTOMER)
    assert rt.store.sent_at([job_id]) == {}


def test_sweeper_drops_finished_jobs_from_the_schedule() -> None:
    rt, _, enqueued = make_runtime()
    job_id = accept(rt)
    run_step(rt, job_id, Step.UPSERT_CUSTOMER)
    rt.store.set_due(job_id, time.time() - 1)
    enqueued.clear()
    assert sweep_once(rt) == 0 and enqueued == []
    assert rt.store.due_at(job_id) is None
