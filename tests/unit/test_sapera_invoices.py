"""After the order, against the in-process Sapera simulator: booked invoices read back as
snapshots, partial payments as balances, credit notes as sales orders of returned items, and a
cursor that overlaps rather than leaves a gap."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from typing import Any

import httpx
import pytest

from connectors.base import CreditSource, InvoiceSnapshot, OrderRef
from connectors.errors import PermanentError
from connectors.sapera import SaperaConnector, SaperaSettings
from schemas.order import Order
from simulators.sapera import create_app
from tests.support.factories import order, product_line
from tests.support.fakes import fake_store
from tests.support.sim_server import pay, simulator_fixtures

GET_INVOICE = "/api/financial/Invoice/GetInvoice"


server, sim = simulator_fixtures(create_app)


@pytest.fixture
def make(server: str, sim: httpx.Client) -> Iterator[Any]:
    """A connector with the given settings; tokens shared through one fakeredis store."""
    store = fake_store()
    clients: list[httpx.Client] = []

    def build(**settings: Any) -> SaperaConnector:
        config = SaperaSettings(
            base_url=server,
            tenant="demo",
            user="webshop@demo.example",
            password="demo-sapera-password",
            **settings,
        )
        clients.append(httpx.Client(timeout=10))
        return SaperaConnector(config, clients[-1], store)

    yield build
    for client in clients:
        client.close()


def shop_order(lines: list[dict[str, Any]], **extra: Any) -> Order:
    return Order.model_validate(order(lines=lines, **extra))


def transfer(
    sapera: SaperaConnector, reference: str, lines: list[dict[str, Any]], book: bool = True
) -> OrderRef:
    placed = shop_order(lines)
    actor = sapera.upsert_customer(placed.customer, "id:c-42")
    created = sapera.create_order(placed, reference, actor)
    if book:
        sapera.send_invoice(created.id, None)
    return created


def only(snapshots: list[InvoiceSnapshot], reference: str) -> InvoiceSnapshot:
    found = [s for s in snapshots if s.reference == reference]
    assert len(found) == 1, snapshots
    return found[0]


def test_a_booked_invoice_becomes_a_snapshot_and_a_draft_does_not(
    make: Any, sim: httpx.Client
) -> None:
    sapera = make()
    created = transfer(sapera, "S-1001", [product_line("SAP-100", "2", "100.00")])
    draft = transfer(sapera, "S-1002", [product_line("SAP-100")], book=False)
    sapera._call(sapera.paths.set_ready, {"id": int(draft.id.split(":")[0])}, command=True)
    sapera._call(
        sapera.paths.create_invoice, {"salesOrderId": int(draft.id.split(":")[0])}, command=True
    )

    page = sapera.invoices_since({})

    state = sapera.invoice_state(created.id)
    invoice = next(
        i for i in sim.get("/_sim/state").json()["invoices"] if i["customerReference"] == "S-1001"
    )
    assert [s.reference for s in page.invoices] == ["S-1001"]
    snapshot = page.invoices[0]
    assert (
        snapshot.id,
        snapshot.number,
        snapshot.kind,
        snapshot.total,
        snapshot.balance,
        snapshot.currency,
        snapshot.order_id,
    ) == (
        str(invoice["id"]),
        state.invoice_number,
        "invoice",
        D("200.00"),
        D("200.00"),
        "DKK",
        created.id,
    )
    assert snapshot.credited_invoice is None and snapshot.changed_at is not None
    assert set(page.cursor) == {"updated_from", "swept_at"} and page.more is False


def test_two_partial_payments_show_as_balances(make: Any, sim: httpx.Client) -> None:
    sapera = make(payment_sweep_minutes=None)  # the change stamp alone must tell
    transfer(sapera, "S-2001", [product_line("SAP-100", "2", "100.00")])
    first = sapera.invoices_since({})
    invoice_id = only(first.invoices, "S-2001").id

    shown = pay(sim, invoice_id, "50.00")
    second = sapera.invoices_since(first.cursor)
    pay(sim, invoice_id)  # the rest
    third = sapera.invoices_since(second.cursor)

    assert (shown["remainingAmount"], shown["state"]) == (150.0, "PartlyPaid")
    assert only(second.invoices, "S-2001").balance == D("150.00")
    assert only(third.invoices, "S-2001").balance == D("0.00")
    assert only(third.invoices, "S-2001").total == D("200.00")


def test_a_payment_that_leaves_the_change_stamp_alone_is_found_by_the_sweep(
    make: Any, sim: httpx.Client
) -> None:
    sim.post("/_sim/config", json={"payment_moves_updated_at": False}).raise_for_status()
    stamp_only = make(payment_sweep_minutes=None, invoice_overlap_seconds=0)
    sweeping = make(payment_sweep_minutes=0, invoice_overlap_seconds=0)
    transfer(stamp_only, "S-3001", [product_line("SAP-100")])
    transfer(stamp_only, "S-3002", [product_line("SAP-100")])  # the cursor moves past S-3001
    first = stamp_only.invoices_since({})
    pay(sim, only(first.invoices, "S-3001").id)

    blind = stamp_only.invoices_since(first.cursor)
    swept = sweeping.invoices_since(first.cursor)

    assert "S-3001" not in {s.reference for s in blind.invoices}  # what the sweep is for
    assert only(swept.invoices, "S-3001").balance == D("0.00")
    assert "swept_at" in swept.cursor and "swept_at" not in blind.cursor


def test_without_a_remaining_amount_the_balance_is_the_total(make: Any, sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"show_remaining_amount": False}).raise_for_status()
    sapera = make()
    transfer(sapera, "S-4001", [product_line("SAP-100")])
    invoice_id = only(sapera.invoices_since({}).invoices, "S-4001").id
    assert "remainingAmount" not in pay(sim, invoice_id, "40.00")
    assert only(sapera.invoices_since({}).invoices, "S-4001").balance == D("100.00")


def test_a_credit_note_is_a_booked_sales_order_of_returned_items(
    make: Any, sim: httpx.Client
) -> None:
    sapera = make()
    lines = [product_line("SAP-100", "2", "100.00"), product_line("SAP-COFFEE", "1", "89.00")]
    original = transfer(sapera, "S-5001", lines)
    invoice = sapera.invoice_state(original.id)
    source = CreditSource(
        order_id=original.id,
        order_number=original.number,
        invoice_number=invoice.invoice_number,
        total=D("289.00"),
        currency="DKK",
    )
    refund = shop_order([product_line("SAP-100", "1", "100.00")], credit_for="590001")
    actor = sapera.upsert_customer(refund.customer, "id:c-42")

    assert sapera.find_order("S-5001-R1", None) is None
    credit = sapera.create_credit_note(refund, "S-5001-R1", actor, None, source)
    assert sapera.find_order("S-5001-R1", None) == OrderRef(credit.id, credit.number, True)
    sapera.send_invoice(credit.id, None)
    state = sapera.invoice_state(credit.id)

    stored = next(
        o
        for o in sim.get("/_sim/state").json()["salesOrders"]
        if o["customerReference"] == "S-5001-R1"
    )
    assert [(i["quantity"], i["amount"]) for i in stored["items"]] == [(-1, -100.0)]
    assert stored["subject"] == (
        f"Credit note for invoice {invoice.invoice_number} (sales order {original.number})"
    )
    assert state.state == "sent" and state.invoice_number != invoice.invoice_number
    snapshot = only(sapera.invoices_since({}).invoices, "S-5001-R1")
    assert (
        snapshot.kind,
        snapshot.number,
        snapshot.total,
        snapshot.balance,
        snapshot.order_id,
    ) == ("credit_note", state.invoice_number, D("100.00"), D("100.00"), credit.id)
    pay(sim, snapshot.id, "100.00")  # the refund paid out
    assert only(sapera.invoices_since({}).invoices, "S-5001-R1").balance == D("0.00")


def test_a_credit_note_larger_than_the_original_names_both_amounts(make: Any) -> None:
    sapera = make()
    refund = shop_order([product_line("SAP-100", "2", "100.00")], credit_for="590002")
    source = CreditSource(
        order_id="5001:10001",
        order_number="10001",
        invoice_number="20001",
        total=D("150.00"),
        currency="DKK",
    )
    with pytest.raises(
        PermanentError, match="200.00 DKK, more than the 150.00 DKK of invoice 20001"
    ):
        sapera.create_credit_note(refund, "S-6001-R1", "4001", None, source)


def test_a_sapera_without_returned_items_refuses_the_credit_note_for_good(
    make: Any, sim: httpx.Client
) -> None:
    sim.post("/_sim/config", json={"negative_quantities": False}).raise_for_status()
    sapera = make()
    refund = shop_order([product_line("SAP-100")], credit_for="590003")
    actor = sapera.upsert_customer(refund.customer, "id:c-42")
    source = CreditSource(
        order_id="5001:10001",
        order_number="10001",
        invoice_number="20001",
        total=D("100.00"),
        currency="DKK",
    )
    with pytest.raises(PermanentError, match="quantity must be above 0"):
        sapera.create_credit_note(refund, "S-7001-R1", actor, None, source)
    assert sim.get("/_sim/state").json()["salesOrders"] == []


def test_the_cursor_overlaps_and_never_skips(make: Any, sim: httpx.Client) -> None:
    sapera = make(payment_sweep_minutes=None, invoice_overlap_seconds=0)
    transfer(sapera, "S-8001", [product_line("SAP-100")])
    first = sapera.invoices_since({})
    newest = only(first.invoices, "S-8001").changed_at

    again = sapera.invoices_since(first.cursor)  # nothing new: the newest is read again
    transfer(sapera, "S-8002", [product_line("SAP-100")])
    later = sapera.invoices_since(again.cursor)

    assert newest is not None and first.cursor["updated_from"] == newest.isoformat()
    assert [s.reference for s in again.invoices] == ["S-8001"]
    assert {s.reference for s in later.invoices} >= {"S-8002"}
    assert later.cursor["updated_from"] >= first.cursor["updated_from"]
    stepped = make(payment_sweep_minutes=None).invoices_since(first.cursor)  # 120 s overlap
    changed = only(later.invoices, "S-8002").changed_at
    assert changed is not None and stepped.cursor["updated_from"] < changed.isoformat()
    unreadable = sapera.invoices_since({"updated_from": "yesterday"})
    assert {"S-8001", "S-8002"} <= {s.reference for s in unreadable.invoices}
