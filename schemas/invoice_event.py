"""What orderbridge tells a shop after the order: an invoice was made, paid in part or in full,
or a credit note was made. The JSON here is the body of the outbound webhook, as stored in the
connection's event stream; `id` is stable (the same state change always has the same id), so a
subscriber can drop a repeat and we can deduplicate overlapping polls.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from schemas.job import utcnow


class EventType(StrEnum):
    INVOICE_CREATED = "invoice.created"
    INVOICE_PARTIALLY_PAID = "invoice.partially_paid"
    INVOICE_PAID = "invoice.paid"
    CREDIT_NOTE_CREATED = "credit_note.created"


class InvoiceEvent(BaseModel):
    id: str
    type: EventType
    connection: str
    job_id: str
    reference: str  # our reference for the order (from the connection's template)
    external_id: str  # the shop's order id
    order_number: str | None = None
    invoice_id: str
    invoice_number: str
    total: Decimal
    balance: Decimal
    currency: str
    credited_invoice: str | None = None
    occurred_at: datetime = Field(default_factory=utcnow)


class InvoiceView(BaseModel):
    """The latest state we know of one invoice or credit note (operator view)."""

    invoice_id: str
    invoice_number: str
    kind: str
    state: str  # open | partially_paid | paid | credit_note
    job_id: str
    reference: str
    external_id: str
    total: Decimal
    balance: Decimal
    currency: str
    changed_at: datetime | None = None
    seen_at: datetime = Field(default_factory=utcnow)


def event_id(connection: str, invoice_id: str, kind: EventType, balance: Decimal | None) -> str:
    """One id per state change: the balance tells two partial payments apart."""
    parts = [connection, invoice_id, str(kind), "" if balance is None else f"{balance:.2f}"]
    return "ev_" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
