"""What an order event from a source means for its job, decided at the door without ERP work.

Shop webhooks, reconciliation polling and the canonical API all describe an order's life the same
way: created, paid, cancelled, at some `updated_at`. This module turns one such reading into at
most one action, fast:
- a state older than the newest we have seen for that order is ignored (shops deliver late and
  out of order);
- a new order becomes a job (paid first? then it is created with invoicing on);
- paid, for a connection that invoices on payment, asks the job to invoice (a worker does it);
- cancelled stops the job, or has a worker remove the draft from the ERP (`tasks.lifecycle`);
  a cancellation that arrives before the order leaves a tombstone, so the order never goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.order import Order
from workers.queue import enqueue
from workers.settings import Settings
from workers.store import Store
from workers.submit import submit_order

TOMBSTONE_SECONDS = 30 * 86_400


@dataclass(frozen=True)
class OrderEvent:
    order_id: str
    order: Order | None
    updated_at: datetime | None = None
    paid: bool = False
    cancelled: bool = False
    draft: bool = False


@dataclass(frozen=True)
class Decision:
    status: int
    outcome: str  # accepted | exists | ignored | cancelled | invoicing
    job_id: str | None = None
    detail: str | None = None
    job_state: str | None = None  # the new job's state, when one was created

    def body(self) -> dict[str, str | None]:
        return {"job_id": self.job_id, "state": self.outcome, "detail": self.detail}


def apply_event(settings: Settings, store: Store, connection: str, event: OrderEvent) -> Decision:
    if event.draft:
        return Decision(200, "ignored", detail="checkout draft")
    if event.updated_at and not store.claim_version(connection, event.order_id,
                                                    event.updated_at.timestamp()):
        return Decision(200, "ignored", store.job_id_for(connection, event.order_id),
                        "older than the state we already have")
    if event.cancelled:
        return _cancelled(store, connection, event.order_id)
    job_id = store.job_id_for(connection, event.order_id)
    conn = settings.connection(connection)
    invoice_now = event.paid and conn.invoice_on_payment
    if job_id is None:
        if event.order is None:
            return Decision(200, "ignored", detail="no order body to create a job from")
        order = event.order.model_copy(update={"send_invoice": True}) if invoice_now \
            else event.order
        submitted = submit_order(settings, store, connection, order)
        if submitted.created:
            return Decision(202, "accepted", submitted.job_id, job_state=submitted.state)
        job_id = submitted.job_id  # another delivery created it a moment ago
    if invoice_now:
        enqueue("order_paid", job_id)
        return Decision(200, "invoicing", job_id)
    return Decision(200, "exists", job_id)


def _cancelled(store: Store, connection: str, order_id: str) -> Decision:
    job_id = store.job_id_for(connection, order_id)
    if job_id is None:
        store.redis.set(store.key("cancelled", connection, order_id), "1", ex=TOMBSTONE_SECONDS)
        return Decision(200, "cancelled", detail="cancelled before it reached us")
    enqueue("order_cancelled", job_id)
    return Decision(200, "cancelled", job_id)


def event_from_canonical(order: Order) -> OrderEvent:
    return OrderEvent(order.external_id, order, order.updated_at, bool(order.paid),
                      bool(order.cancelled))
