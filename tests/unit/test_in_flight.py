"""A `sending` mark whose request may still be under way is waited out, not looked up: another
delivery's POST in flight (a worker cut off, a lease lost in a failover) would not be found yet,
and posting again would make the order twice. An attempt that ended with the ERP's answer left
nothing in flight, and its successor looks up at once."""

from __future__ import annotations

from connectors.errors import AmbiguousError
from schemas.job import DraftResult, InvoiceResult, Step
from tasks.runner import Outcome, run_step
from tests.support.fakes import (
    SETTLE,
    FakeConnector,
    accept,
    age_marks,
    job_of,
    make_runtime,
    retry_due_now,
)

BEFORE_THE_DRAFT = (Step.UPSERT_CUSTOMER, Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE)


def committed_then(error: Exception, connector: FakeConnector) -> None:
    """`create_order` commits in the ERP, then its caller gets `error` instead of the answer."""
    create = connector.create_order

    def create_then_fail(*args: object, **kwargs: object) -> object:
        create(*args, **kwargs)  # type: ignore[arg-type]
        raise error

    connector.create_order = create_then_fail  # type: ignore[method-assign]


def test_a_fresh_mark_with_no_ending_waits_then_finds_the_order() -> None:
    rt, connector, _ = make_runtime(inline=False)
    job_id = accept(rt)
    for step in BEFORE_THE_DRAFT:
        run_step(rt, job_id, step)
    committed_then(AmbiguousError("read timeout"), connector)  # no answer: may be under way
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.RETRY
    connector.calls.clear()
    retry_due_now(rt, job_id)
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.WAITING
    assert connector.calls == []  # neither looked up nor posted while it may be in flight
    record = job_of(rt, job_id).step(Step.CREATE_DRAFT)
    assert record.attempts == 1 and record.last_error is not None
    assert "may still be in flight" in record.last_error.message
    assert 1 <= (rt.store.due_at(job_id) or 0) - record.last_error.at.timestamp() <= SETTLE
    age_marks(rt, job_id, SETTLE)
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.FINISHED
    assert connector.calls == ["find_order"] and len(connector.orders) == 1
    assert job_of(rt, job_id).step(Step.CREATE_DRAFT).read(DraftResult).recovered


def test_an_attempt_the_erp_answered_is_looked_up_at_once() -> None:
    rt, connector, _ = make_runtime(inline=False)
    job_id = accept(rt)
    for step in BEFORE_THE_DRAFT:
        run_step(rt, job_id, step)
    committed_then(AmbiguousError("500 after the write", erp_status=500), connector)
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.RETRY
    connector.calls.clear()
    retry_due_now(rt, job_id)
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.FINISHED
    assert connector.calls == ["find_order"] and len(connector.orders) == 1


def test_a_fresh_invoice_request_is_waited_out_before_its_state_is_asked() -> None:
    rt, connector, _ = make_runtime(inline=True)
    job_id = accept(rt, send_invoice=True)
    connector.fail["send_invoice"] = [AmbiguousError("connection dropped")]
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.RETRY
    assert job_of(rt, job_id).step(Step.SEND_INVOICE).read(InvoiceResult).requested_at
    connector.calls.clear()
    retry_due_now(rt, job_id)
    assert run_step(rt, job_id, Step.SEND_INVOICE) is Outcome.WAITING
    assert connector.calls == []
    age_marks(rt, job_id, SETTLE)
    assert run_step(rt, job_id, Step.SEND_INVOICE) is Outcome.FINISHED
    assert connector.calls == []  # the ERP says it was sent: not requested a second time
    assert job_of(rt, job_id).erp["invoice_number"] == "F-1"
