"""Refunds as credit notes: a credit job (an order with `credit_for`) follows its original.

The credit note goes to the customer the original was invoiced to and refers to the original's
ERP document, so the credit job reads both from the original job. Until the original has
reached the ERP the credit job waits (it is not a failure: the shop may send the refund before
its order has been transferred, or while the original waits for a replay); a refund larger
than what was invoiced can never be right and is a permanent error naming both amounts.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.base import CreditSource
from connectors.errors import NotYet, PermanentError
from core.store import Store
from schemas.job import CustomerResult, Job, Step
from schemas.order import Order

WAIT_SECONDS = 10.0


def original_job(store: Store, connection: str, credit: Order) -> Job:
    """The original order's job once its ERP order exists; raises NotYet or PermanentError."""
    original_id = credit.credit_for or ""
    job_id = store.job_id_for(connection, original_id)
    original = store.load_job(job_id) if job_id else None
    if original is None:
        raise NotYet(
            f"waiting for the original order {original_id} to reach us", retry_after=WAIT_SECONDS
        )
    if original.state == "cancelled":
        raise PermanentError(
            f"the original order {original_id} was cancelled before it "
            f"reached the ERP: there is nothing to credit"
        )
    if original.state not in ("done", "duplicate") or not original.erp.get("order_id"):
        raise NotYet(
            f"waiting for the original order {original_id} to reach the ERP "
            f"(its job is {original.state})",
            retry_after=WAIT_SECONDS,
        )
    _check_amount(credit, original)
    return original


def _check_amount(credit: Order, original: Job) -> None:
    if original.order is None:  # purged after the retention: the ERP will judge
        return
    credited = credit.total if credit.total is not None else credit.computed_total
    invoiced = (
        original.order.total if original.order.total is not None else original.order.computed_total
    )
    if credited > invoiced + Decimal("0.005"):
        raise PermanentError(
            f"the refund ({credited:.2f} {credit.currency}) is larger than what was invoiced "
            f"for order {original.external_id} ({invoiced:.2f} {original.order.currency})"
        )


def customer_of(original: Job) -> CustomerResult:
    result = original.step(Step.UPSERT_CUSTOMER).read(CustomerResult)
    if not result.customer_id:
        raise PermanentError(
            f"the original order {original.external_id} has no ERP customer recorded"
        )
    return result


def source_of(original: Job) -> CreditSource:
    """The original as a credit note refers to it. Its total includes VAT whatever the shop's
    price mode (a credit note is compared line by line with VAT, as an ERP books it), and is
    None when the order was purged after the retention: then the ERP judges, as in
    `_check_amount`."""
    order = original.order
    return CreditSource(
        order_id=str(original.erp["order_id"]),
        order_number=original.erp.get("order_number"),
        invoice_number=original.erp.get("invoice_number"),
        total=order.gross_total if order is not None else None,
        currency=order.currency if order else "",
    )
