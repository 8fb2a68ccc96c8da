"""The PowerOffice connector's invoice watch and credit notes, against the in-process simulator
(over a local socket) with fakeredis as the token store: snapshots of new invoices, partial
payments, repeated balance stamps, credit notes, and a cursor that never leaves a gap."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.base import CreditSource, InvoicePage, InvoiceSnapshot, OrderRef, customer_key
from connectors.poweroffice import PowerOfficeConnector, PowerOfficeSettings, build
from connectors.poweroffice.invoices import parse_stamp
from schemas.order import Order
from simulators.poweroffice import create_app
from tests.support.cluster import poll
from tests.support.factories import order, product_line
from tests.support.fakes import fake_store
from tests.support.sim_server import pay, simulator_fixtures

DEADLINE_S = 5.0


server, sim = simulator_fixtures(create_app, rate_limit_per_second=0, send_delay_ms=0)


def connector_for(server: str, **settings: Any) -> PowerOfficeConnector:
    parsed = PowerOfficeSettings(
        base_url=f"{server}/Demo/v2",
        token_url=f"{server}/Demo/OAuth/Token",
        application_key="demo-app-key",
        client_key="demo-client-key",
        subscription_key="demo-subscription-key",
        **settings,
    )
    built = build(parsed, httpx.Client(timeout=10), fake_store())
    assert isinstance(built, PowerOfficeConnector)
    return built


@pytest.fixture
def go(server: str, sim: httpx.Client) -> PowerOfficeConnector:
    return connector_for(server)


def configure(sim: httpx.Client, **options: Any) -> None:
    sim.post("/_sim/config", json=options).raise_for_status()


def net_order(external_id: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Prices without VAT, so Go's sums are round: 2 × 100 at 25 % is 250.00 by default."""
    return order(
        external_id, prices_include_vat=False, lines=lines or [product_line("A", "2", "100.00")]
    )


THREE_LINES = [
    product_line("SKU-1", "1", "100.00"),  # 125.00 with VAT
    product_line("SKU-2", "2", "50.00", "10.00", "0.15"),  # 103.50
    product_line("SKU-3", "3", "10.00"),
]  # 37.50


def transfer(go: PowerOfficeConnector, payload: dict[str, Any]) -> OrderRef:
    """Customer, articles and sales order, as the pipeline's steps would do them."""
    parsed = Order.model_validate(payload)
    customer_id = go.upsert_customer(parsed.customer, customer_key(parsed.customer))
    go.upsert_products(go.products_for(parsed))
    return go.create_order(parsed, f"shop:{parsed.external_id}", customer_id)


def invoice(go: PowerOfficeConnector, ref: OrderRef) -> str:
    """Send the draft and wait until Go has turned it into an invoice; its number."""
    go.send_invoice(ref.id, None)
    state = poll(
        lambda: (s := go.invoice_state(ref.id)).state == "sent" and s,
        DEADLINE_S,
        0.02,
        f"draft {ref.id} to be sent as an invoice",
    )
    assert state.invoice_number
    return str(state.invoice_number)


def go_invoices(sim: httpx.Client) -> dict[str, dict[str, Any]]:
    return {i["Id"]: i for i in sim.get("/_sim/state").json()["OutgoingInvoices"]}


def by_id(page: InvoicePage) -> dict[str, InvoiceSnapshot]:
    found = {s.id: s for s in page.invoices}
    assert len(found) == len(page.invoices), "one snapshot per invoice and poll"
    return found


def invoice_polls(sim: httpx.Client) -> list[dict[str, list[str]]]:
    return [
        parse_qs(c["query"])
        for c in sim.get("/_sim/calls").json()["calls"]
        if c["endpoint"] == "GET /OutgoingInvoices"
    ]


# --- new invoices -----------------------------------------------------------------------------


def test_a_new_invoice_becomes_a_snapshot(sim: httpx.Client, go: PowerOfficeConnector) -> None:
    ref = transfer(go, net_order("5901"))
    number = invoice(go, ref)
    page = go.invoices_since({})
    [found] = page.invoices
    go_invoice = go_invoices(sim)[ref.id]
    assert found == InvoiceSnapshot(
        id=ref.id,
        number=number,
        kind="invoice",
        total=Decimal(str(go_invoice["TotalAmount"])),
        balance=Decimal(str(go_invoice["TotalAmount"])),
        currency="NOK",
        order_id=ref.id,
        reference="shop:5901",
        changed_at=found.changed_at,
    )
    assert found.total == Decimal("250.00") and found.changed_at is not None
    assert page.cursor["voucher_no"] == number and not page.more


def test_the_first_poll_looks_back_a_week_then_follows_voucher_numbers(
    sim: httpx.Client, go: PowerOfficeConnector
) -> None:
    first = go.invoices_since({})
    assert first.invoices == [] and "voucher_no" not in first.cursor
    week_ago = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    assert invoice_polls(sim)[0]["fromDate"] == [week_ago]
    assert invoice_polls(sim)[1]["balanceLastChangedDateTimeOffsetGreaterThan"][0].startswith(
        f"{week_ago}T00:00:00"
    )
    ref = transfer(go, net_order("5902"))
    number = invoice(go, ref)
    second = go.invoices_since(first.cursor)
    assert [s.number for s in second.invoices] == [number]
    third = go.invoices_since(second.cursor)
    assert invoice_polls(sim)[-2]["voucherNos"] == [f"{int(number) + 1}-"]
    assert all(s.id == ref.id for s in third.invoices)  # at most the overlap, read again


def test_lines_are_read_only_when_asked(sim: httpx.Client, go: PowerOfficeConnector) -> None:
    ref = transfer(go, net_order("5903", THREE_LINES))
    invoice(go, ref)
    go.invoices_since({})
    endpoints = [c["endpoint"] for c in sim.get("/_sim/calls").json()["calls"]]
    assert "GET /OutgoingInvoices/{id}/Lines" not in endpoints
    lines = go.invoice_lines(ref.id)
    assert [line["ProductCode"] for line in lines] == ["SKU-1", "SKU-2", "SKU-3"]


def test_every_page_is_read(sim: httpx.Client, server: str) -> None:
    go = connector_for(server, invoice_page_size=2)
    refs = [transfer(go, net_order(f"591{n}")) for n in range(5)]
    for ref in refs:
        invoice(go, ref)
    page = go.invoices_since({})
    assert sorted(by_id(page)) == sorted(ref.id for ref in refs)
    assert max(int(q["PageNumber"][0]) for q in invoice_polls(sim)) == 3


# --- payments ---------------------------------------------------------------------------------


def test_two_partial_payments_show_as_balances(sim: httpx.Client, go: PowerOfficeConnector) -> None:
    ref = transfer(go, net_order("5904"))  # 250.00
    invoice(go, ref)
    first = go.invoices_since({})
    pay(sim, ref.id, "100.00")
    second = go.invoices_since(first.cursor)
    assert by_id(second)[ref.id].balance == Decimal("150.00")
    pay(sim, ref.id)  # the rest
    third = go.invoices_since(second.cursor)
    assert by_id(third)[ref.id].balance == Decimal("0.00")
    assert by_id(third)[ref.id].total == Decimal("250.00")
    again = go.invoices_since(first.cursor)  # an older cursor is safe: it only reads more
    assert by_id(again)[ref.id].balance == Decimal("0.00")


def test_payments_sharing_a_stamp_across_two_polls_are_both_seen(
    sim: httpx.Client, go: PowerOfficeConnector
) -> None:
    configure(sim, balance_stamp_resolution_seconds=3600)  # every stamp in this test is equal
    refs = [transfer(go, net_order(f"592{n}")) for n in range(2)]
    for ref in refs:
        invoice(go, ref)
    start = go.invoices_since({})
    first_payment = pay(sim, refs[0].id, "30.00")
    after_first = go.invoices_since(start.cursor)
    assert by_id(after_first)[refs[0].id].balance == Decimal("220.00")
    second_payment = pay(sim, refs[1].id, "40.00")
    stamp = first_payment["BalanceLastChangedDateTimeOffset"]
    assert second_payment["BalanceLastChangedDateTimeOffset"] == stamp
    # A cursor exactly at the stamp already seen would miss the second payment (exclusive) ...
    naive = {**after_first.cursor, "balance_after": stamp}
    assert refs[1].id not in by_id(go.invoices_since(naive))
    # ... ours stays behind it, so the second payment is seen on the next poll.
    assert parse_stamp(after_first.cursor["balance_after"]) < parse_stamp(stamp)
    after_second = go.invoices_since(after_first.cursor)
    assert by_id(after_second)[refs[1].id].balance == Decimal("210.00")


def test_the_cursor_never_leaves_a_gap(sim: httpx.Client, server: str) -> None:
    """Random invoices, partial payments and polls: after every poll, what we have seen of each
    invoice is what Go shows, and the cursor never moves backwards."""
    configure(sim, balance_stamp_resolution_seconds=1)  # stamps repeat within a second
    go = connector_for(server, invoice_page_size=3)
    rng = random.Random(10)
    seen: dict[str, Decimal] = {}
    cursor: dict[str, str] = {}
    refs: list[OrderRef] = []
    for round_no in range(8):
        for n in range(rng.randint(0, 2)):
            refs.append(transfer(go, net_order(f"593{round_no}{n}")))
            invoice(go, refs[-1])
        for ref in rng.sample(refs, k=min(len(refs), rng.randint(0, 3))):
            left = Decimal(str(go_invoices(sim)[ref.id]["Balance"]))
            if left > 0:
                pay(sim, ref.id, str(min(left, Decimal(rng.randint(1, 120)))))
        page = go.invoices_since(cursor)
        seen.update({s.id: s.balance for s in page.invoices})
        truth = {i: Decimal(str(doc["Balance"])) for i, doc in go_invoices(sim).items()}
        assert seen == truth, f"round {round_no}"
        if cursor:
            assert int(page.cursor.get("voucher_no", 0)) >= int(cursor.get("voucher_no", 0))
            assert parse_stamp(page.cursor["balance_after"]) >= parse_stamp(cursor["balance_after"])
        cursor = page.cursor
    assert len(refs) >= 5


# --- credit notes -----------------------------------------------------------------------------


def credit_for(original: dict[str, Any], lines: list[dict[str, Any]]) -> Order:
    return Order.model_validate(
        order(
            f"{original['external_id']}-r1",
            lines=lines,
            prices_include_vat=False,
            credit_for=original["external_id"],
        )
    )


def create_credit(go: PowerOfficeConnector, credit: Order, source: CreditSource) -> OrderRef:
    customer_id = go.upsert_customer(credit.customer, customer_key(credit.customer))
    go.upsert_products(go.products_for(credit))
    return go.create_credit_note(credit, f"shop:{credit.external_id}", customer_id, None, source)


def test_a_credit_note_credits_the_invoice_it_names(
    sim: httpx.Client, go: PowerOfficeConnector
) -> None:
    original = net_order("5940", THREE_LINES)
    ref = transfer(go, original)
    number = invoice(go, ref)
    credit = credit_for(original, original["lines"][:2])  # two of three lines
    source = CreditSource(ref.id, ref.number, number, Decimal("266.00"), "NOK")
    credit_ref = create_credit(go, credit, source)
    draft = next(
        o for o in sim.get("/_sim/state").json()["SalesOrders"] if o["Id"] == credit_ref.id
    )
    assert draft["ExternalImportReference"] == "shop:5940-r1"
    assert draft["RelatedInvoiceNo"] == int(number)
    text, *credited = draft["SalesOrderLines"]
    assert (text["LineType"], text["Description"]) == ("Text", f"Credit note for invoice {number}")
    assert [(line["ProductCode"], line["Quantity"]) for line in credited] == [
        ("SKU-1", -1),
        ("SKU-2", -2),
    ]
    assert draft["TotalAmount"] == -228.5
    again = create_credit(go, credit, source)
    assert again.existed and again.id == credit_ref.id

    invoice(go, credit_ref)  # the ordinary send path
    page = go.invoices_since({})
    note = by_id(page)[credit_ref.id]
    assert (note.kind, note.credited_invoice, note.reference) == (
        "credit_note",
        number,
        "shop:5940-r1",
    )
    assert note.total == note.balance == Decimal("228.50")
    assert by_id(page)[ref.id].kind == "invoice"
    pay(sim, credit_ref.id, "28.50")  # refunded in part
    assert by_id(go.invoices_since(page.cursor))[credit_ref.id].balance == Decimal("200.00")


def test_credit_note_amounts_are_positive_whichever_sign_go_shows(
    sim: httpx.Client, go: PowerOfficeConnector
) -> None:
    configure(sim, credit_note_amounts_negative=False)
    original = net_order("5941")
    ref = transfer(go, original)
    number = invoice(go, ref)
    credit_ref = create_credit(
        go,
        credit_for(original, original["lines"]),
        CreditSource(ref.id, ref.number, number, Decimal(250), "NOK"),
    )
    invoice(go, credit_ref)
    note = by_id(go.invoices_since({}))[credit_ref.id]
    assert note.kind == "credit_note" and note.total == note.balance == Decimal("250.00")


def test_a_credit_note_for_an_order_never_invoiced_names_the_order(
    sim: httpx.Client, go: PowerOfficeConnector
) -> None:
    original = net_order("5942")
    ref = transfer(go, original)
    credit = credit_for(original, [product_line("A", "1", "100.00")])
    credit_ref = create_credit(
        go, credit, CreditSource(ref.id, ref.number, None, Decimal(250), "NOK")
    )
    draft = next(
        o for o in sim.get("/_sim/state").json()["SalesOrders"] if o["Id"] == credit_ref.id
    )
    assert draft["RelatedInvoiceNo"] is None
    assert draft["SalesOrderLines"][0]["Description"] == f"Credit note for order {ref.number}"
    assert draft["TotalAmount"] == -125
