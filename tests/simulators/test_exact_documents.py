"""The four documents of the Exact Online simulator (sales order, invoice, direct invoice, sales
entry) with their mandatory fields, references, numbers and statuses, plus the accounts, contacts
and items they refer to, and how bodies are read (erp/exact-online.md §6-§8)."""

from __future__ import annotations

import httpx
import pytest

from simulators.exact import GL_ACCOUNT_1300_ID, GL_ACCOUNT_8010_ID, WAREHOUSE_ID
from tests.support.sim_exact import (  # noqa: F401 (fixtures)
    api_fixture,
    created,
    entry_body,
    error_text,
    invoice_body,
    make_account,
    make_item,
    order_body,
    server_fixture,
    sim_fixture,
)

MISSING_GUID = "00000000-0000-4000-8000-0000000000ff"
REQUEST_STREAM = (
    "Error processing request stream. The request should be a valid top-level resource object."
)


def refused(response: httpx.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    return error_text(response)


# --- sales orders ----------------------------------------------------------------------------


def test_order_is_numbered_open_and_priced_from_its_lines(
    api: httpx.Client, sim: httpx.Client
) -> None:
    account, item = make_account(api), make_item(api, StandardSalesPrice=12)
    body = order_body(
        account,
        item,
        SalesOrderLines=[
            {"Item": item["ID"], "Quantity": 2, "Discount": 0.25},
            {"Item": item["ID"]},
        ],
    )

    first = created(api.post("/salesorder/SalesOrders", json=body))
    second = created(api.post("/salesorder/SalesOrders", json=body))  # same YourRef: accepted

    assert isinstance(first["OrderNumber"], int)
    assert second["OrderNumber"] == first["OrderNumber"] + 1
    assert first["Status"] == 12 and first["OrderedBy"] == account["ID"]
    lines = first["SalesOrderLines"]["results"]
    assert [
        (line["Quantity"], line["UnitPrice"], line["NetPrice"], line["AmountFC"]) for line in lines
    ] == [(2, 12, 9.0, 18.0), (1, 12, 12.0, 12.0)]
    assert first["AmountFCExclVat"] == 30.0 and first["AmountFC"] == 36.3  # 21% VAT
    stored = sim.get("/_sim/state").json()["SalesOrders"]
    assert [len(order["SalesOrderLines"]) for order in stored] == [2, 2]
    assert {order["YourRef"] for order in stored} == {"1001"}


def test_order_mandatory_fields_are_reported_together(api: httpx.Client) -> None:
    item = make_item(api)

    empty = api.post("/salesorder/SalesOrders", json={"YourRef": "1"})
    line_without_item = api.post(
        "/salesorder/SalesOrders",
        json={"OrderedBy": make_account(api)["ID"], "SalesOrderLines": [{"Quantity": 1}]},
    )
    unknown_item = api.post(
        "/salesorder/SalesOrders", json=order_body(make_account(api), {**item, "ID": MISSING_GUID})
    )
    unknown_account = api.post(
        "/salesorder/SalesOrders", json=order_body({"ID": MISSING_GUID}, item)
    )

    assert refused(empty) == "Mandatory: Ordered by\r\nMandatory: Sales order lines"
    assert refused(line_without_item) == "Mandatory: Item"
    assert refused(unknown_item) == "Invalid reference: Items"
    assert refused(unknown_account) == "Invalid reference: Accounts"


def test_lines_sent_as_an_object_are_a_request_stream_error(api: httpx.Client) -> None:
    account, item = make_account(api), make_item(api)

    response = api.post(
        "/salesorder/SalesOrders",
        json={"OrderedBy": account["ID"], "SalesOrderLines": {"Item": item["ID"]}},
    )

    assert refused(response) == REQUEST_STREAM


def test_bodies_are_read_like_wcf(api: httpx.Client, sim: httpx.Client) -> None:
    unknown_property = api.post("/crm/Accounts", json={"Name": "Ola", "Nmae": "x"})
    wrong_case = api.post("/crm/Accounts", json={"name": "Ola"})
    bad_guid = api.post(
        "/salesorder/SalesOrders", json={"OrderedBy": "kari", "SalesOrderLines": []}
    )
    not_json = api.post(
        "/crm/Accounts", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    read_only = make_account(api, Name="Ola", ID=MISSING_GUID, Created="2001-01-01")

    assert "property name 'Nmae'" in refused(unknown_property)
    assert "property name 'name'" in refused(wrong_case)
    assert "'System.Guid'" in refused(bad_guid)
    assert refused(not_json) == REQUEST_STREAM
    assert read_only["ID"] != MISSING_GUID and read_only["Created"] != "/Date(978307200000)/"
    sim.post("/_sim/config", json={"reject_unknown_fields": False}).raise_for_status()
    assert api.post("/crm/Accounts", json={"Name": "Ola", "Nmae": "x"}).status_code == 201


def test_order_header_can_be_updated_without_lines(api: httpx.Client) -> None:
    order = created(
        api.post("/salesorder/SalesOrders", json=order_body(make_account(api), make_item(api)))
    )
    key = f"/salesorder/SalesOrders(guid'{order['OrderID']}')"

    response = api.put(key, json={"Description": "Rush"})

    assert response.status_code == 204
    after = api.get(key, params={"$expand": "SalesOrderLines"}).json()["d"]
    assert after["Description"] == "Rush" and len(after["SalesOrderLines"]["results"]) == 1


# --- sales invoices --------------------------------------------------------------------------


def test_invoice_is_open_without_a_number_until_printed(api: httpx.Client) -> None:
    invoice = created(
        api.post(
            "/salesinvoice/SalesInvoices", json=invoice_body(make_account(api), make_item(api))
        )
    )
    key = f"/salesinvoice/SalesInvoices(guid'{invoice['InvoiceID']}')"

    printed = api.post(
        "/salesinvoice/PrintedSalesInvoices", json={"InvoiceID": invoice["InvoiceID"]}
    )
    after = api.get(key).json()["d"]

    assert invoice["Status"] == 20 and invoice["InvoiceNumber"] is None
    assert invoice["Type"] == 8020 and invoice["Journal"] == "70"
    assert created(printed)["InvoiceID"] == invoice["InvoiceID"]
    assert after["Status"] == 50 and isinstance(after["InvoiceNumber"], int)
    assert str(after["InvoiceNumber"])[2:4] == "70"  # year, journal, sequence
    assert refused(
        api.post("/salesinvoice/PrintedSalesInvoices", json={"InvoiceID": invoice["InvoiceID"]})
    )
    assert refused(api.put(key, json={"Description": "late"}))
    assert refused(api.delete(key))


def test_printing_needs_an_existing_invoice(api: httpx.Client) -> None:
    assert refused(api.post("/salesinvoice/PrintedSalesInvoices", json={})) == (
        "Mandatory: Invoice"
    )
    assert (
        refused(api.post("/salesinvoice/PrintedSalesInvoices", json={"InvoiceID": MISSING_GUID}))
        == "Invalid reference: SalesInvoices"
    )
    assert api.get("/salesinvoice/PrintedSalesInvoices").status_code == 405


def test_invoice_mandatory_fields_and_journal_rules(api: httpx.Client) -> None:
    account, item = make_account(api), make_item(api)

    missing = api.post("/salesinvoice/SalesInvoices", json={"YourRef": "1"})
    unknown_journal = api.post(
        "/salesinvoice/SalesInvoices", json=invoice_body(account, item, Journal="99")
    )
    journal_as_guid = api.post(
        "/salesinvoice/SalesInvoices",
        json=invoice_body(account, item, Journal="00000070-0000-4000-8000-000000000070"),
    )
    memorial = api.post(
        "/salesinvoice/SalesInvoices", json=invoice_body(account, item, Journal="90")
    )
    bad_type = api.post("/salesinvoice/SalesInvoices", json=invoice_body(account, item, Type=8099))

    assert refused(missing) == (
        "Mandatory: Journal\r\nMandatory: Invoice to\r\n"
        "Mandatory: Ordered by\r\nMandatory: Sales invoice lines"
    )
    assert refused(unknown_journal) == "Invalid reference: Journals"
    assert refused(journal_as_guid) == "Invalid reference: Journals"
    assert "not a sales journal" in refused(memorial)
    assert refused(bad_type) == "Invalid value: Type"


def test_direct_invoice_needs_a_warehouse_and_a_normal_one_refuses_it(api: httpx.Client) -> None:
    account, item = make_account(api), make_item(api)

    direct = api.post(
        "/salesinvoice/SalesInvoices",
        json=invoice_body(account, item, Type=8023, Warehouse=WAREHOUSE_ID),
    )
    direct_without = api.post(
        "/salesinvoice/SalesInvoices", json=invoice_body(account, item, Type=8023)
    )
    direct_unknown = api.post(
        "/salesinvoice/SalesInvoices",
        json=invoice_body(account, item, Type=8023, Warehouse=MISSING_GUID),
    )
    normal_with = api.post(
        "/salesinvoice/SalesInvoices", json=invoice_body(account, item, Warehouse=WAREHOUSE_ID)
    )

    assert created(direct)["Type"] == 8023 and direct.json()["d"]["Status"] == 20
    assert refused(direct_without) == "Mandatory: Warehouse"
    assert refused(direct_unknown) == "Invalid reference: Warehouses"
    assert refused(normal_with) == "Warehouse is only allowed on a direct invoice"


def test_invoice_lines_take_the_items_revenue_account(api: httpx.Client) -> None:
    item = make_item(api, GLRevenue=GL_ACCOUNT_8010_ID, SalesVatCode="1")

    invoice = created(
        api.post("/salesinvoice/SalesInvoices", json=invoice_body(make_account(api), item))
    )

    line = invoice["SalesInvoiceLines"]["results"][0]
    assert line["GLAccount"] == GL_ACCOUNT_8010_ID and line["GLAccountCode"] == "8010"
    assert line["VATCode"] == "1  " and line["VATAmountFC"] == 0.9


# --- sales entries ---------------------------------------------------------------------------


def test_sales_entry_is_numbered_open_with_vat_from_the_account(api: httpx.Client) -> None:
    account = make_account(api)

    entry = created(api.post("/salesentry/SalesEntries", json=entry_body(account)))
    other = created(api.post("/salesentry/SalesEntries", json=entry_body(account)))

    assert entry["Status"] == 20 and isinstance(entry["EntryNumber"], int)
    assert other["EntryNumber"] == entry["EntryNumber"] + 1
    assert entry["AmountFC"] == 121.0 and entry["VATAmountFC"] == 21.0
    line = entry["SalesEntryLines"]["results"][0]
    assert line["AmountFC"] == 100.0 and line["VATCode"] == "2  "


def test_sales_entry_mandatory_fields_and_references(api: httpx.Client) -> None:
    account = make_account(api)

    missing = api.post("/salesentry/SalesEntries", json={"YourRef": "1"})
    bare_line = api.post(
        "/salesentry/SalesEntries", json=entry_body(account, SalesEntryLines=[{"Description": "x"}])
    )
    unknown_gl = api.post(
        "/salesentry/SalesEntries",
        json=entry_body(account, SalesEntryLines=[{"AmountFC": 1, "GLAccount": MISSING_GUID}]),
    )
    unknown_vat = api.post(
        "/salesentry/SalesEntries",
        json=entry_body(
            account,
            SalesEntryLines=[{"AmountFC": 1, "GLAccount": GL_ACCOUNT_1300_ID, "VATCode": "7"}],
        ),
    )

    assert refused(missing) == (
        "Mandatory: Customer\r\nMandatory: Journal\r\nMandatory: Sales entry lines"
    )
    assert refused(bare_line) == "Mandatory: Amount\r\nMandatory: G/L account"
    assert refused(unknown_gl) == "Invalid reference: GLAccounts"
    assert refused(unknown_vat) == "Invalid reference: VATCodes"


def test_bad_reference_status_is_an_option(api: httpx.Client, sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"bad_reference_status": 500}).raise_for_status()

    response = api.post("/salesentry/SalesEntries", json=entry_body({"ID": MISSING_GUID}))

    assert refused(response, 500) == "Invalid reference: Accounts"


def test_printing_can_book_the_sales_entry(api: httpx.Client, sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"print_creates_sales_entry": True}).raise_for_status()
    invoice = created(
        api.post(
            "/salesinvoice/SalesInvoices", json=invoice_body(make_account(api), make_item(api))
        )
    )

    created(
        api.post("/salesinvoice/PrintedSalesInvoices", json={"InvoiceID": invoice["InvoiceID"]})
    )

    state = sim.get("/_sim/state").json()
    number = state["SalesInvoices"][0]["InvoiceNumber"]
    assert [(e["EntryNumber"], e["YourRef"]) for e in state["SalesEntries"]] == [(number, "1001")]


# --- accounts, contacts, items ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/crm/Accounts", {"Email": "a@b.c"}, "Mandatory: Name"),
        ("/crm/Accounts", {"Name": "A", "Status": "X"}, "Invalid value: Status"),
        ("/crm/Accounts", {"Name": "A", "Code": "1" * 19}, "Code is longer than 18 characters"),
        (
            "/crm/Contacts",
            {"Email": "a@b.c"},
            "Mandatory: Account\r\nMandatory: First name\r\nMandatory: Last name",
        ),
        ("/logistics/Items", {"Barcode": "1"}, "Mandatory: Code\r\nMandatory: Description"),
    ],
)
def test_master_data_mandatory_fields(
    api: httpx.Client, path: str, body: dict[str, str], message: str
) -> None:
    assert refused(api.post(path, json=body)) == message


def test_codes_are_unique(api: httpx.Client) -> None:
    make_account(api, Code="42")
    make_item(api, "SKU-1")

    assert refused(api.post("/crm/Accounts", json={"Name": "B", "Code": " 42"})) == (
        "Code 42 already exists"
    )
    assert refused(api.post("/logistics/Items", json={"Code": "SKU-1", "Description": "x"}))


def test_contact_belongs_to_an_existing_account(api: httpx.Client) -> None:
    account = make_account(api)

    contact = created(
        api.post(
            "/crm/Contacts",
            json={"Account": account["ID"], "FirstName": "Kari", "LastName": "Nordmann"},
        )
    )
    orphan = api.post(
        "/crm/Contacts", json={"Account": MISSING_GUID, "FirstName": "K", "LastName": "N"}
    )

    assert contact["FullName"] == "Kari Nordmann" and contact["AccountName"] == account["Name"]
    assert refused(orphan) == "Invalid reference: Accounts"


def test_accounts_and_items_in_use_can_not_be_deleted(api: httpx.Client) -> None:
    account, item = make_account(api), make_item(api)
    created(api.post("/salesorder/SalesOrders", json=order_body(account, item)))

    assert refused(api.delete(f"/crm/Accounts(guid'{account['ID']}')"))
    assert refused(api.delete(f"/logistics/Items(guid'{item['ID']}')"))


def test_dutch_mandatory_messages(api: httpx.Client, sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"language": "nl"}).raise_for_status()

    response = api.post("/salesorder/SalesOrders", json={"SalesOrderLines": [{"Quantity": 1}]})

    assert refused(response) == "Verplicht: Besteld door\r\nVerplicht: Artikel"


def test_post_without_prefer_can_null_unsent_fields(api: httpx.Client, sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"full_reply_without_prefer": False}).raise_for_status()
    account, item = make_account(api), make_item(api)

    plain = created(api.post("/salesorder/SalesOrders", json=order_body(account, item)))
    full = created(
        api.post(
            "/salesorder/SalesOrders",
            json=order_body(account, item),
            headers={"Prefer": "return=representation"},
        )
    )

    assert plain["OrderNumber"] is None and plain["OrderID"] and plain["YourRef"] == "1001"
    assert isinstance(full["OrderNumber"], int)
