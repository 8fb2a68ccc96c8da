"""The PowerOffice Go simulator over real HTTP: the ERP's rules (erp/poweroffice-go.md §9) and the
shared fault modes, as a connector will meet them."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from simulators.poweroffice import create_app
from tests.support.sim_server import simulator_fixtures

SUBSCRIPTION = {"Ocp-Apim-Subscription-Key": "demo-subscription-key"}
GOOD_BASIC = base64.b64encode(b"demo-app-key:demo-client-key").decode()
POLL_DEADLINE_S = 5.0


server, sim = simulator_fixtures(create_app, rate_limit_per_second=0)


def token(
    sim: httpx.Client, path: str = "/Demo/OAuth/Token", basic: str = GOOD_BASIC
) -> httpx.Response:
    return sim.post(
        path,
        data={"grant_type": "client_credentials"},
        headers={**SUBSCRIPTION, "Authorization": f"Basic {basic}"},
    )


@pytest.fixture
def api(server: str, sim: httpx.Client) -> Iterator[httpx.Client]:
    """An authorised client on the demo API base."""
    access = token(sim).json()["access_token"]
    headers = {**SUBSCRIPTION, "Authorization": f"Bearer {access}"}
    with httpx.Client(base_url=f"{server}/Demo/v2", headers=headers, timeout=10) as client:
        yield client


def make_customer(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    address = {"AddressLine1": "Storgata 1", "City": "Oslo", "ZipCode": "0155"}
    body = {
        "Name": "Kari Nordmann AS",
        "EmailAddress": "kari@example.no",
        "MailAddress": address,
        **fields,
    }
    response = api.post("/Customers", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def make_product(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"Code": "KAFFE-500", "Name": "Kaffe 500 g", "UnitPrice": 100, **fields}
    response = api.post("/Products", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def order_body(customer: dict[str, Any], ref: str = "shop:1001", **fields: Any) -> dict[str, Any]:
    return {
        "CustomerNo": customer["Number"],
        "ExternalImportReference": ref,
        "SalesOrderLines": [
            {"ProductCode": "KAFFE-500", "Quantity": 2, "Allowance": 10},
            {"LineType": "Text", "Description": "Gift wrap, please"},
        ],
        **fields,
    }


def make_order(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    customer = make_customer(api)
    make_product(api, StandardSalesAccount=3030)
    response = api.post("/SalesOrders/Complete", json=order_body(customer, **fields))
    assert response.status_code == 201, response.text
    return response.json()


def poll(check: Callable[[], Any], deadline_s: float = POLL_DEADLINE_S) -> Any:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("condition not met before the deadline")


# --- auth and gateway -------------------------------------------------------------------------


def test_token_with_good_keys_on_both_token_urls(sim: httpx.Client) -> None:
    for path in ("/OAuth/Token", "/demo/oauth/Token"):
        response = token(sim, path)
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == 1200
        assert body["access_token"]


def test_token_with_bad_keys_is_invalid_client(sim: httpx.Client) -> None:
    response = token(sim, basic=base64.b64encode(b"demo-app-key:wrong").decode())
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "Client integration not found. Please ensure the provided keys are "
        "matching the desired environment.",
    }


def test_api_calls_need_bearer_and_subscription_key(sim: httpx.Client, api: httpx.Client) -> None:
    no_bearer = sim.get("/v2/Customers", headers=SUBSCRIPTION)
    assert no_bearer.status_code == 401
    no_key = sim.get("/v2/Customers", headers={"Authorization": api.headers["Authorization"]})
    assert no_key.status_code == 401
    assert "missing subscription key" in no_key.json()["message"]
    assert api.get("/Customers").status_code == 204  # the same token works on the demo base


def test_expired_token_is_refused(sim: httpx.Client) -> None:
    sim.post("/_sim/config", json={"token_lifetime_s": 0}).raise_for_status()
    access = token(sim).json()["access_token"]
    headers = {**SUBSCRIPTION, "Authorization": f"Bearer {access}"}
    response = sim.get("/v2/Customers", headers=headers)
    assert response.status_code == 401


def test_more_than_ten_calls_a_second_are_throttled(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"rate_limit_per_second": 10}).raise_for_status()
    statuses: list[int] = []

    def throttled() -> httpx.Response | None:
        response = api.get("/Customers")
        statuses.append(response.status_code)
        return response if response.status_code == 429 else None

    response = poll(throttled)
    assert statuses.index(429) >= 10
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "statusCode": "429",
        "message": "Rate limit is exceeded. Try again in 1 seconds.",
    }
    poll(lambda: api.get("/Customers").status_code == 204)  # the window moves on


# --- list conventions -------------------------------------------------------------------------


def test_empty_list_is_204_with_empty_body(api: httpx.Client) -> None:
    response = api.get("/Customers")
    assert response.status_code == 204 and response.content == b""


def test_odata_and_oversized_pages_are_invalid_resource_parameters(api: httpx.Client) -> None:
    for params in ({"$filter": "Name eq 'x'"}, {"$top": "5"}, {"PageSize": "20001"}):
        response = api.get("/Customers", params=params)
        assert response.status_code == 400
        assert response.json()["title"] == "Invalid resourceParameter"


def test_paging_fields_and_pagination_header(api: httpx.Client) -> None:
    for n in range(3):
        make_customer(api, Name=f"Kunde {n}", ExternalImportReference=f"c-{n}")
    response = api.get("/customers", params={"pageSize": 2, "Fields": "Id,Name"})
    assert response.status_code == 200
    assert [set(c) for c in response.json()] == [{"Id", "Name"}] * 2
    pagination = httpx.Response(200, content=response.headers["X-Pagination"]).json()
    assert pagination["totalCount"] == 3 and "PageNumber=2" in pagination["nextPageLink"]
    assert len(api.get("/Customers", params={"PageSize": 2, "PageNumber": 2}).json()) == 1
    assert api.get("/Customers", params={"PageSize": 2, "PageNumber": 3}).status_code == 204


# --- customers --------------------------------------------------------------------------------


def test_customer_create_numbers_and_lookup(api: httpx.Client) -> None:
    first = make_customer(api, ExternalImportReference="c-42")
    second = make_customer(api, Name="Ola AS")
    assert isinstance(first["Id"], int) and first["Number"] == 10000 and second["Number"] == 10001
    assert first["MailAddress"]["CountryCode"] == "NO"
    found = api.get("/Customers", params={"externalImportReference": "c-42"}).json()
    assert [c["Id"] for c in found] == [first["Id"]]
    assert api.get(f"/Customers/{second['Id']}").json()["Name"] == "Ola AS"


def test_customer_duplicate_external_import_reference(api: httpx.Client) -> None:
    first = make_customer(api, ExternalImportReference="ABC123")
    response = api.post("/Customers", json={"Name": "Other", "ExternalImportReference": "ABC123"})
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Customer validation error(s)" and body["status"] == 400
    assert body["detail"] == (
        f"ExternalImportReference is already in use. 'ABC123' is used on "
        f"(contact) Id = {first['Id']}."
    )


def test_customer_validation(api: httpx.Client) -> None:
    bad = [
        {"EmailAddress": "x@example.no"},
        {"Name": "A", "MailAddress": {"City": "Oslo"}},
        {"Name": "A", "ExternalImportReference": "x" * 51},
    ]
    for body in bad:
        assert api.post("/Customers", json=body).status_code == 400
    person = api.post("/Customers", json={"IsPerson": True, "FirstName": "Kari", "LastName": "N"})
    assert person.status_code == 201 and person.json()["Name"] == "Kari N"


def test_customer_json_patch(api: httpx.Client) -> None:
    customer = make_customer(api)
    ops = [
        {"op": "replace", "path": "/EmailAddress", "value": "ny@example.no"},
        {"op": "replace", "path": "/MailAddress/City", "value": "Bergen"},
    ]
    response = api.patch(
        f"/Customers/{customer['Id']}",
        json=ops,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert response.status_code == 200
    patched = response.json()
    assert patched["EmailAddress"] == "ny@example.no" and patched["MailAddress"]["City"] == "Bergen"
    assert patched["LastChangedDateTimeOffset"] > customer["LastChangedDateTimeOffset"]
    plain_json = api.patch(f"/Customers/{customer['Id']}", json=ops)
    assert plain_json.status_code == 415


# --- products ---------------------------------------------------------------------------------


def test_product_lookup_by_codes_and_duplicate_code(api: httpx.Client) -> None:
    kaffe = make_product(api)
    te = make_product(api, Code="TE-100", Name="Te", StandardSalesAccount=3033)
    make_product(api, Code="KAKAO", Name="Kakao")
    found = api.get("/Products", params={"codes": "KAFFE-500,TE-100"}).json()
    assert sorted(p["Id"] for p in found) == sorted([kaffe["Id"], te["Id"]])
    assert kaffe["StandardSalesAccount"] == 3000 and te["StandardSalesAccount"] == 3033
    duplicate = api.post("/Products", json={"Code": "KAFFE-500", "Name": "Again"})
    assert duplicate.status_code == 400
    assert duplicate.json()["title"] == "Product validation error(s)"
    assert api.post("/Products", json={"Code": "X"}).status_code == 400  # Name is required


# --- sales orders -----------------------------------------------------------------------------


def test_sales_order_complete_shape_and_amounts(api: httpx.Client) -> None:
    order = make_order(api)
    assert uuid.UUID(order["Id"]) and order["SalesOrderNo"] == 1
    assert order["SalesOrderStatus"] == "Draft" and order["ExternalImportReference"] == "shop:1001"
    product_line, text_line = order["SalesOrderLines"]
    # 2 × 100 less 10 % = 180 net; account 3030 means VAT code 31 at 15 %.
    assert product_line["Description"] == "Kaffe 500 g" and product_line["ProductUnitPrice"] == 100
    assert (product_line["NetAmount"], product_line["VatAmount"], product_line["TotalAmount"]) == (
        180,
        27,
        207,
    )
    assert product_line["VatCode"] == "31" and product_line["VatRate"] == 0.15
    assert text_line["LineType"] == "Text" and text_line["TotalAmount"] == 0
    assert (order["NetAmount"], order["TotalAmount"], order["LineCount"]) == (180, 207, 2)
    listed = api.get("/SalesOrders").json()
    assert [o["ExternalImportReference"] for o in listed] == ["shop:1001"]
    assert "SalesOrderLines" not in listed[0]


def test_sales_order_with_unknown_product(api: httpx.Client) -> None:
    customer = make_customer(api)
    body = order_body(customer)
    body["SalesOrderLines"] = [{"ProductCode": "NOPE-1", "Quantity": 1}]
    response = api.post("/SalesOrders/Complete", json=body)
    assert response.status_code == 400
    assert response.json()["title"] == "SalesOrder validation error(s)"
    assert "NOPE-1" in response.json()["detail"]
    assert api.get("/SalesOrders").status_code == 204


def test_sales_order_line_rules(api: httpx.Client) -> None:
    customer = make_customer(api)
    make_product(api)
    for line in (
        {"ProductCode": "KAFFE-500"},
        {"ProductCode": "KAFFE-500", "Quantity": 1, "Allowance": 101},
        {"Description": "no product"},
    ):
        body = {**order_body(customer), "SalesOrderLines": [line]}
        assert api.post("/SalesOrders/Complete", json=body).status_code == 400, line


def test_duplicate_order_reference(api: httpx.Client) -> None:
    order = make_order(api)
    customer_no = order["CustomerNo"]
    response = api.post("/SalesOrders/Complete", json=order_body({"Number": customer_no}))
    assert response.status_code == 400
    assert response.json()["title"] == "SalesOrder validation error(s)"
    assert response.json()["detail"] == (
        "ExternalImportReference is already in use. 'shop:1001' "
        f"is used on (sales order) Id = {order['Id']}."
    )


def test_confirmed_order_rejects_edits(api: httpx.Client) -> None:
    order = make_order(api)
    patch_headers = {"Content-Type": "application/json-patch+json"}
    confirm = [{"op": "replace", "path": "/SalesOrderStatus", "value": "Confirmed"}]
    response = api.patch(f"/SalesOrders/{order['Id']}", json=confirm, headers=patch_headers)
    assert response.status_code == 200 and response.json()["SalesOrderStatus"] == "Confirmed"
    edit = [{"op": "replace", "path": "/CustomerReference", "value": "Per"}]
    assert (
        api.patch(f"/SalesOrders/{order['Id']}", json=edit, headers=patch_headers).status_code
        == 400
    )
    assert api.delete(f"/SalesOrders/{order['Id']}").status_code == 400


# --- sending ----------------------------------------------------------------------------------


def test_send_moves_the_order_to_outgoing_invoices(api: httpx.Client) -> None:
    order = make_order(api)
    response = api.post(
        f"/SalesOrders/{order['Id']}/createAndSendInvoice",
        json={"DeliveryType": "PdfByEmail", "EmailAddress": "kari@example.no"},
    )
    assert response.status_code == 202 and response.json()["Id"] == order["Id"]
    assert response.headers["Location"].endswith(f"/Demo/v2/SalesOrders/sentState?id={order['Id']}")
    again = api.post(f"/SalesOrders/{order['Id']}/createAndSendInvoice", json={})
    assert again.status_code == 400  # already being sent

    def sent() -> dict[str, Any] | None:
        state = httpx.get(response.headers["Location"], headers=api.headers).json()[0]
        return state if state["SentDateTimeOffset"] else None

    state = poll(sent)
    assert state["InvoiceNo"] == 10001 and state["LastErrorMessage"] is None
    assert api.get(f"/SalesOrders/{order['Id']}").status_code == 404
    invoice = api.get(f"/OutgoingInvoices/{order['Id']}").json()
    assert invoice["VoucherNo"] == 10001 and invoice["Balance"] == order["TotalAmount"] == 207
    assert invoice["ExternalImportReference"] == "shop:1001"
    by_voucher = api.get("/OutgoingInvoices", params={"voucherNos": "10001-"}).json()
    assert [i["Id"] for i in by_voucher] == [order["Id"]]
    assert api.post(f"/SalesOrders/{order['Id']}/createAndSendInvoice").status_code == 400
    repeat = api.post("/SalesOrders/Complete", json=order_body({"Number": order["CustomerNo"]}))
    assert repeat.status_code == 400  # the reference carries over to the invoice


def test_failed_send_keeps_the_sales_order(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"send_error": "EHF delivery failed", "send_delay_ms": 0})
    order = make_order(api)
    assert api.post(f"/SalesOrders/{order['Id']}/createAndSendInvoice").status_code == 202
    state = api.get("/SalesOrders/SentState", params={"id": order["Id"]}).json()[0]
    assert state["LastErrorMessage"] == "EHF delivery failed"
    assert state["IsInvoiceBeingProcessed"] is False
    assert api.get(f"/SalesOrders/{order['Id']}").status_code == 200
    assert api.get("/OutgoingInvoices").status_code == 204


def test_send_without_privilege_is_403(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"send_privilege": False}).raise_for_status()
    order = make_order(api)
    assert api.post(f"/SalesOrders/{order['Id']}/createAndSendInvoice").status_code == 403
    info = api.get("/ClientIntegrationInformation").json()
    assert info["InvalidPrivileges"] and "SalesOrders_Full" in info["ValidPrivileges"]


def test_payment_and_invoice_filters(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"send_delay_ms": 0}).raise_for_status()
    order = make_order(api)
    api.post(f"/SalesOrders/{order['Id']}/createAndSendInvoice").raise_for_status()
    invoice = poll(
        lambda: (
            api.get("/OutgoingInvoices").status_code == 200
            and api.get(f"/OutgoingInvoices/{order['Id']}").json()
        )
    )
    paid = sim.post("/_sim/payments", json={"invoice_id": order["Id"], "amount": "207.00"})
    assert paid.status_code == 200 and paid.json()["Balance"] == 0
    changed = api.get(
        "/OutgoingInvoices",
        params={
            "balanceLastChangedDateTimeOffsetGreaterThan": invoice[
                "BalanceLastChangedDateTimeOffset"
            ]
        },
    )
    assert [i["Id"] for i in changed.json()] == [order["Id"]]
    assert api.get("/OutgoingInvoices", params={"onlyUnpaidInvoices": "true"}).status_code == 204
    assert api.get("/OutgoingInvoices", params={"voucherNos": "10-x"}).status_code == 400
    today = invoice["VoucherDate"]
    same_day = api.get("/OutgoingInvoices", params={"fromDate": today, "toDate": today})
    assert [i["Id"] for i in same_day.json()] == [order["Id"]]


# --- outgoing invoices (erp/poweroffice-go.md §8) ----------------------------------------------


def invoicing(sim: httpx.Client, api: httpx.Client, **options: Any) -> dict[str, Any]:
    """Sends settle at once; returns the customer the invoices go to."""
    sim.post("/_sim/config", json={"send_delay_ms": 0, **options}).raise_for_status()
    make_product(api, StandardSalesAccount=3030)
    return make_customer(api)


def send_order(
    api: httpx.Client, customer: dict[str, Any], ref: str, quantity: float = 2, **fields: Any
) -> dict[str, Any]:
    """A sales order of `quantity` × KAFFE-500 (207 for 2), sent; the outgoing invoice it became.
    `fields` go on the order, except `send` (the createAndSendInvoice body)."""
    send = fields.pop("send", {})
    body = order_body(customer, ref=ref, **fields)
    body["SalesOrderLines"][0]["Quantity"] = quantity
    created = api.post("/SalesOrders/Complete", json=body)
    assert created.status_code == 201, created.text
    order_id = created.json()["Id"]
    api.post(f"/SalesOrders/{order_id}/createAndSendInvoice", json=send).raise_for_status()
    return poll(
        lambda: (
            api.get(f"/OutgoingInvoices/{order_id}").status_code == 200
            and api.get(f"/OutgoingInvoices/{order_id}").json()
        )
    )


def voucher_nos(response: httpx.Response) -> list[int]:
    return [] if response.status_code == 204 else [i["VoucherNo"] for i in response.json()]


def pay(sim: httpx.Client, invoice: dict[str, Any], amount: str | None = None) -> dict[str, Any]:
    body = {"invoice_id": invoice["Id"]} | ({"amount": amount} if amount else {})
    response = sim.post("/_sim/payments", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_invoice_dates_are_inclusive_voucher_dates(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    send_order(api, customer, "shop:1", send={"VoucherDate": "2026-03-01"})
    send_order(api, customer, "shop:2", send={"VoucherDate": "2026-03-03"})
    cases = [
        ({"fromDate": "2026-03-01", "toDate": "2026-03-01"}, [10001]),
        ({"fromDate": "2026-03-02"}, [10002]),
        ({"toDate": "2026-03-03"}, [10001, 10002]),
        ({"toDate": "2026-03-02"}, [10001]),
        ({"fromDate": "2026-03-04"}, []),
        # only the date counts, not the offset: this is still 3 March
        ({"fromDate": "2026-03-03T23:30:00-05:00"}, [10002]),
    ]
    for params, expected in cases:
        assert voucher_nos(api.get("/OutgoingInvoices", params=params)) == expected, params
    assert api.get("/OutgoingInvoices", params={"fromDate": "March"}).status_code == 400


def test_voucher_number_ranges(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    for n in range(4):
        send_order(api, customer, f"shop:{n}")
    cases = {
        "10002-": [10002, 10003, 10004],
        "-10002": [10001, 10002],
        "10002-10003": [10002, 10003],
        "10001, 10003-": [10001, 10003, 10004],
        "10004": [10004],
        "10005-": [],
    }
    for ranges, expected in cases.items():
        response = api.get("/OutgoingInvoices", params={"voucherNos": ranges})
        assert voucher_nos(response) == expected, ranges
    for bad in ("10003-10002", "-", "1-2-3", "x", "5 7"):
        assert api.get("/OutgoingInvoices", params={"voucherNos": bad}).status_code == 400, bad
    sim.post("/_sim/config", json={"open_start_ranges": False}).raise_for_status()
    assert api.get("/OutgoingInvoices", params={"voucherNos": "-10002"}).status_code == 400


def test_balance_changed_filter_is_exclusive(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    first = send_order(api, customer, "shop:1")
    second = send_order(api, customer, "shop:2")
    paid = pay(sim, first, "7.00")
    stamp = paid["BalanceLastChangedDateTimeOffset"]
    assert stamp > second["BalanceLastChangedDateTimeOffset"] and paid["Balance"] == 200
    assert len(stamp.split(".")[1].split("+")[0]) == 7  # .NET's seven fractional digits

    def changed_after(cursor: str) -> list[int]:
        return voucher_nos(
            api.get(
                "/OutgoingInvoices", params={"balanceLastChangedDateTimeOffsetGreaterThan": cursor}
            )
        )

    assert changed_after(stamp) == []
    assert changed_after(second["BalanceLastChangedDateTimeOffset"]) == [10001]
    assert changed_after(first["BalanceLastChangedDateTimeOffset"]) == [10001, 10002]


def test_payments_can_share_a_balance_stamp(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api, balance_stamp_resolution_seconds=3600)
    first = send_order(api, customer, "shop:1")
    second = send_order(api, customer, "shop:2")
    one, two = pay(sim, first, "7.00"), pay(sim, second, "7.00")
    stamp = one["BalanceLastChangedDateTimeOffset"]
    assert two["BalanceLastChangedDateTimeOffset"] == stamp
    after = {"balanceLastChangedDateTimeOffsetGreaterThan": stamp}
    assert api.get("/OutgoingInvoices", params=after).status_code == 204  # both hidden
    sim.post("/_sim/config", json={"balance_stamp_resolution_seconds": 0}).raise_for_status()
    fine = pay(sim, first, "7.00")["BalanceLastChangedDateTimeOffset"]
    assert fine > stamp and voucher_nos(api.get("/OutgoingInvoices", params=after)) == [10001]


def test_only_unpaid_invoices(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    first = send_order(api, customer, "shop:1")
    send_order(api, customer, "shop:2")
    credit = send_order(api, customer, "shop:3", quantity=-1)
    pay(sim, first)
    unpaid = {"onlyUnpaidInvoices": "true"}
    assert voucher_nos(api.get("/OutgoingInvoices", params=unpaid)) == [10002, 10003]
    pay(sim, credit)
    assert voucher_nos(api.get("/OutgoingInvoices", params=unpaid)) == [10002]
    everything = {"onlyUnpaidInvoices": "false"}
    assert voucher_nos(api.get("/OutgoingInvoices", params=everything)) == [10001, 10002, 10003]
    assert api.get("/OutgoingInvoices", params={"onlyUnpaidInvoices": "yes"}).status_code == 400


def test_outgoing_invoices_are_paged(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    for n in range(3):
        send_order(api, customer, f"shop:{n}")
    first = api.get("/OutgoingInvoices", params={"voucherNos": "10001-", "PageSize": 2})
    assert voucher_nos(first) == [10001, 10002]
    pagination = httpx.Response(200, content=first.headers["X-Pagination"]).json()
    assert pagination["totalCount"] == 3
    following = httpx.get(pagination["nextPageLink"], headers=api.headers)
    assert voucher_nos(following) == [10003]
    third = api.get("/OutgoingInvoices", params={"PageSize": 2, "PageNumber": 3})
    assert third.status_code == 204


def test_negative_order_becomes_a_credit_note(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    invoice = send_order(api, customer, "shop:1")
    credit = send_order(
        api, customer, "shop:1-credit", quantity=-1, RelatedInvoiceNo=invoice["InvoiceNo"]
    )
    assert invoice["VoucherType"] == "OutgoingInvoice"
    assert credit["VoucherType"] == "OutgoingCreditNote" and credit["InvoiceNo"] == 10002
    # 1 × 100 less 10 % = 90 net, 15 % VAT: the credit note is -103.50 and so is its balance
    assert (credit["NetAmount"], credit["TotalAmount"], credit["Balance"]) == (-90, -103.5, -103.5)
    assert credit["TotalPostedAmount"] == -103.5 and credit["RelatedInvoiceNo"] == 10001
    lines = api.get(f"/OutgoingInvoices/{credit['Id']}/Lines").json()
    assert lines[0]["Quantity"] == -1 and lines[0]["TotalAmount"] == -103.5
    refunded = pay(sim, credit, "50.00")
    assert refunded["Balance"] == -53.5  # a refund moves a credit note's balance towards 0
    assert pay(sim, credit)["Balance"] == 0


def test_credit_note_amounts_can_be_shown_positive(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api, credit_note_amounts_negative=False)
    credit = send_order(api, customer, "shop:1-credit", quantity=-1)
    assert credit["VoucherType"] == "OutgoingCreditNote"
    assert (credit["TotalAmount"], credit["Balance"]) == (103.5, 103.5)
    assert pay(sim, credit, "3.50")["Balance"] == 100


def test_related_invoice_only_on_credit_notes_for_real_invoices(
    sim: httpx.Client, api: httpx.Client
) -> None:
    customer = invoicing(sim, api)
    invoice = send_order(api, customer, "shop:1")
    on_invoice = order_body(customer, ref="shop:2", RelatedInvoiceNo=invoice["InvoiceNo"])
    unknown = order_body(customer, ref="shop:3", RelatedInvoiceNo=99999)
    unknown["SalesOrderLines"][0]["Quantity"] = -1
    for body in (on_invoice, unknown):
        response = api.post("/SalesOrders/Complete", json=body)
        assert response.status_code == 400 and "RelatedInvoiceNo" in response.json()["detail"]
    sim.post("/_sim/config", json={"related_invoice_checked": False}).raise_for_status()
    assert api.post("/SalesOrders/Complete", json=unknown).status_code == 201


def test_payment_bodies_are_checked(sim: httpx.Client, api: httpx.Client) -> None:
    customer = invoicing(sim, api)
    invoice = send_order(api, customer, "shop:1")
    bad: list[Any] = [
        [],
        {"amount": "1.00"},
        {"invoice_id": "nope"},
        {"invoice_id": str(uuid.uuid4())},
        {"invoice_id": 5},
    ]
    bad += [
        {"invoice_id": invoice["Id"], "amount": amount}
        for amount in ("abc", "-5", 0, "1.001", True, "NaN", "Infinity", {"v": 1})
    ]
    for body in bad:
        response = sim.post("/_sim/payments", json=body)
        assert response.status_code == 400, body
        assert "invoice_id" in response.json()["error"]["message"]
    assert sim.post("/_sim/payments", content=b"{not json").status_code == 400
    assert api.get(f"/OutgoingInvoices/{invoice['Id']}").json()["Balance"] == 207  # untouched
    assert pay(sim, invoice, "200")["Balance"] == 7
    assert pay(sim, invoice)["Balance"] == 0  # no amount: the rest
    nothing_left = sim.post("/_sim/payments", json={"invoice_id": invoice["Id"]})
    assert nothing_left.status_code == 400 and "nothing left" in nothing_left.text


# --- faults and admin -------------------------------------------------------------------------


def add_fault(sim: httpx.Client, **fault: Any) -> dict[str, Any]:
    response = sim.post("/_sim/faults", json={"match": "POST /SalesOrders/Complete", **fault})
    assert response.status_code == 201, response.text
    return response.json()


def test_status_fault_answers_without_acting(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    make_product(api)
    add_fault(sim, mode="status", status=503)
    response = api.post("/SalesOrders/Complete", json=order_body(customer))
    assert response.status_code == 503
    assert sim.get("/_sim/state").json()["SalesOrders"] == []
    assert api.post("/SalesOrders/Complete", json=order_body(customer)).status_code == 201


def test_commit_then_status_commits(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    make_product(api)
    add_fault(sim, mode="commit_then_status", status=500)
    response = api.post("/SalesOrders/Complete", json=order_body(customer))
    assert response.status_code == 500
    assert response.json()["title"] == "Internal Server Error"
    orders = sim.get("/_sim/state").json()["SalesOrders"]
    assert [o["ExternalImportReference"] for o in orders] == ["shop:1001"]
    assert orders[0]["SalesOrderLines"]


def test_commit_then_drop_commits_and_closes_the_connection(
    sim: httpx.Client, api: httpx.Client
) -> None:
    customer = make_customer(api)
    make_product(api)
    add_fault(sim, mode="commit_then_drop")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("/SalesOrders/Complete", json=order_body(customer))
    orders = sim.get("/_sim/state").json()["SalesOrders"]
    assert [o["ExternalImportReference"] for o in orders] == ["shop:1001"]
    assert api.get("/SalesOrders").status_code == 200  # the server itself is fine
    calls = sim.get("/_sim/calls").json()["calls"]
    dropped = [c for c in calls if c["fault"] == "commit_then_drop"]
    assert len(dropped) == 1 and dropped[0]["status"] is None


def test_latency_fault_waits_before_acting(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    make_product(api)
    add_fault(sim, mode="latency", ms=300)
    started = time.monotonic()
    response = api.post("/SalesOrders/Complete", json=order_body(customer))
    assert response.status_code == 201
    assert time.monotonic() - started >= 0.3


def test_rate_limit_fault(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    make_product(api)
    add_fault(sim, mode="rate_limit", count=2)
    for _ in range(2):
        response = api.post("/SalesOrders/Complete", json=order_body(customer))
        assert response.status_code == 429 and response.headers["Retry-After"] == "1"
    assert sim.get("/_sim/state").json()["SalesOrders"] == []
    assert api.post("/SalesOrders/Complete", json=order_body(customer)).status_code == 201
    assert sim.get("/_sim/faults").json()[0]["count"] == 0


def test_calls_are_counted_by_endpoint_template(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    add_fault(sim, match="PATCH /Customers/{id}", mode="status", status=409)
    api.get(f"/Customers/{customer['Id']}")
    api.get(f"/customers/{customer['Id']}")
    conflict = api.patch(
        f"/Customers/{customer['Id']}",
        json=[],
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert conflict.status_code == 409 and conflict.json()["title"] == "Object conflict"
    calls = sim.get("/_sim/calls").json()
    assert calls["by_endpoint"] == {
        "POST /OAuth/Token": 1,
        "POST /Customers": 1,
        "GET /Customers/{id}": 2,
        "PATCH /Customers/{id}": 1,
    }
    assert calls["total"] == 5 and calls["calls"][-1]["fault"] == "status"
    assert calls["calls"][-1]["status"] == 409


def test_reset_restores_the_start_state(sim: httpx.Client, api: httpx.Client) -> None:
    make_order(api)
    add_fault(sim, mode="status", count=None)
    sim.post("/_sim/latency", json={"ms": 5}).raise_for_status()
    assert sim.post("/_sim/config", json={"no_such_option": 1}).status_code == 400
    assert sim.post("/_sim/reset").status_code == 200
    state = sim.get("/_sim/state").json()
    assert state == {"Customers": [], "Products": [], "SalesOrders": [], "OutgoingInvoices": []}
    assert sim.get("/_sim/calls").json() == {"total": 0, "by_endpoint": {}, "calls": []}
    assert sim.get("/_sim/faults").json() == []
    assert sim.get("/_sim/config").json()["rate_limit_per_second"] == 10
    customer = make_customer(api)  # numbering starts over; the cached token still works
    assert customer["Number"] == 10000
