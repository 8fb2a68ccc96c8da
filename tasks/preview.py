"""A dry run of one order for one connection: the pipeline's ERP calls, in pipeline order, on
a connector whose writes never leave the process (`connectors.rehearsal`).

The steps call the connector as `tasks.steps` does, but nothing is read from or written to the
job ledger or the id caches: a preview asks the ERP itself (read-only), so it shows what the
ERP holds now, not what orderbridge remembers. A refusal is classified as a real run's failure
is (`connectors.errors.classify`), so its message is the one a dead letter would carry. A
failure that a real run would retry (the ERP down, rate limits) is raised as the ErpError it
is: a preview cannot say more than "try again" then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from connectors.base import Connector, customer_key
from connectors.errors import ErpError, PermanentError, classify
from connectors.rehearsal import RehearsalTransport
from connectors.shops.registry import SHOPS
from core.runtime import Runtime
from schemas.job import Step, StepResult
from schemas.order import Order
from schemas.preview import (
    PlannedStep,
    PlannedWrite,
    Preview,
    Refusal,
    StepOutcome,
    Verdict,
)
from tasks.sources import event_from_shop
from tasks.steps import StepContext, StepDone

T = TypeVar("T")


def preview_job(rt: Runtime, ctx: StepContext) -> StepDone:
    """A connection in preview mode runs this instead of its first step: the job's order is
    previewed and the job ends `previewed`, with the report on it and nothing sent. The order
    is remembered as previewed before the job says so, so that going live finds it even if
    the worker dies in between (`tasks.lifecycle.order_go_live`). A failure a real run would
    retry (the ERP unreachable) is raised and retried the same way."""
    job = ctx.job
    if job.order is None:
        raise PermanentError("the order is no longer kept: nothing to preview")
    try:
        report = preview(rt, job.connection, job.order).model_dump(mode="json")
        message = f"previewed: {report['verdict']}"
    except ValueError as exc:  # what a preview does not cover (a refund)
        report = {"verdict": "not_previewed", "reason": str(exc)}
        message = f"not previewed: {exc}"
    ctx.store.mark_previewed(job.connection, job.external_id)
    job.preview = report
    return StepDone(StepResult(), end="previewed", message=message)


class PreviewRefused(Exception):
    """The ERP (its stand-in) refused a step: a real run would dead-letter the order."""

    def __init__(self, step: Step, error: ErpError) -> None:
        super().__init__(error.message)
        self.step, self.error = step, error


def order_to_preview(rt: Runtime, connection: str, payload: Any, source: str | None) -> Order:
    """The canonical order in `payload`, or the order a shop's payload maps to (`source`:
    `shopify` or `woocommerce`, as its webhooks would map it). Raises `ValidationError` or
    `MappingError` naming the field, and `ValueError` for a payload with no order in it."""
    if source is None:
        return Order.model_validate(payload)
    if source not in SHOPS:
        raise ValueError(f"unknown source {source!r}: one of {', '.join(sorted(SHOPS))}")
    conn = rt.settings.connection(connection)
    event = event_from_shop(source, payload, conn.shop.fallback_sku)
    if event.order is None:
        raise ValueError("the shop's payload holds no order to send (a cancellation or a draft)")
    return event.order


def preview(rt: Runtime, connection: str, order: Order) -> Preview:
    """What a real run of `order` would do at `connection`'s ERP, with nothing written there.
    Raises `ErpError` (transient) when the ERP cannot be asked now, and `ValueError` for what a
    preview does not cover (a refund)."""
    if order.credit_for:
        raise ValueError("a refund (`credit_for`) cannot be previewed yet: preview the order")
    connector, transport = rt.rehearsal(connection)
    try:
        return _preview(rt, connection, order, connector, transport)
    finally:
        transport.close()


def _preview(
    rt: Runtime, connection: str, order: Order, connector: Connector, transport: RehearsalTransport
) -> Preview:
    conn = rt.settings.connection(connection)
    reference = conn.reference_for(order.external_id, order.number)
    run = _Run(transport)
    shop = {"lines_total": str(order.gross_total)}
    if order.total is not None:
        shop["total"] = str(order.total)
    report: dict[str, Any] = {
        "connection": connection,
        "erp": conn.erp,
        "reference": reference,
        "dropped": connector.unmapped(order, reference),
        "shop_amounts": shop,
    }
    refused = connector.check_order(order)
    if refused:
        refusals = [
            Refusal(step="intake", kind="invalid", message=message, field=field)
            for field, message in refused
        ]
        return _report(report, run, transport, "would_refuse", refusals)
    # As `tasks.steps.create_draft`: the job's choice to invoice goes with the order (ERPs that
    # invoice on create, such as Duett's direct invoicing, read it there).
    send = conn.send_invoice if order.send_invoice is None else order.send_invoice
    order = order.model_copy(update={"send_invoice": send})
    try:
        verdict = _steps(run, connector, order, reference, send)
    except PreviewRefused as refusal:
        error = refusal.error
        refusals = [
            Refusal(
                step=str(refusal.step),
                kind=error.kind,
                message=error.message,
                erp_status=error.erp_status,
                erp_response=error.erp_response,
            )
        ]
        return _report(report, run, transport, "would_refuse", refusals)
    return _report(report, run, transport, verdict, [])


def _steps(run: _Run, connector: Connector, order: Order, reference: str, send: bool) -> Verdict:
    """The pipeline's ERP calls in its order (`tasks.steps`), each step's writes recorded."""
    key = customer_key(order.customer)
    customer_id = run.step(
        Step.UPSERT_CUSTOMER, lambda: connector.upsert_customer(order.customer, key)
    )
    run.planned[-1].detail["customer_id"] = customer_id
    specs = connector.products_for(order)
    product_ids = run.step(Step.UPSERT_PRODUCTS, lambda: connector.upsert_products(specs))
    run.planned[-1].detail["products"] = product_ids
    found = run.step(Step.CHECK_DUPLICATE, lambda: connector.find_order(reference, None))
    if found is not None:
        run.planned[-1].outcome = "duplicate"
        run.planned[-1].detail.update(order_id=found.id, number=found.number)
        return "duplicate"
    ref = run.step(
        Step.CREATE_DRAFT,
        lambda: connector.create_order(order, reference, customer_id, product_ids),
    )
    run.planned[-1].detail.update(order_id=ref.id, number=ref.number)
    if ref.existed:
        run.planned[-1].outcome = "duplicate"
        return "duplicate"
    if ref.invoice_number:  # invoiced on create: `tasks.steps.send_invoice` has nothing to do
        run.planned[-1].detail["invoice_number"] = ref.invoice_number
    elif send:
        email = order.customer.email
        run.step(Step.SEND_INVOICE, lambda: connector.send_invoice(ref.id, email))
    return "would_send"


class _Run:
    """The steps planned so far, each with the writes it asked for."""

    def __init__(self, transport: RehearsalTransport) -> None:
        self.transport = transport
        self.planned: list[PlannedStep] = []

    def step(self, step: Step, call: Callable[[], T]) -> T:
        try:
            result = call()
        except Exception as exc:  # classified as a real run would
            error = classify(exc)
            self._record(step, "refused")
            if error.kind == "permanent":
                raise PreviewRefused(step, error) from exc
            raise error from exc
        self._record(step, None)
        return result

    def _record(self, step: Step, outcome: StepOutcome | None) -> None:
        writes = [PlannedWrite(**vars(w)) for w in self.transport.take()]
        if outcome is None:
            outcome = _outcome_of(step, bool(writes))
        self.planned.append(PlannedStep(step=str(step), outcome=outcome, writes=writes))


def _outcome_of(step: Step, wrote: bool) -> StepOutcome:
    if step in (Step.CREATE_DRAFT, Step.SEND_INVOICE):
        return "would_send"
    if step is Step.CHECK_DUPLICATE:
        return "new"
    return "would_create" if wrote else "found"


def _report(
    report: dict[str, Any],
    run: _Run,
    transport: RehearsalTransport,
    verdict: Verdict,
    refusals: list[Refusal],
) -> Preview:
    amounts = {k: str(v) for k, v in transport.stand_in.amounts().items()}
    return Preview(
        **report,
        verdict=verdict,
        steps=run.planned,
        refusals=refusals,
        erp_amounts=amounts,
        reads=transport.reads,
    )
