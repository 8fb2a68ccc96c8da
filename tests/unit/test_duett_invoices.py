"""Duett's invoice watch and credit notes, against the in-process Duett simulator over real
HTTP: invoiced orders become snapshots, customer-ledger payments lower their balance, credit
orders are found as credit notes whichever sign Duett wants on their lines, and the cursor
overlaps instead of leaving gaps."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from connectors.base import Connector, CreditSource, InvoicePage, InvoiceSnapshot, OrderRef
from schemas.order import Order
from tests.support.duett import connect_fixture, server_fixture, sim_fixture  # noqa: F401
from tests.support.factories import order, product_line
from tests.support.sim_server import pay


def configure(sim: httpx.Client, **options: Any) -> None:
    sim.post("/_sim/config", json=options).raise_for_status()


def transfer(duett: Connector, data: dict[str, Any], reference: str) -> tuple[Order, OrderRef]:
    """The pipeline's steps for one order: customer, articles, order (invoiced at once)."""
    canonical = Order.model_validate(data)
    customer_id = duett.upsert_customer(canonical.customer, "id:c-42")
    ids = duett.upsert_products(duett.products_for(canonical))
    return canonical, duett.create_order(canonical, reference, customer_id, ids)


def invoiced(
    duett: Connector, reference: str, unit_price: str = "100.00", quantity: str = "2"
) -> tuple[Order, OrderRef]:
    data = order(lines=[product_line("KAFFE", quantity, unit_price)], send_invoice=True)
    canonical, ref = transfer(duett, data, reference)
    assert ref.invoice_number is not None
    return canonical, ref


def poll_all(
    duett: Connector, cursor: dict[str, str]
) -> tuple[list[InvoiceSnapshot], dict[str, str]]:
    """Every page until Duett has no more (as shared code does), with a bound on the calls."""
    seen: list[InvoiceSnapshot] = []
    for _ in range(50):
        page: InvoicePage = duett.invoices_since(cursor)
        seen.extend(page.invoices)
        cursor = page.cursor
        if not page.more:
            return seen, cursor
    raise AssertionError("invoices_since never finished paging")


def only(snapshots: list[InvoiceSnapshot], invoice_id: str) -> InvoiceSnapshot:
    """The latest snapshot of one invoice."""
    mine = [s for s in snapshots if s.id == invoice_id]
    assert mine, f"invoice {invoice_id} not in {[s.id for s in snapshots]}"
    return mine[-1]


def test_a_directly_invoiced_order_is_a_snapshot(sim: httpx.Client, connect: Any) -> None:
    duett = connect()
    canonical, ref = invoiced(duett, "shop-1001")
    snapshots, cursor = poll_all(duett, {})
    assert only(snapshots, ref.id) == InvoiceSnapshot(
        id=ref.id,
        number=str(ref.invoice_number),
        kind="invoice",
        total=D("200.00"),
        balance=D("200.00"),
        currency="NOK",
        order_id=ref.id,
        reference="shop-1001",
    )
    assert canonical.computed_total == D("200.00")
    assert set(cursor) == {"orders", "ledger"}


def test_two_partial_payments_lower_the_balance_then_it_is_paid(
    sim: httpx.Client, connect: Any
) -> None:
    duett = connect()
    _, ref = invoiced(duett, "shop-1002", unit_price="150.00")
    _, other = invoiced(duett, "shop-1003")
    snapshots, cursor = poll_all(duett, {})
    balances = [only(snapshots, ref.id).balance]
    for amount in ("100.00", "50.00", None):  # two parts, then the rest
        pay(sim, ref.id, amount)
        snapshots, cursor = poll_all(duett, cursor)
        balances.append(only(snapshots, ref.id).balance)
    assert balances == [D("300.00"), D("200.00"), D("150.00"), D("0.00")]
    assert only(snapshots, ref.id).total == D("300.00")
    assert only(snapshots, other.id).balance == D("200.00")  # the other one is untouched


def test_payments_in_a_ledger_that_reports_the_number_as_ref_number(
    sim: httpx.Client, connect: Any
) -> None:
    configure(sim, ledger_invoice_number_field="refNumber")
    duett = connect(ledger_invoice_number_field="refNumber")
    _, ref = invoiced(duett, "shop-1004")
    pay(sim, ref.id, "20.00")
    snapshots, _ = poll_all(duett, {})
    assert only(snapshots, ref.id).balance == D("180.00")


def test_without_the_voucher_report_invoices_are_still_reported_unpaid(
    sim: httpx.Client, connect: Any
) -> None:
    configure(sim, voucher_report=False)
    duett = connect()
    _, ref = invoiced(duett, "shop-1005")
    pay(sim, ref.id)
    snapshots, _ = poll_all(duett, {})
    assert only(snapshots, ref.id).balance == D("200.00")


@pytest.mark.parametrize("duett_sign", ["positive", "negative"])
@pytest.mark.parametrize("our_sign", ["positive", "negative"])
def test_a_credit_note_whichever_sign_duett_wants(
    sim: httpx.Client, connect: Any, duett_sign: str, our_sign: str
) -> None:
    configure(sim, credit_line_sign=duett_sign)
    duett = connect(credit_line_sign=our_sign)
    original, ref = invoiced(duett, "shop-1006", quantity="3")
    refund = Order.model_validate(
        order(
            lines=[product_line("KAFFE", "2", "100.00")],
            send_invoice=True,
            credit_for=original.external_id,
        )
    )
    source = CreditSource(
        order_id=ref.id,
        order_number=ref.number,
        invoice_number=ref.invoice_number,
        total=D("300.00"),
        currency="NOK",
    )
    customer_id = duett.upsert_customer(refund.customer, "id:c-42")
    ids = duett.upsert_products(duett.products_for(refund))
    note = duett.create_credit_note(refund, "shop-1006-r1", customer_id, ids, source)
    assert note.invoice_number is not None and note.invoice_number != ref.invoice_number
    assert note.document is not None and note.document.startswith(b"%PDF")
    state = sim.get("/_sim/state").json()
    [row] = [o for o in state["orders"] if o["orderType"] == "credit"]
    assert row["lines"][0] == {
        **row["lines"][0],
        "lineType": "text",
        "name": f"Kreditnota for faktura {ref.invoice_number}",
    }
    counts = [line["countAgreed"] for line in row["lines"] if line["lineType"] == "normal"]
    assert counts == ([2] if duett_sign == "positive" else [-2])
    posts = sim.get("/_sim/calls").json()["by_endpoint"]["POST /Order/v2"]
    assert posts == (2 if duett_sign == our_sign else 3)  # one refused sign, then the other
    assert duett.invoice_state(note.id).invoice_number == note.invoice_number
    snapshots, _ = poll_all(duett, {})
    assert only(snapshots, note.id) == InvoiceSnapshot(
        id=note.id,
        number=note.invoice_number,
        kind="credit_note",
        total=D("200.00"),
        balance=D("200.00"),
        currency="NOK",
        order_id=note.id,
        reference="shop-1006-r1",
        credited_invoice=ref.invoice_number,
    )
    pay(sim, note.id)  # the refund is paid out
    snapshots, _ = poll_all(duett, {})
    assert only(snapshots, note.id).balance == D("0.00")


def test_a_credit_note_carries_the_link_field_when_duett_has_one(
    sim: httpx.Client, connect: Any
) -> None:
    configure(sim, credit_link_field="creditedInvoiceNumber")
    duett = connect(
        credit_link_field="creditedInvoiceNumber", credit_text="Credit for invoice {invoice}."
    )
    original, ref = invoiced(duett, "shop-1007")
    refund = Order.model_validate(
        order(
            lines=[product_line("KAFFE", "1", "100.00")],
            send_invoice=True,
            credit_for=original.external_id,
        )
    )
    source = CreditSource(ref.id, ref.number, ref.invoice_number, D("200.00"), "NOK")
    customer_id = duett.upsert_customer(refund.customer, "id:c-42")
    note = duett.create_credit_note(
        refund,
        "shop-1007-r1",
        customer_id,
        duett.upsert_products(duett.products_for(refund)),
        source,
    )
    stored = sim.get("/_sim/state").json()["orders"]
    assert [o["creditedInvoiceNumber"] for o in stored if o["id"] == int(note.id)] == [
        int(str(ref.invoice_number))
    ]
    snapshots, _ = poll_all(duett, {})
    assert only(snapshots, note.id).credited_invoice == ref.invoice_number


def test_the_cursor_overlaps_and_an_older_cursor_sees_everything_again(
    sim: httpx.Client, connect: Any
) -> None:
    duett = connect(invoice_page_size=10, row_version_overlap=5)
    refs = [invoiced(duett, f"shop-2{n:03d}")[1] for n in range(12)]
    snapshots, cursor = poll_all(duett, {})
    assert {s.id for s in snapshots} == {r.id for r in refs}  # across pages, no gap
    again, same = poll_all(duett, cursor)
    assert refs[-1].id in {s.id for s in again}  # the newest rows are read once more
    assert int(same["orders"]) >= int(cursor["orders"])  # and the cursor never goes back
    pay(sim, refs[0].id, "1.00")
    later, newer = poll_all(duett, cursor)
    assert only(later, refs[0].id).balance == D("199.00")
    stale, _ = poll_all(duett, {"orders": "0", "ledger": "0"})
    assert {s.id for s in stale} == {r.id for r in refs}
    assert only(stale, refs[0].id).balance == D("199.00")
    assert newer["ledger"] != cursor["ledger"]


def test_the_invoice_pdf_survives_in_the_order_ref(sim: httpx.Client, connect: Any) -> None:
    duett = connect()
    _, ref = invoiced(duett, "shop-1008")
    assert ref.document is not None and ref.document.startswith(b"%PDF")
    assert str(ref.invoice_number).encode() in ref.document  # decoded, not the base64 text
