"""After the order, in-process (fakeredis, a fake connector, httpx's mock transport): credit
jobs follow their original, invoice snapshots become events exactly once, and delivery signs,
retries, gives up into a dead letter and replays."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import InvoiceSnapshot
from core.runtime import Runtime
from core.settings import parse_settings
from schemas.job import utcnow
from schemas.order import Order
from tasks import deadletters, delivery, invoicewatch
from tasks.events import submit_order
from tasks.runner import Outcome, run_step
from tests.support.factories import order as order_json
from tests.support.factories import product_line
from tests.support.fakes import Enqueued, FakeConnector, accept, fake_store, job_of

SECRET = "s3cret"


def runtime(events: dict[str, Any] | None = None) -> tuple[Runtime, FakeConnector]:

    settings = parse_settings(
        {
            "orderbridge": {"worker": {"stale_after_seconds": 45}},
            "connections": {
                "shop": {
                    "erp": "poweroffice",
                    "settings": {
                        "application_key": "a",
                        "client_key": "c",
                        "subscription_key": "s",
                    },
                    "events": {
                        "webhook_url": "http://127.0.0.1:9/hook",
                        "webhook_secret": SECRET,
                        "retry_base_seconds": 1,
                        "retry_cap_seconds": 4,
                        "give_up_after_seconds": 30,
                        **(events or {}),
                    },
                }
            },
        },
        env={},
    )
    connector = FakeConnector()
    rt = Runtime(
        settings,
        fake_store(),
        enqueue=Enqueued(),
        connector_factory=lambda _: connector,
    )
    return rt, connector


def finish(rt: Runtime, job_id: str) -> None:
    from schemas.job import Step

    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED


def credit(rt: Runtime, credit_for: str, quantity: str = "1") -> str:
    body = order_json(
        "refund-1", lines=[product_line("KAFFE-500", quantity, "90.00", vat_rate="0.15")]
    )
    body["credit_for"] = credit_for
    submitted = submit_order(rt, "shop", Order.model_validate(body))
    assert submitted.created
    return submitted.job_id


# --- refunds as credit notes -----------------------------------------------------------------


def test_a_credit_job_waits_for_its_original_then_credits_its_customer() -> None:
    rt, connector = runtime()
    credit_id = credit(rt, "1001")
    from schemas.job import Step

    assert run_step(rt, credit_id, Step.UPSERT_CUSTOMER) is Outcome.WAITING
    job = job_of(rt, credit_id)
    assert job.state != "dead" and "waiting for the original order 1001" in str(
        job.step(Step.UPSERT_CUSTOMER).last_error
    )
    original_id = accept(rt, "1001")
    finish(rt, original_id)
    job.step(Step.UPSERT_CUSTOMER).next_attempt_at = utcnow()  # its wait is over
    rt.store.save_job(job)
    finish(rt, credit_id)
    job = job_of(rt, credit_id)
    assert job.state == "done" and job.send_invoice  # credit notes are always booked
    customer_id, source = connector.credits[0]
    assert customer_id == "C1" and source.order_id == "SO-1"
    assert connector.calls.count("create_credit_note") == 1
    assert connector.calls.count("upsert_customer") == 1  # only the original's


def test_a_refund_larger_than_the_invoice_is_a_dead_letter_naming_both_amounts() -> None:
    rt, _ = runtime()
    finish(rt, accept(rt, "1001"))  # the factory's order: 2 x 100.00 less 20.00 = 180.00
    credit_id = credit(rt, "1001", quantity="50")
    from schemas.job import Step

    assert run_step(rt, credit_id, Step.UPSERT_CUSTOMER) is Outcome.DEAD
    letters, _ = rt.store.dead_letters()
    message = letters[0].message
    assert "4500.00 NOK" in message and "180.00 NOK" in message
    assert "larger than what was invoiced" in message


# --- the invoice watch ---------------------------------------------------------------------


def snap(
    invoice_id: str,
    balance: str,
    total: str = "200.00",
    reference: str = "1001",
    kind: str = "invoice",
    at: int = 0,
) -> InvoiceSnapshot:
    return InvoiceSnapshot(
        id=invoice_id,
        number=f"N{invoice_id}",
        kind=kind,  # type: ignore
        total=Decimal(total),
        balance=Decimal(balance),
        currency="NOK",
        reference=reference,
        changed_at=datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=at),
    )


def types(rt: Runtime) -> list[str]:
    return [e["type"] for _, e in rt.store.events_after("shop", "0", 100)]


def test_snapshots_become_each_event_once_however_often_they_are_read() -> None:
    rt, connector = runtime()
    finish(rt, accept(rt, "1001"))
    connector.invoices = [snap("I1", "200.00"), snap("I1", "200.00", at=1)]
    invoicewatch.poll(rt, "shop")
    connector.invoices += [
        snap("I1", "150.00", at=2),
        snap("I1", "150.00", at=2),
        snap("I1", "0", at=3),
    ]
    invoicewatch.poll(rt, "shop")
    rt.store.set_invoice_cursor("shop", {})  # a poll that died before its cursor: read again
    invoicewatch.poll(rt, "shop")
    assert types(rt) == ["invoice.created", "invoice.partially_paid", "invoice.paid"]
    assert [v["state"] for v in rt.store.recent_invoices("shop")] == ["paid"]
    assert (
        len(rt.store.job_events(job_of(rt, rt.store.job_id_for("shop", "1001") or "").job_id)) == 3
    )


def test_a_stale_snapshot_changes_nothing() -> None:
    rt, connector = runtime()
    finish(rt, accept(rt, "1001"))
    connector.invoices = [snap("I1", "0", at=5), snap("I1", "120.00", at=1)]
    invoicewatch.poll(rt, "shop")
    assert types(rt) == ["invoice.created", "invoice.paid"]
    assert rt.store.recent_invoices("shop")[0]["state"] == "paid"


def test_an_invoice_seen_before_its_job_is_known_is_matched_later() -> None:
    rt, connector = runtime()
    connector.invoices = [snap("I1", "200.00", reference="1002")]
    invoicewatch.poll(rt, "shop")
    assert types(rt) == [] and rt.store.unmatched("shop")
    finish(rt, accept(rt, "1002"))
    invoicewatch.poll(rt, "shop")
    assert types(rt) == ["invoice.created"] and not rt.store.unmatched("shop")


def test_a_credit_note_is_one_event() -> None:
    rt, connector = runtime()
    finish(rt, accept(rt, "1001"))
    connector.invoices = [snap("C1", "-50.00", total="-50.00", kind="credit_note")] * 2
    invoicewatch.poll(rt, "shop")
    assert types(rt) == ["credit_note.created"]


# --- delivery ----------------------------------------------------------------------------


class Hook:
    def __init__(self) -> None:
        self.status = 200
        self.bodies: list[dict[str, Any]] = []
        self.signatures_ok = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        expected = (
            "sha256=" + hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
        )
        self.signatures_ok &= request.headers["x-orderbridge-signature"] == expected
        if self.status == 200:
            self.bodies.append(json.loads(request.content))
        return httpx.Response(self.status)


def with_events(count: int) -> tuple[Runtime, Hook, httpx.Client]:
    rt, connector = runtime()
    for i in range(count):
        finish(rt, accept(rt, f"10{i}"))
        connector.invoices.append(snap(f"I{i}", "200.00", reference=f"10{i}"))
    invoicewatch.poll(rt, "shop")
    hook = Hook()
    return rt, hook, httpx.Client(transport=httpx.MockTransport(hook))


def test_delivery_is_signed_and_in_order() -> None:
    rt, hook, client = with_events(3)
    assert delivery.deliver_due(rt, client) == 3
    assert [b["reference"] for b in hook.bodies] == ["100", "101", "102"]
    assert hook.signatures_ok
    assert delivery.deliver_due(rt, client) == 0


def test_a_failing_subscriber_gets_retries_with_backoff_and_then_everything() -> None:
    rt, hook, client = with_events(2)
    hook.status = 500
    delivery.deliver_due(rt, client)
    first_wait = float(rt.store.delivery_state("shop")["next_at"]) - time.time()
    rt.store.set_delivery_state("shop", next_at=0)
    delivery.deliver_due(rt, client)
    second_wait = float(rt.store.delivery_state("shop")["next_at"]) - time.time()
    assert 0.5 < first_wait <= 1 < second_wait <= 2  # base 1 s, doubling
    hook.status = 200
    rt.store.set_delivery_state("shop", next_at=0)
    assert delivery.deliver_due(rt, client) == 2
    assert [b["reference"] for b in hook.bodies] == ["100", "101"]


def test_an_event_refused_past_the_window_is_dead_lettered_and_replays() -> None:
    rt, hook, client = with_events(2)
    hook.status = 500
    delivery.deliver_due(rt, client)
    rt.store.set_delivery_state("shop", next_at=0, first_failure_at=time.time() - 31)
    hook_calls_before = len(hook.bodies)
    delivery.deliver_due(rt, client)  # gives up on the first, then the second is refused too
    letters, total = rt.store.dead_letters()
    assert total == 1 and letters[0].kind == "delivery" and letters[0].step is None
    assert letters[0].event and letters[0].event["reference"] == "100"
    assert SECRET not in letters[0].model_dump_json()
    hook.status = 200
    rt.store.set_delivery_state("shop", next_at=0)
    delivery.deliver_due(rt, client)
    assert [b["reference"] for b in hook.bodies[hook_calls_before:]] == ["101"]
    deadletters.replay(rt, letters[0].id)
    assert delivery.deliver_due(rt, client) == 1
    assert [b["reference"] for b in hook.bodies] == ["101", "100"]
    assert rt.store.dead_letters(limit=1)[1] == 0


@pytest.mark.parametrize(
    "events, problem",
    [
        ({"webhook_secret": None}, "needs webhook_secret"),
        ({"webhook_url": "ftp://x"}, "should match pattern"),
    ],
)
def test_events_settings_are_checked(events: dict[str, Any], problem: str) -> None:
    from core.settings import ConfigError

    with pytest.raises(ConfigError, match=problem):
        runtime(
            {k: v for k, v in events.items() if v is not None}
            | ({} if events.get("webhook_secret", 1) else {"webhook_secret": None})
        )


def test_the_operator_view_keeps_the_most_recent_invoices() -> None:
    rt, connector = runtime()
    finish(rt, accept(rt, "1001"))
    connector.invoices = [snap(f"I{i}", "200.00") for i in range(5)]
    invoicewatch.poll(rt, "shop")
    assert rt.store.trim_invoice_views("shop", keep=2) == 3
    assert len(rt.store.recent_invoices("shop")) == 2
    assert len(rt.store.redis.hgetall("ob:inv:doc:shop")) == 2


# --- the hand-off to the workers: the wait set and admission --------------------------------


def test_a_new_job_waits_for_admission_once_and_a_repeat_is_not_added() -> None:
    from tasks.dispatch import dispatch_round

    rt, _ = runtime()
    enqueued: Enqueued = rt.enqueue  # type: ignore[assignment]
    first = submit_order(rt, "shop", Order.model_validate(order_json("2001")))
    again = submit_order(rt, "shop", Order.model_validate(order_json("2001")))
    assert first.created and not again.created and enqueued == []  # the intake sent nothing
    assert rt.admission.is_waiting("shop", first.job_id)
    assert dispatch_round(rt, wait_seconds=0.1) == 1
    assert enqueued == [("upsert_customer", first.job_id)]
    assert rt.admission.is_in_flight("shop", first.job_id)
    assert dispatch_round(rt, wait_seconds=0.1) == 0


def test_an_order_cancelled_before_it_arrived_is_not_handed_off() -> None:
    from tasks.dispatch import dispatch_round

    rt, _ = runtime()
    rt.store.bury("shop", "2002", 60)
    submitted = submit_order(rt, "shop", Order.model_validate(order_json("2002")))
    assert submitted.created and submitted.state == "cancelled"
    assert dispatch_round(rt, wait_seconds=0.1) == 0
    assert rt.store.due_at(submitted.job_id) is None
