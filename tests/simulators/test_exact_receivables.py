"""The Exact Online simulator's credit notes, receivables and `/_sim/payments` over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from simulators.exact import GL_ACCOUNT_8000_ID
from tests.support.sim_exact import (  # noqa: F401 (fixtures)
    api_fixture,
    created,
    entry_body,
    error_text,
    invoice_body,
    make_account,
    make_item,
    server_fixture,
    sim_fixture,
)


def processed(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    invoice = created(
        api.post(
            "/salesinvoice/SalesInvoices",
            json=invoice_body(make_account(api), make_item(api), **fields),
        )
    )
    created(
        api.post("/salesinvoice/PrintedSalesInvoices", json={"InvoiceID": invoice["InvoiceID"]})
    )
    return invoice


def receivables(api: httpx.Client, filter_: str) -> list[dict[str, Any]]:
    reply = api.get("/cashflow/Receivables", params={"$filter": filter_})
    assert reply.status_code == 200, reply.text
    rows: list[dict[str, Any]] = reply.json()["d"]["results"]
    return rows


def test_processing_opens_a_receivable_and_payments_split_it(
    api: httpx.Client, sim: httpx.Client
) -> None:
    invoice = processed(api)
    number = sim.get("/_sim/state").json()["SalesInvoices"][0]["InvoiceNumber"]

    [opened] = receivables(api, f"InvoiceNumber eq {number}")
    part = sim.post("/_sim/payments", json={"invoice_id": invoice["InvoiceID"], "amount": "4"})
    rest = sim.post("/_sim/payments", json={"invoice_id": invoice["InvoiceID"]})
    too_much = sim.post("/_sim/payments", json={"invoice_id": invoice["InvoiceID"], "amount": 1})

    assert opened["AmountFC"] == 12.1 and opened["Status"] == 20 and not opened["IsFullyPaid"]
    assert part.json()["Outstanding"] == 8.1 and rest.json()["Outstanding"] == 0
    assert too_much.status_code == 400
    rows = receivables(api, f"InvoiceNumber eq {number} and Modified ge datetime'2020-01-01'")
    assert sorted((r["AmountFC"], r["Status"]) for r in rows) == [(4, 50), (8.1, 50)]


def test_payments_refuse_bad_bodies_and_open_invoices(api: httpx.Client, sim: httpx.Client) -> None:
    draft = created(
        api.post(
            "/salesinvoice/SalesInvoices", json=invoice_body(make_account(api), make_item(api))
        )
    )

    assert sim.post("/_sim/payments", json={"amount": "1"}).status_code == 400
    assert sim.post("/_sim/payments", json={"invoice_id": draft["InvoiceID"]}).status_code == 400
    unknown = {"invoice_id": "00000000-0000-4000-8000-000000000bad"}
    assert sim.post("/_sim/payments", json=unknown).status_code == 400


@pytest.mark.parametrize(
    ("option", "quantity", "ok"),
    [
        ("negative", -1, True),
        ("negative", 1, False),
        ("positive", 1, True),
        ("positive", -1, False),
    ],
)
def test_credit_note_quantities_are_an_option(
    api: httpx.Client, sim: httpx.Client, option: str, quantity: int, ok: bool
) -> None:
    sim.post("/_sim/config", json={"credit_note_quantities": option}).raise_for_status()
    body = invoice_body(make_account(api), make_item(api), Type=8021)
    body["SalesInvoiceLines"][0]["Quantity"] = quantity

    reply = api.post("/salesinvoice/SalesInvoices", json=body)

    if ok:
        assert created(reply)["AmountFC"] == -12.1
    else:
        assert reply.status_code == 400 and error_text(reply) == "Invalid value: Quantity"


def test_a_negative_sales_entry_is_a_credit_note(api: httpx.Client) -> None:
    account = make_account(api)
    lines = [{"AmountFC": -100, "GLAccount": GL_ACCOUNT_8000_ID}]

    credit = created(
        api.post("/salesentry/SalesEntries", json=entry_body(account, SalesEntryLines=lines))
    )
    contradicted = api.post("/salesentry/SalesEntries", json=entry_body(account, Type=21))

    assert credit["Type"] == 21 and credit["AmountFC"] == -121.0
    assert contradicted.status_code == 400
    [row] = receivables(api, f"InvoiceNumber eq {credit['InvoiceNumber']}")
    assert row["AmountFC"] == -121.0 and row["TransactionEntryID"] == credit["EntryID"]


def test_invoicing_an_order_links_the_invoice_back(api: httpx.Client, sim: httpx.Client) -> None:
    account, item = make_account(api), make_item(api)
    order = created(
        api.post(
            "/salesorder/SalesOrders",
            json={
                "OrderedBy": account["ID"],
                "YourRef": "r-1",
                "SalesOrderLines": [{"Item": item["ID"], "Quantity": 2}],
            },
        )
    )

    reply = sim.post("/_sim/invoice-order", json={"order_id": order["OrderID"]})
    again = sim.post("/_sim/invoice-order", json={"order_id": order["OrderID"]})

    invoice = reply.json()
    assert reply.status_code == 201 and invoice["Status"] == 50
    assert invoice["OrderNumber"] == order["OrderNumber"] and invoice["YourRef"] == "r-1"
    assert again.status_code == 400
