"""Fakes for in-process tests: a fakeredis store, a connector that records its calls, and a
runtime built on both that lists what it would enqueue instead of publishing it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import fakeredis

from connectors.base import (
    Consent,
    CreditSource,
    InvoicePage,
    InvoiceSnapshot,
    InvoiceState,
    OrderRef,
    ProductSpec,
)
from core.runtime import Runtime, beat
from core.settings import WorkerSettings, parse_settings
from core.store import Store
from schemas.dropped import Dropped
from schemas.job import Job, utcnow
from schemas.order import Customer, Order
from tasks.events import submit_order
from tests.support.factories import order as order_json

STALE = 45.0
SETTLE = WorkerSettings().sending_settle_seconds  # a `sending` mark this old is looked up


def fake_store() -> Store:
    """A store on a fresh fakeredis server (decoded responses, as the real one)."""
    return Store(fakeredis.FakeRedis(decode_responses=True))


@dataclass
class FakeConnector:
    """Records calls; `fail` maps a method name to exceptions raised on its next calls. Each
    call first beats the running step's heartbeat, as the real HTTP client does before every
    request (so a lost lease stops the call)."""

    calls: list[str] = field(default_factory=list)
    fail: dict[str, list[Exception]] = field(default_factory=dict)
    orders: dict[str, OrderRef] = field(default_factory=dict)
    invoices: list[InvoiceSnapshot] = field(default_factory=list)
    credits: list[tuple[str, CreditSource]] = field(default_factory=list)
    drops: list[Dropped] = field(default_factory=list)  # what `unmapped` reports (none)

    def _call(self, name: str) -> None:
        beat()
        self.calls.append(name)
        pending = self.fail.get(name)
        if pending:
            raise pending.pop(0)

    def consent(self) -> Consent | None:
        return None

    def check_order(self, order: Order) -> list[tuple[str, str]]:
        return []

    def unmapped(self, order: Order, reference: str) -> list[Dropped]:
        return list(self.drops)

    def upsert_customer(self, customer: Customer, key: str) -> str:
        self._call("upsert_customer")
        return "C1"

    def products_for(self, order: Order) -> list[ProductSpec]:
        return [ProductSpec(line.sku, line.name, line.vat_rate) for line in order.product_lines]

    def upsert_products(self, specs: list[ProductSpec]) -> dict[str, str]:
        self._call("upsert_products")
        return {s.sku: f"P-{s.sku}" for s in specs}

    def find_order(self, reference: str, since: datetime | None) -> OrderRef | None:
        self._call("find_order")
        return self.orders.get(reference)

    def create_order(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None = None,
    ) -> OrderRef:
        self._call("create_order")
        ref = OrderRef(id=f"SO-{len(self.orders) + 1}", number=str(10000 + len(self.orders)))
        self.orders[reference] = ref
        return ref

    def send_invoice(self, order_id: str, email: str | None) -> None:
        self._call("send_invoice")

    def cancel_order(self, order_id: str) -> str:
        self._call("cancel_order")
        return "removed"

    def invoice_state(self, order_id: str) -> InvoiceState:
        return InvoiceState("sent", invoice_number="F-1")

    def invoices_since(self, cursor: Mapping[str, str]) -> InvoicePage:
        """Serves `invoices` from position cursor["at"]; `page_size` at a time."""
        self._call("invoices_since")
        start = int(cursor.get("at", "0"))
        page = self.invoices[start : start + 2]
        end = start + len(page)
        return InvoicePage(page, {"at": str(end)}, more=end < len(self.invoices))

    def create_credit_note(
        self,
        order: Order,
        reference: str,
        customer_id: str,
        product_ids: dict[str, str] | None,
        original: CreditSource,
    ) -> OrderRef:
        self._call("create_credit_note")
        self.credits.append((customer_id, original))
        ref = OrderRef(id=f"CN-{len(self.credits)}", number=str(20000 + len(self.credits)))
        self.orders[reference] = ref
        return ref


class Enqueued(list[tuple[str, str]]):
    def __call__(self, name: str, job_id: str) -> None:
        self.append((str(name), job_id))


def make_runtime(
    inline: bool = True, store: Store | None = None, **worker: Any
) -> tuple[Runtime, FakeConnector, Enqueued]:
    """A runtime on `store` (default: a fresh fakeredis one) with a `FakeConnector`."""
    settings = parse_settings(
        {
            "orderbridge": {
                "worker": {"inline_steps": inline, "stale_after_seconds": STALE, **worker},
                "retry": {"base_seconds": 2, "cap_seconds": 60},
            },
            "connections": {
                "shop": {
                    "erp": "poweroffice",
                    "invoice_on_payment": True,
                    "settings": {
                        "application_key": "a",
                        "client_key": "c",
                        "subscription_key": "s",
                    },
                }
            },
        },
        env={},
    )
    connector, enqueued = FakeConnector(), Enqueued()
    store = store or fake_store()
    rt = Runtime(settings, store, enqueue=enqueued, connector_factory=lambda _: connector)
    return rt, connector, enqueued


def accept(rt: Runtime, external_id: str = "1001", **extra: Any) -> str:
    """Accept an order and admit it, as the intake and a worker's dispatcher would."""
    submitted = submit_order(rt, "shop", Order.model_validate(order_json(external_id, **extra)))
    assert submitted.created
    rt.dispatch()
    return submitted.job_id


def job_of(rt: Runtime, job_id: str) -> Job:
    job = rt.store.load_job(job_id)
    assert job is not None
    return job


def age_marks(rt: Runtime, job_id: str, seconds: float) -> None:
    """As if `seconds` had passed for the job's steps: their `sending` and invoice-request marks
    (`tasks.steps.wait_while_in_flight`), errors and next attempts that much older."""
    job = job_of(rt, job_id)
    earlier = timedelta(seconds=seconds)
    for record in job.steps:
        for mark in ("sending_at", "requested_at"):
            if record.result.get(mark):
                written = datetime.fromisoformat(record.result[mark])
                record.result[mark] = (written - earlier).isoformat()
        if record.next_attempt_at is not None:
            record.next_attempt_at -= earlier
        if record.last_error is not None:
            record.last_error.at -= earlier
    rt.store.save_job(job, due_at=time.time())


def retry_due_now(rt: Runtime, job_id: str) -> None:
    """As if the job's scheduled retry had come due (its backoff over), nothing else older."""
    job = job_of(rt, job_id)
    for record in job.steps:
        if record.next_attempt_at is not None:
            record.next_attempt_at = utcnow()
    rt.store.save_job(job, due_at=time.time())
