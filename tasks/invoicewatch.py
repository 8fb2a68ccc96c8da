"""The invoice watch: ask each ERP what happened to our invoices, and record each change once.

Every worker runs it (`AfterOrderThread`); a per-connection claim with the poll interval as its
lifetime makes one worker poll each connection per interval, and a lock makes sure two polls of
one connection never overlap (a worker that dies mid-poll loses the lock when it expires).

Exactly once, however polls overlap or die: a snapshot of an invoice is turned into the events it
implies (`invoice.created`, then `invoice.partially_paid` at this balance, or `invoice.paid`;
`credit_note.created`), each with an id derived from the change itself, and the store appends an
event only the first time its id is seen. The connector's cursor is stored only after the events
of its page are, so a poll cut short is simply read again. Invoices whose job we cannot name yet
(the ERP made the invoice a moment before our step recorded its order id) are kept and matched
again on later polls rather than dropped.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal

import redis

from connectors.base import InvoiceSnapshot
from core.logging import get_logger
from core.runtime import Runtime
from core.settings import EventsSettings
from core.store import INVOICE_POLL_CLAIMS
from schemas.invoice_event import EventType, InvoiceEvent, InvoiceView, event_id
from schemas.job import Job

log = get_logger("orderbridge.invoices")
MAX_PAGES_PER_POLL = 50
UNMATCHED_KEEP_SECONDS = 3_600
VIEWS_KEPT = 20_000  # invoices the operator view remembers per connection


def watch_due(rt: Runtime) -> int:
    """Poll every watched connection whose interval has passed; returns events recorded."""
    recorded = 0
    for name, conn in rt.settings.connections.items():
        if conn.events is None:
            continue
        if not rt.store.claim_interval(INVOICE_POLL_CLAIMS, name, conn.events.poll_seconds):
            continue
        try:
            # an expired lock is left alone on release; the poll's writes are idempotent
            with rt.store.locked(
                "invoice-poll", name, timeout=rt.settings.worker.stale_after_seconds, wait=0
            ):
                try:
                    recorded += poll(rt, name)
                except Exception as exc:  # the ERP is down: asked again next interval
                    log.warning("invoices.poll_failed", connection=name, error=str(exc))
        except redis.exceptions.LockError:
            continue  # another worker's poll of this connection is still running
    return recorded


def poll(rt: Runtime, connection: str) -> int:
    """One poll of one connection: pages until the ERP has no more; returns events recorded."""
    store = rt.store
    events = rt.settings.connection(connection).events or EventsSettings()
    connector = rt.connector(connection)
    recorded = _retry_unmatched(rt, connection, events)
    cursor = store.invoice_cursor(connection)
    for _ in range(MAX_PAGES_PER_POLL):
        page = connector.invoices_since(cursor)
        for snapshot in page.invoices:
            recorded += record(rt, connection, snapshot, events)
        store.set_invoice_cursor(connection, page.cursor)
        cursor = page.cursor
        if not page.more:
            break
    store.count("invoice_polls")
    store.trim_invoice_views(connection, VIEWS_KEPT)
    if recorded:
        log.info("invoices.recorded", connection=connection, events=recorded)
    return recorded


def record(rt: Runtime, connection: str, snapshot: InvoiceSnapshot, events: EventsSettings) -> int:
    """Record what `snapshot` says has happened; returns how many events were new."""
    store = rt.store
    job_id = store.job_for_document(connection, snapshot.reference, snapshot.order_id)
    job = store.load_job(job_id) if job_id else None
    if job is None:
        store.hold_unmatched(connection, snapshot.id, _dump(snapshot), UNMATCHED_KEEP_SECONDS)
        return 0
    store.drop_unmatched(connection, snapshot.id)
    known = store.invoice_view(connection, snapshot.id)
    if known and _older(snapshot.changed_at, known.get("changed_at")):
        return 0  # a stale read (an ERP replica behind another): what we know is newer
    view = _view(snapshot, job).model_dump_json()
    keep = events.keep_days * 86_400
    new = 0
    # every snapshot implies at least `created`, and each call also refreshes the latest view
    for kind in implied_events(snapshot):
        event = _event(connection, kind, snapshot, job)
        if store.record_invoice_event(
            connection, event.id, event.model_dump_json(), job.job_id, snapshot.id, view, keep
        ):
            new += 1
            log.info(
                "invoices.event",
                connection=connection,
                type=str(kind),
                invoice_number=snapshot.number,
                job_id=job.job_id,
            )
    return new


def implied_events(snapshot: InvoiceSnapshot) -> list[EventType]:
    """The state changes a snapshot shows, oldest first (each recorded once, by its id)."""
    if snapshot.kind == "credit_note":
        return [EventType.CREDIT_NOTE_CREATED]
    found = [EventType.INVOICE_CREATED]
    if snapshot.total > 0 and snapshot.balance <= 0:
        found.append(EventType.INVOICE_PAID)
    elif 0 < snapshot.balance < snapshot.total:
        found.append(EventType.INVOICE_PARTIALLY_PAID)
    return found


def state_of(snapshot: InvoiceSnapshot) -> str:
    if snapshot.kind == "credit_note":
        return "credit_note"
    if snapshot.total > 0 and snapshot.balance <= 0:
        return "paid"
    return "partially_paid" if 0 < snapshot.balance < snapshot.total else "open"


def _event(connection: str, kind: EventType, snapshot: InvoiceSnapshot, job: Job) -> InvoiceEvent:
    balance = snapshot.balance if kind is EventType.INVOICE_PARTIALLY_PAID else None
    return InvoiceEvent(
        id=event_id(connection, snapshot.id, kind, balance),
        type=kind,
        connection=connection,
        job_id=job.job_id,
        reference=job.reference,
        external_id=job.external_id,
        order_number=job.order.number if job.order else None,
        invoice_id=snapshot.id,
        invoice_number=snapshot.number,
        total=snapshot.total,
        balance=snapshot.balance,
        currency=snapshot.currency,
        credited_invoice=snapshot.credited_invoice,
    )


def _view(snapshot: InvoiceSnapshot, job: Job) -> InvoiceView:
    return InvoiceView(
        invoice_id=snapshot.id,
        invoice_number=snapshot.number,
        kind=snapshot.kind,
        state=state_of(snapshot),
        job_id=job.job_id,
        reference=job.reference,
        external_id=job.external_id,
        total=snapshot.total,
        balance=snapshot.balance,
        currency=snapshot.currency,
        changed_at=snapshot.changed_at,
    )


def _older(changed_at: datetime | None, known: str | None) -> bool:
    if changed_at is None or not known:
        return False
    return changed_at < datetime.fromisoformat(known)


def _dump(snapshot: InvoiceSnapshot) -> str:
    return json.dumps(asdict(snapshot), default=str)


def _load(raw: str) -> InvoiceSnapshot:
    data = json.loads(raw)
    data["total"], data["balance"] = Decimal(data["total"]), Decimal(data["balance"])
    if data.get("changed_at"):
        data["changed_at"] = datetime.fromisoformat(data["changed_at"])
    return InvoiceSnapshot(**data)


def _retry_unmatched(rt: Runtime, connection: str, events: EventsSettings) -> int:
    return sum(
        record(rt, connection, _load(raw), events)
        for raw in rt.store.unmatched(connection).values()
    )
