"""Exact Online after the order, against the in-process simulator: the invoice watch
(processed invoices, receivables, cursors) and credit notes in every mode that has them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import CreditSource, InvoicePage, InvoiceSnapshot
from connectors.consent import connect
from connectors.errors import ErpHttpError, PermanentError
from connectors.exact import ExactConnector, ExactSettings, odata
from schemas.order import Order
from simulators.exact import WAREHOUSE_ID
from tests.support.factories import order, product_line
from tests.support.fakes import fake_store
from tests.support.sim_exact import server_fixture  # noqa: F401 (fixture)
from tests.support.sim_server import pay

SKU = "KAFFE-500"


@pytest.fixture(name="sim")
def sim_fixture(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=10) as client:
        client.post("/_sim/reset").raise_for_status()
        client.post("/_sim/items", json={"Code": SKU, "Description": "Kaffe"}).raise_for_status()
        yield client


def exact(sim: httpx.Client, send_as: str = "invoice", **extra: Any) -> ExactConnector:
    settings = ExactSettings(
        base_url=str(sim.base_url).rstrip("/"),
        client_id="demo-exact-client",
        client_secret="demo-exact-secret",
        send_as=send_as,
        warehouse_id=WAREHOUSE_ID,
        vat_codes={"0.21": "2"},
        **extra,
    )
    connector = ExactConnector(settings, httpx.Client(timeout=10), fake_store())
    connect(connector, auto=True)
    return connector


def an_order(**extra: Any) -> Order:
    # 2 × 121.00 including 21 % VAT: 200.00 net, 242.00 in total
    return Order.model_validate(
        order(lines=[product_line(SKU, "2", "121.00", "0", "0.21")], currency="EUR", **extra)
    )


def place(connector: ExactConnector, reference: str) -> tuple[str, str]:
    """(customer id, document id) of an order sent the connection's way."""
    placed = an_order()
    customer = connector.upsert_customer(placed.customer, "k")
    ids = connector.upsert_products(connector.products_for(placed))
    return customer, connector.create_order(placed, reference, customer, ids).id


def invoiced(connector: ExactConnector, sim: httpx.Client, reference: str) -> str:
    """Place an order and have it invoiced and processed; its InvoiceID."""
    _, document = place(connector, reference)
    if connector.settings.send_as == "order":
        reply = sim.post("/_sim/invoice-order", json={"order_id": document})
        assert reply.status_code == 201, reply.text
        return str(reply.json()["InvoiceID"])
    connector.send_invoice(document, None)
    return document


def only(page: InvoicePage, document_id: str) -> InvoiceSnapshot:
    found = [s for s in page.invoices if s.id == document_id]
    assert len(found) == 1, page.invoices
    return found[0]


# --- the watch --------------------------------------------------------------------------------


def test_an_invoiced_sales_order_comes_back_linked_to_the_order(sim: httpx.Client) -> None:
    connector = exact(sim, "order")
    _, order_id = place(connector, "ref-1")
    invoice_id = str(
        sim.post("/_sim/invoice-order", json={"order_id": order_id}).json()["InvoiceID"]
    )

    snapshot = only(connector.invoices_since({}), invoice_id)

    assert snapshot.kind == "invoice" and snapshot.order_id == order_id
    assert snapshot.reference == "ref-1" and snapshot.currency == "EUR"
    assert snapshot.total == snapshot.balance == Decimal("242.00")
    assert snapshot.number.isdigit() and snapshot.changed_at is not None


@pytest.mark.parametrize("negative_receivables", [False, True])
def test_two_part_payments_lower_the_balance_to_zero(
    sim: httpx.Client, negative_receivables: bool
) -> None:
    sim.post("/_sim/config", json={"negative_receivables": negative_receivables}).raise_for_status()
    connector = exact(sim)
    invoice_id = invoiced(connector, sim, "ref-2")
    first = connector.invoices_since({})

    assert pay(sim, invoice_id, "100.00")["Outstanding"] == 142.0
    second = connector.invoices_since(first.cursor)
    pay(sim, invoice_id)
    third = connector.invoices_since(second.cursor)

    assert only(first, invoice_id).balance == Decimal("242.00")
    assert only(second, invoice_id).balance == Decimal("142.00")
    assert only(third, invoice_id).balance == Decimal("0.00")
    assert only(third, invoice_id).total == Decimal("242.00")
    assert only(third, invoice_id).order_id == invoice_id  # what create_order returned


def test_an_unprocessed_invoice_is_not_reported(sim: httpx.Client) -> None:
    connector = exact(sim)
    _, open_invoice = place(connector, "ref-open")

    assert [s.id for s in connector.invoices_since({}).invoices] == []
    connector.send_invoice(open_invoice, None)
    assert [s.id for s in connector.invoices_since({}).invoices] == [open_invoice]


def test_the_cursor_steps_back_so_a_change_at_or_before_it_is_seen_again(sim: httpx.Client) -> None:
    connector = exact(sim)
    invoice_id = invoiced(connector, sim, "ref-3")
    first = connector.invoices_since({})
    paid = pay(sim, invoice_id, "42.00")
    seen = connector.invoices_since(first.cursor)
    again = connector.invoices_since(seen.cursor)  # nothing new: the overlap repeats it
    # A change Exact stamped a minute before what the cursor holds (stamps are not written in
    # strict order) is still found, thanks to the step back; without it, it would be lost.
    stamp = max(odata.parse_date(r["Modified"]) for r in paid["Receivables"])
    assert stamp is not None
    ahead = (stamp + timedelta(seconds=60)).isoformat()
    late = {"documents": ahead, "receivables": ahead}

    assert only(seen, invoice_id).balance == only(again, invoice_id).balance == Decimal("200")
    assert seen.cursor["receivables"] == stamp.isoformat()
    assert only(connector.invoices_since(late), invoice_id).balance == Decimal("200")
    assert exact(sim, invoice_overlap_seconds=0).invoices_since(late).invoices == []


def test_a_long_backlog_is_read_in_pages_without_a_gap(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"page_size": 2}).raise_for_status()
    connector = exact(sim, invoice_pages_per_poll=1)
    invoices = {invoiced(connector, sim, f"ref-p{i}") for i in range(5)}

    seen: set[str] = set()
    cursor: dict[str, str] = {}
    for _ in range(10):
        page = connector.invoices_since(cursor)
        seen |= {s.id for s in page.invoices}
        cursor = page.cursor
        if not page.more:
            break

    assert seen == invoices and not page.more


# --- credit notes -----------------------------------------------------------------------------


def credit(
    connector: ExactConnector, sim: httpx.Client, original_id: str, reference: str
) -> tuple[str, Any]:
    """Credit one of the two articles of the original order; (credit id, its OrderRef)."""
    refund = Order.model_validate(
        order(
            lines=[product_line(SKU, "1", "121.00", "0", "0.21")], currency="EUR", credit_for="orig"
        )
    )
    customer = connector.upsert_customer(refund.customer, "k")
    ids = connector.upsert_products(connector.products_for(refund))
    number = only(connector.invoices_since({}), original_id).number
    ref = connector.create_credit_note(
        refund,
        reference,
        customer,
        ids,
        CreditSource(
            order_id=original_id,
            order_number=None,
            invoice_number=number,
            total=Decimal("242.00"),
            currency="EUR",
        ),
    )
    return number, ref


@pytest.mark.parametrize(
    ("send_as", "wire_type"),
    [("order", 8021), ("invoice", 8021), ("direct_invoice", 8024), ("sales_entry", 21)],
)
def test_credit_note_in_each_mode(sim: httpx.Client, send_as: str, wire_type: int) -> None:
    connector = exact(sim, send_as)
    if send_as == "sales_entry":
        _, original = place(connector, "ref-4")
    else:
        original = invoiced(connector, sim, "ref-4")

    number, ref = credit(connector, sim, original, "ref-4-credit")
    if send_as != "sales_entry":
        assert connector.invoice_state(ref.id).state == "not_requested"
        connector.send_invoice(ref.id, None)
        assert connector.invoice_state(ref.id).state == "sent"
    else:
        assert ref.invoice_number  # booked on create: final at once
    snapshot = only(connector.invoices_since({}), ref.id)

    assert snapshot.kind == "credit_note" and snapshot.credited_invoice == number
    assert snapshot.total == snapshot.balance == Decimal("121.00")
    assert snapshot.reference == "ref-4-credit" and snapshot.order_id == ref.id
    state = sim.get("/_sim/state").json()
    documents = state["SalesEntries" if send_as == "sales_entry" else "SalesInvoices"]
    wire = next(d for d in documents if d["YourRef"] == "ref-4-credit")
    assert wire["Type"] == wire_type and wire["AmountFC"] == -121.0


def test_a_credit_note_is_refunded_through_its_receivable(sim: httpx.Client) -> None:
    connector = exact(sim)
    original = invoiced(connector, sim, "ref-5")
    _, ref = credit(connector, sim, original, "ref-5-credit")
    connector.send_invoice(ref.id, None)

    pay(sim, ref.id)

    assert only(connector.invoices_since({}), ref.id).balance == Decimal("0.00")


def test_credit_note_retry_in_order_mode_finds_the_first_one(sim: httpx.Client) -> None:
    connector = exact(sim, "order")
    original = invoiced(connector, sim, "ref-6")
    _, first = credit(connector, sim, original, "ref-6-credit")
    _, again = credit(connector, sim, original, "ref-6-credit")

    assert again.existed and again.id == first.id
    credits = [d for d in sim.get("/_sim/state").json()["SalesInvoices"] if d["Type"] == 8021]
    assert len(credits) == 1


def test_credit_quantities_follow_the_setting(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"credit_note_quantities": "positive"}).raise_for_status()
    original = invoiced(exact(sim), sim, "ref-7")

    with pytest.raises(ErpHttpError):  # Exact refuses the form it does not take
        credit(exact(sim), sim, original, "ref-7-credit")
    _, ref = credit(exact(sim, credit_note_quantities="positive"), sim, original, "ref-7-c2")

    wire = next(
        d for d in sim.get("/_sim/state").json()["SalesInvoices"] if d["InvoiceID"] == ref.id
    )
    assert wire["AmountFC"] == -121.0


def test_sending_a_sales_order_as_an_invoice_is_still_refused(sim: httpx.Client) -> None:
    connector = exact(sim, "order")
    _, order_id = place(connector, "ref-8")

    with pytest.raises(PermanentError, match="send_as"):
        connector.send_invoice(order_id, None)
