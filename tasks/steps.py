"""The five pipeline steps as plain functions: what each does, and what makes it idempotent.

A step gets a `StepContext` (the job, its ledger record, the connector, the store) and returns a
`StepDone` (its result model, the ERP ids learnt, and maybe a final state); it raises to fail.
It never decides about retries or dead letters (that is
`tasks.retries`) and never enqueues anything (that is `tasks.runner`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector, OrderRef, ProductSpec, customer_key, fingerprint
from connectors.errors import NotYet, PermanentError, TransientError
from core.store import Store
from schemas.job import (
    CustomerResult,
    DraftResult,
    DuplicateResult,
    InvoiceResult,
    Job,
    JobState,
    ProductsResult,
    Step,
    StepRecord,
    StepResult,
    utcnow,
)
from schemas.order import Order
from tasks import credits


@dataclass
class StepContext:
    job: Job
    record: StepRecord
    connector: Connector
    store: Store
    save: Callable[[], None]
    beat: Callable[[], None]
    # Locks (scope, names) held as part of the job's lease (`tasks.lease.Lease.locked`).
    lock: Callable[[tuple[str, ...], list[str]], AbstractContextManager[None]]
    send_poll_seconds: float = 5.0
    retention_seconds: float = 30 * 86_400
    sending_settle_seconds: float = 25.0

    @property
    def order(self) -> Order:
        if self.job.order is None:
            raise PermanentError("the order data of this job has been purged (retention)")
        return self.job.order

    @property
    def connection(self) -> str:
        return self.job.connection


@dataclass
class StepDone:
    result: StepResult
    erp: dict[str, str | None] = field(default_factory=dict)
    end: JobState | None = None  # a final job state that stops the pipeline here (duplicate)
    message: str | None = None


def upsert_customer(ctx: StepContext) -> StepDone:
    """Find or create the customer; a per (connection, customer key) lock stops twins.
    A credit note goes to the original's customer (and waits for the original first)."""
    if ctx.order.credit_for:
        original = credits.original_job(ctx.store, ctx.connection, ctx.order)
        result = credits.customer_of(original)
        return StepDone(
            result, erp={"customer_id": result.customer_id, "credit_for_job": original.job_id}
        )
    customer = ctx.order.customer
    key = customer_key(customer)
    wanted = fingerprint(customer.model_dump_json())
    cached = ctx.store.cache_get(ctx.connection, "customer", key)
    if not (cached and cached.get("fp") == wanted):
        with ctx.lock((ctx.connection, "customer"), [key]):
            cached = ctx.store.cache_get(ctx.connection, "customer", key)
            if not (cached and cached.get("fp") == wanted):
                erp_id = ctx.connector.upsert_customer(customer, key)
                cached = {"id": erp_id, "fp": wanted}
                ctx.store.cache_put(ctx.connection, "customer", key, cached)
    return StepDone(
        CustomerResult(customer_id=cached["id"], customer_key=key),
        erp={"customer_id": cached["id"]},
    )


def upsert_products(ctx: StepContext) -> StepDone:
    """Make sure every article exists; the order's missing SKUs are locked together (all or
    none, per (connection, SKU)), so two orders sharing an article never both create it."""
    specs = ctx.connector.products_for(ctx.order)
    known = _known_products(ctx, specs)
    missing = [s for s in specs if s.sku not in known]
    if missing:
        with ctx.lock((ctx.connection, "product"), [s.sku for s in missing]):
            known.update(_known_products(ctx, missing))
            still_missing = [s for s in missing if s.sku not in known]
            if still_missing:
                ids = ctx.connector.upsert_products(still_missing)
                ctx.store.cache_put_many(
                    ctx.connection,
                    "product",
                    {
                        spec.sku: {"id": ids[spec.sku], "fp": spec.fingerprint}
                        for spec in still_missing
                    },
                )
                known.update({spec.sku: ids[spec.sku] for spec in still_missing})
    return StepDone(
        ProductsResult(
            products={s.sku: known[s.sku] for s in specs}, created_or_checked=len(missing)
        )
    )


def _known_products(ctx: StepContext, specs: list[ProductSpec]) -> dict[str, str]:
    cached = ctx.store.cache_get_many(ctx.connection, "product", [s.sku for s in specs])
    return {
        s.sku: cached[s.sku]["id"]
        for s in specs
        if s.sku in cached and cached[s.sku].get("fp") == s.fingerprint
    }


def check_duplicate(ctx: StepContext) -> StepDone:
    """Read-only: an order with our reference already in the ERP ends the job as `duplicate`."""
    found = ctx.connector.find_order(ctx.job.reference, since=None)
    if found is None:
        return StepDone(DuplicateResult(found=False))
    return StepDone(
        DuplicateResult(found=True, order_id=found.id),
        erp={"order_id": found.id, "order_number": found.number},
        end="duplicate",
        message=f"already in the ERP as {found.number or found.id}",
    )


def create_draft(ctx: StepContext) -> StepDone:
    """Create the sales order. `sending` is recorded before the POST, so that after an ambiguous
    failure (or a killed worker) the next attempt looks the order up before posting again."""
    record = ctx.record
    sent_before = record.read(DraftResult).sending_at
    if sent_before:
        wait_while_in_flight(ctx, sent_before, "the order's POST")
        found = ctx.connector.find_order(ctx.job.reference, since=sent_before)
        if found is not None:
            return _created(found, recovered=True)
    record.state = "sending"
    record.record(DraftResult(sending_at=utcnow()))
    ctx.save()
    customer_id = ctx.job.step(Step.UPSERT_CUSTOMER).read(CustomerResult).customer_id
    if not customer_id:
        raise PermanentError("no ERP customer id recorded by upsert_customer")
    product_ids = ctx.job.step(Step.UPSERT_PRODUCTS).read(ProductsResult).products
    # The job decides whether to invoice (the order's wish, else the connection's default):
    # ERPs that invoice on create (Duett's direct invoicing) read it from the order.
    order = ctx.order.model_copy(update={"send_invoice": ctx.job.send_invoice})
    if order.credit_for:
        original = credits.original_job(ctx.store, ctx.connection, order)
        ref = ctx.connector.create_credit_note(
            order, ctx.job.reference, customer_id, product_ids, credits.source_of(original)
        )
    else:
        ref = ctx.connector.create_order(order, ctx.job.reference, customer_id, product_ids)
    if ref.document:
        ctx.store.put_document(ctx.job.job_id, ref.document, ctx.retention_seconds)
    if ref.existed and not sent_before:
        return StepDone(
            DraftResult(order_id=ref.id, existed=True),
            erp=_ids(ref),
            end="duplicate",
            message=f"already in the ERP as {ref.number or ref.id}",
        )
    return _created(ref, recovered=ref.existed)


def wait_while_in_flight(ctx: StepContext, marked_at: datetime, what: str) -> None:
    """`NotYet` while a write begun under the mark made at `marked_at` may still be under way.

    A mark with no ending recorded after it (the worker was killed or cut off, lost its lease
    in a failover, or its request timed out) may belong to a request the ERP is still working
    on: looked up now, the order would not be found yet and would be posted a second time. So
    the step waits (no attempt counted) until the mark is `sending_settle_seconds` old, longer
    than any request can take; an attempt that ended with the ERP's answer (any HTTP status)
    left nothing in flight, and the look-up runs at once."""
    error = ctx.record.last_error
    if error is not None and error.at >= marked_at and error.erp_status is not None:
        return
    remaining = (marked_at - utcnow()).total_seconds() + ctx.sending_settle_seconds
    if remaining > 0:
        raise NotYet(
            f"{what} made at {marked_at.isoformat()} may still be in flight: the ERP is asked "
            f"after {ctx.sending_settle_seconds:g} s",
            retry_after=remaining,
        )


def _created(ref: OrderRef, recovered: bool) -> StepDone:
    return StepDone(
        DraftResult(order_id=ref.id, order_number=ref.number, recovered=recovered), erp=_ids(ref)
    )


def _ids(ref: OrderRef) -> dict[str, str | None]:
    return {"order_id": ref.id, "order_number": ref.number, "invoice_number": ref.invoice_number}


def send_invoice(ctx: StepContext) -> StepDone:
    """Invoice the draft. The request is recorded before it is made; a later attempt asks the
    ERP's send state first and never requests a second send of the same draft."""
    order_id = ctx.job.erp.get("order_id")
    if not order_id:
        raise PermanentError("no sales order to invoice (create_draft has no ERP id)")
    if ctx.job.erp.get("invoice_number"):  # the ERP invoiced it on create (Duett's direct
        # invoicing, Exact's sales entries and credit entries): nothing is left to send
        return StepDone(InvoiceResult(invoice_number=ctx.job.erp["invoice_number"]))
    record = ctx.record
    requested = record.read(InvoiceResult).requested_at
    if requested:
        wait_while_in_flight(ctx, requested, "the request to send the invoice")
    state = ctx.connector.invoice_state(order_id) if requested else None
    if state is None or state.state == "not_requested":
        record.record(InvoiceResult(requested_at=utcnow()))
        ctx.save()
        ctx.connector.send_invoice(order_id, ctx.order.customer.email)
    deadline = time.monotonic() + ctx.send_poll_seconds
    while True:
        state = ctx.connector.invoice_state(order_id)
        if state.state == "sent":
            return StepDone(
                InvoiceResult(invoice_number=state.invoice_number),
                erp={"invoice_number": state.invoice_number},
            )
        if state.state == "failed":
            raise PermanentError(f"the ERP could not send the invoice: {state.message}")
        if time.monotonic() >= deadline:
            raise TransientError("the invoice is still being processed by the ERP", retry_after=5.0)
        ctx.beat()
        time.sleep(0.25)


STEP_FUNCTIONS: dict[Step, Callable[[StepContext], StepDone]] = {
    Step.UPSERT_CUSTOMER: upsert_customer,
    Step.UPSERT_PRODUCTS: upsert_products,
    Step.CHECK_DUPLICATE: check_duplicate,
    Step.CREATE_DRAFT: create_draft,
    Step.SEND_INVOICE: send_invoice,
}
