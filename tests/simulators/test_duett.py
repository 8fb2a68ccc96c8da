"""The Duett Økonomi simulator over real HTTP: Duett's rules (erp/duett.md), its arithmetic checked
against the seed order of the reference, and the shared fault modes, as a connector meets them."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulators.duett import create_app
from simulators.registry import DEMO_SCENES, SIMULATORS
from tests.support.sim_server import simulator_fixtures

KEYS = {
    "X-Api-Integration-Key": "demo-duett-integration-key",
    "X-Api-Client-Key": "demo-duett-client-key",
}
PATCH = {"Content-Type": "application/json-patch+json"}


server, sim = simulator_fixtures(create_app)


@pytest.fixture
def api(server: str, sim: httpx.Client) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, headers=KEYS, timeout=10) as client:
        yield client


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def refused(response: httpx.Response, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if field is not None:
        assert field in body["errors"], body
    return body


def customer_body(**fields: Any) -> dict[str, Any]:
    return {
        "externalId": "shop:kari",
        "organizationNumber": "987654321",
        "invoiceEmail": "kari@example.no",
        "contactInfo": {"name": "Kari Nordmann AS", "email": "kari@example.no"},
        "address": {"address1": "Storgata 1", "zipCodeKey": "0155"},
        **fields,
    }


def make_customer(api: httpx.Client, **fields: Any) -> dict[str, Any]:
    return created(api.post("/Customer/v2", json=customer_body(**fields)))


def make_article(
    api: httpx.Client,
    number: str,
    price: float,
    tax: str = "vat",
    kind: str = "normal",
    name: str | None = None,
) -> dict[str, Any]:
    return created(
        api.post(
            "/Article/v2",
            json={
                "articleNumber": number,
                "articleType": kind,
                "name": name or f"Item {number}",
                "salesPrice": price,
                "taxSaleId": tax,
            },
        )
    )


def order_body(
    customer: dict[str, Any], lines: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    return {
        "customerId": customer["id"],
        "invoiceYear": 2024,
        "orderCategory": "order",
        "orderDate": "2024-08-14T00:00:00",
        "ourReference": "Webshop",
        "payType": "invoice",
        "status": "saved",
        "orderReference": "#1001",
        "lines": lines,
        **fields,
    }


def seed_order(api: httpx.Client) -> dict[str, Any]:
    """The order-v2 page's example: 80 (25 %), 4 × 712 at 50 less 10 % (12 %), a sum, 4 × 6543
    at 199 (25 %), a sum."""
    customer = make_customer(api)
    item1 = make_article(api, "1", 80)
    a712 = make_article(api, "712", 50, tax="low")
    a6543 = make_article(api, "6543", 199)
    lines = [
        {"articleId": item1["id"], "countAgreed": 1},
        {"articleId": a712["id"], "countAgreed": 4, "discountValue": 10},
        {"lineType": "sum"},
        {"articleId": a6543["id"], "countAgreed": 4},
        {"lineType": "sum"},
    ]
    return created(api.post("/Order/v2", json=order_body(customer, lines)))


def amounts(line_or_order: dict[str, Any]) -> tuple[float, float, float]:
    return (line_or_order["netAmount"], line_or_order["vatAmount"], line_or_order["grossAmount"])


# --- keys, registers, routing --------------------------------------------------------------------


def test_both_key_headers_on_every_call(server: str, sim: httpx.Client) -> None:
    with httpx.Client(base_url=server, timeout=10) as bare:
        for headers in (
            {},
            {"X-Api-Integration-Key": KEYS["X-Api-Integration-Key"]},
            {"X-Api-Client-Key": KEYS["X-Api-Client-Key"]},
            {**KEYS, "X-Api-Client-Key": "someone-else"},
        ):
            response = bare.get("/Order/v2", headers=headers)
            assert response.status_code == 401
            assert response.json()["status"] == 401 and response.json()["title"] == "Unauthorized"
        assert bare.get("/Order/v2", headers=KEYS).json() == []
        sim.post(
            "/_sim/config", json={"client_key": "other-client", "auth_failure_status": 403}
        ).raise_for_status()
        assert bare.get("/Order/v2", headers=KEYS).status_code == 403
        assert (
            bare.get("/Order/v2", headers={**KEYS, "X-Api-Client-Key": "other-client"}).status_code
            == 200
        )


def test_postcode_register_and_number_series(api: httpx.Client) -> None:
    codes = {z["zipCodeKey"]: z["zipCodeName"] for z in api.get("/Register/v2/ZipCodes").json()}
    assert {k: codes[k] for k in ("0155", "0464", "5003", "7010")} == {
        "0155": "OSLO",
        "0464": "OSLO",
        "5003": "BERGEN",
        "7010": "TRONDHEIM",
    }
    assert "9999" not in codes
    one = api.get("/Register/v2/ZipCodes", params={"filter[zipCodeKey][EQ]": "5003"}).json()
    assert [z["zipCodeName"] for z in one] == ["BERGEN"]
    series = api.get(
        "/Register/v2/AccountIntervals", params={"filter[accountType][eq]": "customer"}
    ).json()
    assert [s["id"] for s in series] == [1, 2]
    assert {s["accountType"] for s in series} == {"customer"}


def test_unknown_route_and_method(api: httpx.Client) -> None:
    assert api.get("/Order/v9").status_code == 404
    assert api.delete("/Order/v2/1").status_code == 405
    assert api.get("/order/V2").status_code == 200  # ASP.NET matches paths case-insensitively
    assert api.get("/Order/v2/abc").status_code == 404
    assert api.get("/Order/v2/99999").json()["title"] == "Not Found"


def test_paths_are_options(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"customer_path": "/Customer/v1/"}).raise_for_status()
    assert sim.get("/_sim/config").json()["customer_path"] == "Customer/v1"
    created(api.post("/Customer/v1", json=customer_body()))
    assert api.get("/Customer/v2").status_code == 404
    assert "POST /Customer/v1" in sim.get("/_sim/calls").json()["by_endpoint"]


# --- customers -----------------------------------------------------------------------------------


def test_customer_create_numbering_and_postcode_name(api: httpx.Client) -> None:
    first = make_customer(api)
    assert isinstance(first["id"], int) and first["customerNumber"] == "10000"
    assert first["address"] == {
        "address1": "Storgata 1",
        "address2": None,
        "address3": None,
        "zipCodeKey": "0155",
        "zipCodeName": "OSLO",
        "isForeign": False,
        "country": "Norge",
    }
    second = make_customer(api, address={"address1": "Bryggen 1", "zipCodeKey": "5003"})
    assert second["customerNumber"] == "10001" and second["address"]["zipCodeName"] == "BERGEN"
    assert second["rowVersion"] > first["rowVersion"]
    business = make_customer(api, autoCustomerNumberFromSerieId=2)
    assert business["customerNumber"] == "50000"
    refused(
        api.post("/Customer/v2", json=customer_body(autoCustomerNumberFromSerieId=3)),
        "autoCustomerNumberFromSerieId",
    )  # a supplier series
    refused(api.post("/Customer/v2", json=customer_body(customerNumber="10000")), "customerNumber")


def test_unknown_postcode_is_refused_in_duetts_words(api: httpx.Client) -> None:
    body = refused(
        api.post(
            "/Customer/v2",
            json=customer_body(address={"address1": "Storgata 1", "zipCodeKey": "9999"}),
        ),
        "address.zipCodeKey",
    )
    assert body["detail"] == "The postcode 9999 is not in Duett"
    refused(
        api.post("/Customer/v2", json=customer_body(address={"address1": "Storgata 1"})),
        "address.zipCodeKey",
    )


def test_addresses_abroad(sim: httpx.Client, api: httpx.Client) -> None:
    sweden = {"address1": "Drottninggatan 1", "isForeign": True, "country": "Sverige"}
    customer = make_customer(api, address=sweden)
    assert customer["address"]["zipCodeKey"] is None and customer["address"]["isForeign"]
    by_country = make_customer(api, address={"address1": "Hauptstr. 1", "country": "Tyskland"})
    assert by_country["address"]["isForeign"] is True
    refused(
        api.post("/Customer/v2", json=customer_body(address={**sweden, "zipCodeKey": "11120"})),
        "address.zipCodeKey",
    )
    refused(
        api.post(
            "/Customer/v2",
            json=customer_body(address={"address1": "Drottninggatan 1", "isForeign": True}),
        ),
        "address.country",
    )
    refused(
        api.post(
            "/Customer/v2",
            json=customer_body(address={"address1": "Drottninggatan 1", "country": "SE"}),
        ),
        "address.country",
    )
    sim.post("/_sim/config", json={"foreign_postcode_dropped": True}).raise_for_status()
    dropped = make_customer(api, address={**sweden, "zipCodeKey": "11120"})
    assert dropped["address"]["zipCodeKey"] is None


@pytest.mark.parametrize("missing", ["externalId", "address", "contactInfo"])
def test_customer_required_fields(api: httpx.Client, missing: str) -> None:
    body = customer_body()
    del body[missing]
    refused(api.post("/Customer/v2", json=body), missing)


def test_customer_lookup_by_org_number_alias_and_external_id(api: httpx.Client) -> None:
    kari = make_customer(api)
    ola = make_customer(api, externalId="shop:ola", organizationNumber=None, vatNumber="912345678")
    assert ola["organizationNumber"] == "912345678"
    for prop in ("organizationNumber", "vatNumber"):
        found = api.get("/Customer/v2", params={f"filter[{prop}][EQ]": "987654321"}).json()
        assert [c["id"] for c in found] == [kari["id"]]
    found = api.get("/Customer/v2", params={"filter[externalId][EQ]": "shop:ola"}).json()
    assert [c["id"] for c in found] == [ola["id"]]


def test_customer_put_null_leaves_and_empty_object_clears(api: httpx.Client) -> None:
    customer = make_customer(api, deliveryAddress={"address1": "Lager 2", "zipCodeKey": "0464"})
    body = customer_body(address=None, deliveryAddress={}, invoiceEmail="ny@example.no")
    response = api.put(f"/Customer/v2/{customer['id']}", json=body)
    assert response.status_code == 204 and response.content == b""
    after = api.get(f"/Customer/v2/{customer['id']}").json()
    assert after["address"] == customer["address"] and after["deliveryAddress"] is None
    assert after["invoiceEmail"] == "ny@example.no"
    assert after["rowVersion"] > customer["rowVersion"]
    assert after["customerNumber"] == customer["customerNumber"]


# --- articles ------------------------------------------------------------------------------------


def test_article_number_is_unique_automatic_and_immutable(api: httpx.Client) -> None:
    article = make_article(api, "KAFFE-500", 129, tax="food")
    assert article["taxSaleId"] == "food" and article["articleType"] == "normal"
    refused(
        api.post(
            "/Article/v2",
            json={"articleNumber": "kaffe-500", "articleType": "normal", "name": "Again"},
        ),
        "articleNumber",
    )
    auto = created(api.post("/Article/v2", json={"articleType": "hour", "name": "Timer"}))
    assert auto["articleNumber"] == "1" and auto["taxSaleId"] == "vat"
    refused(api.post("/Article/v2", json={"articleType": "gadget", "name": "X"}), "articleType")
    refused(api.post("/Article/v2", json={"articleType": "normal"}), "name")
    url = f"/Article/v2/{article['id']}"
    change = [{"op": "replace", "path": "/articleNumber", "value": "KAFFE-1000"}]
    refused(api.patch(url, json=change, headers=PATCH), "articleNumber")
    put = {"articleNumber": "KAFFE-1000", "articleType": "normal", "name": "Kaffe"}
    refused(api.put(url, json=put), "articleNumber")
    rename = [{"op": "replace", "path": "/name", "value": "Kaffe 0,5 kg"}]
    assert api.patch(url, json=rename, headers=PATCH).status_code == 204
    after = api.get(url).json()
    assert after["name"] == "Kaffe 0,5 kg" and after["articleNumber"] == "KAFFE-500"
    found = api.get(
        "/Article/v2",
        params=[("filter[articleNumber][IN]", "KAFFE-500"), ("filter[articleNumber][IN]", "1")],
    ).json()
    assert sorted(a["articleNumber"] for a in found) == ["1", "KAFFE-500"]


# --- orders: validation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [
        "customerId",
        "invoiceYear",
        "orderCategory",
        "orderDate",
        "ourReference",
        "payType",
        "status",
    ],
)
def test_order_required_fields(api: httpx.Client, missing: str) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    body = order_body(customer, [{"articleId": article["id"], "countAgreed": 1}])
    del body[missing]
    refused(api.post("/Order/v2", json=body), missing)


def test_order_rules(api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    line = {"articleId": article["id"], "countAgreed": 1}

    def post(lines: list[dict[str, Any]] | None = None, **fields: Any) -> httpx.Response:
        chosen = [line] if lines is None else lines
        return api.post("/Order/v2", json=order_body(customer, chosen, **fields))

    refused(post(payType="bitcoin"), "payType")
    refused(post(orderCategory="quote"), "orderCategory")
    refused(post(status="invoiceSent"), "status")
    refused(post(orderCategory="offer", status="orderReadyToSend"), "status")
    refused(post(orderType="project"), "orderType")
    refused(post(customerId=424242), "customerId")
    refused(post(orderDate="14.08.2024"), "orderDate")
    refused(post(lines=[]), "lines")
    refused(post([{"articleId": 424242, "countAgreed": 1}]), "lines[0].articleId")
    refused(post([{"countAgreed": 1, "name": "Free text"}]), "lines[0].articleId")
    refused(post([line, {"lineType": "text"}]), "lines[1].name")
    refused(post([{**line, "lineType": "gadget"}]), "lines[0].lineType")
    refused(post([{**line, "lineType": "serial"}]), "lines[0].lineType")
    refused(post([{**line, "taxSaleId": "vat_Abroad"}]), "lines[0].taxSaleId")
    refused(post([{**line, "discountValue": 120}]), "lines[0].discountValue")
    refused(post([{**line, "countAgreed": "many"}]), "lines[0].countAgreed")
    for code in ("nondeductable_Reverse", "nodeductable_Reverse", "noVat", "low", "food"):
        order = created(post([{**line, "taxSaleId": code}]))
        assert order["lines"][0]["taxSaleId"] == code
    offer = created(post(orderCategory="offer"))
    assert offer["orderType"] == "offer" and offer["status"] == "saved"
    ready = created(post(status="OrderReadyToSend", payType="Cash"))
    assert ready["status"] == "orderReadyToSend" and ready["payType"] == "cash"


def test_lines_default_from_the_article(api: httpx.Client) -> None:
    customer = make_customer(api)
    article = created(
        api.post(
            "/Article/v2",
            json={
                "articleNumber": "KAFFE-500",
                "articleType": "amount",
                "name": "Kaffe 500 g",
                "salesPrice": "129.00",
                "taxSaleId": "food",
                "unit": "stk",
            },
        )
    )
    order = created(
        api.post(
            "/Order/v2",
            json=order_body(
                customer,
                [
                    {"articleId": article["id"], "countAgreed": 2},
                    {
                        "articleId": article["id"],
                        "countAgreed": 1,
                        "salesPrice": 100,
                        "name": "Tilbud",
                        "taxSaleId": "vat",
                    },
                    {"lineType": "text", "name": "Gavepapir, takk"},
                ],
            ),
        )
    )
    first, second, text = order["lines"]
    assert (
        first["lineType"],
        first["key"],
        first["name"],
        first["unit"],
        first["salesPrice"],
        first["taxSaleId"],
        first["countDimension"],
    ) == ("amount", "KAFFE-500", "Kaffe 500 g", "stk", 129.0, "food", 1)
    assert amounts(first) == (258.0, 38.7, 296.7)
    assert (second["name"], second["taxSaleId"], amounts(second)) == (
        "Tilbud",
        "vat",
        (100.0, 25.0, 125.0),
    )
    assert text["lineType"] == "text" and amounts(text) == (0.0, 0.0, 0.0)
    assert order["payDays"] == 10 and order["discountType"] == "percent"
    assert order["dueDate"] == "2024-08-24T00:00:00"


# --- orders: arithmetic --------------------------------------------------------------------------


def test_seed_order_in_net_price_mode(api: httpx.Client) -> None:
    order = seed_order(api)
    lines = order["lines"]
    assert [line["calcAmount"] for line in lines] == [80.0, 180.0, 260.0, 796.0, 796.0]
    assert amounts(lines[0]) == (80.0, 20.0, 100.0)
    assert amounts(lines[1]) == (180.0, 21.6, 201.6) and lines[1]["discountAmount"] == 20.0
    assert amounts(lines[3]) == (796.0, 199.0, 995.0)
    assert [line["lineType"] for line in lines] == ["normal", "normal", "sum", "normal", "sum"]
    assert amounts(order) == (1056.0, 240.6, 1296.6)


def test_seed_order_in_gross_price_mode(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"price_mode": "gross"}).raise_for_status()
    order = seed_order(api)
    assert amounts(order["lines"][0]) == (64.0, 16.0, 80.0)
    assert amounts(order["lines"][1]) == (160.71, 19.29, 180.0)
    assert amounts(order["lines"][3]) == (636.8, 159.2, 796.0)
    assert amounts(order) == (861.51, 194.49, 1056.0)
    assert sim.post("/_sim/config", json={"price_mode": "both"}).status_code == 400


def test_amount_discount_is_per_unit_and_capped(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50, tax="noVat")

    def calc(discount: float) -> float:
        order = created(
            api.post(
                "/Order/v2",
                json=order_body(
                    customer,
                    [{"articleId": article["id"], "countAgreed": 4, "discountValue": discount}],
                    discountType="amount",
                ),
            )
        )
        assert order["discountType"] == "amount"
        return float(order["lines"][0]["calcAmount"])

    assert (calc(10), calc(60)) == (160.0, 0.0)
    sim.post("/_sim/config", json={"amount_discount_cap": "line"}).raise_for_status()
    assert (calc(10), calc(60), calc(500)) == (190.0, 140.0, 0.0)


def test_sum_lines_subtotal_since_the_previous_sum(api: httpx.Client) -> None:
    customer = make_customer(api)
    a, b = make_article(api, "A", 10), make_article(api, "B", 5, tax="food")
    order = created(
        api.post(
            "/Order/v2",
            json=order_body(
                customer,
                [
                    {"articleId": a["id"], "countAgreed": 2},
                    {"lineType": "text", "name": "note"},
                    {"articleId": b["id"], "countAgreed": 3},
                    {"lineType": "sum", "name": "Delsum"},
                    {"lineType": "sum"},
                    {"articleId": a["id"], "countAgreed": 1, "countDimension": 2.5},
                    {"lineType": "sum"},
                ],
            ),
        )
    )
    sums = [line for line in order["lines"] if line["lineType"] == "sum"]
    assert [s["calcAmount"] for s in sums] == [35.0, 0.0, 25.0]
    assert sums[0]["name"] == "Delsum" and sums[1]["name"] == "Sum"
    assert amounts(order) == (60.0, 13.5, 73.5)


def test_serial_lines_need_one_serial_number_per_unit(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    kvern = make_article(api, "KVERN-2", 899, kind="serial")
    line = {"articleId": kvern["id"], "countAgreed": 2}
    refused(api.post("/Order/v2", json=order_body(customer, [line])), "lines[0].serialNumbers")
    one = {**line, "serialNumbers": [{"serialNo": "SN-1"}]}
    refused(api.post("/Order/v2", json=order_body(customer, [one])), "lines[0].serialNumbers")
    two = {**line, "serialNumbers": [{"serialNo": "SN-1"}, {"serialNo": "SN-2"}]}
    order = created(api.post("/Order/v2", json=order_body(customer, [two])))
    assert order["lines"][0]["lineType"] == "serial"
    state = sim.get("/_sim/state").json()["orders"][0]["lines"][0]
    assert state["serialNumbers"] == [{"serialNo": "SN-1"}, {"serialNo": "SN-2"}]


# --- orders: numbering, invoicing, changes -------------------------------------------------------


def test_post_is_not_idempotent_and_numbers_run_per_year(api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    body = order_body(customer, [{"articleId": article["id"], "countAgreed": 1}])
    first, second = (created(api.post("/Order/v2", json=body)) for _ in range(2))
    assert first["id"] != second["id"] and (first["number"], second["number"]) == (1, 2)
    assert second["rowVersion"] > first["rowVersion"]
    other_year = created(api.post("/Order/v2", json={**body, "invoiceYear": 2025}))
    assert (other_year["number"], other_year["invoiceYear"]) == (1, 2025)
    same = api.get("/Order/v2", params={"filter[orderReference][EQ]": "#1001"}).json()
    assert len(same) == 3


def test_direct_invoicing_answers_with_the_invoice_pdf(
    sim: httpx.Client, api: httpx.Client
) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    lines = [{"articleId": article["id"], "countAgreed": 4, "discountValue": 10}]
    config = {"directInvoicing": True, "styleSheetId": 1, "sendMethod": "email"}
    order = created(api.post("/Order/v2", json=order_body(customer, lines, config=config)))
    assert order["status"] == "invoiceSent" and order["invoiceNumber"] == 10001
    attachment = order["attachment"]
    assert attachment["type"] == "PDF" and attachment["filename"].endswith(".pdf")
    pdf = base64.b64decode(attachment["value"])
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert b"10001" in pdf and b"225.00" in pdf  # the invoice number and the gross total
    start = int(re.search(rb"startxref\s+(\d+)", pdf)[1])  # type: ignore[index]
    assert pdf[start:].startswith(b"xref")
    rows = pdf[start:].split(b"\n")[3:]
    for number, row in enumerate(rows[:5], start=1):
        assert pdf[int(row[:10]) :].startswith(b"%d 0 obj" % number)
    again = created(api.post("/Order/v2", json=order_body(customer, lines, config=config)))
    assert again["invoiceNumber"] == 10002
    stored = api.get(f"/Order/v2/{order['id']}").json()
    assert stored["invoiceNumber"] == 10001 and "attachment" not in stored
    locked = api.patch(
        f"/Order/v2/{order['id']}",
        headers=PATCH,
        json=[{"op": "replace", "path": "/ourReference", "value": "x"}],
    )
    assert locked.status_code == 400
    plain = created(api.post("/Order/v2", json=order_body(customer, lines)))
    assert plain["invoiceNumber"] is None and "attachment" not in plain
    bad = order_body(customer, lines, config={"directInvoicing": True, "styleSheetId": 3})
    refused(api.post("/Order/v2", json=bad), "config.styleSheetId")
    offer = order_body(customer, lines, orderCategory="offer", config={"directInvoicing": True})
    refused(api.post("/Order/v2", json=offer), "config.directInvoicing")


def test_json_patch_and_put_answer_204(api: httpx.Client) -> None:
    order = seed_order(api)
    url = f"/Order/v2/{order['id']}"
    ops = [
        {"op": "test", "path": "/rowVersion", "value": order["rowVersion"]},
        {"op": "replace", "path": "/status", "value": "orderReadyToSend"},
        {"op": "add", "path": "/yourReference", "value": "Kari"},
        {"op": "replace", "path": "/lines/1/countAgreed", "value": 2},
    ]
    response = api.patch(url, json=ops, headers=PATCH)
    assert response.status_code == 204 and response.content == b""
    after = api.get(url).json()
    assert (after["status"], after["yourReference"]) == ("orderReadyToSend", "Kari")
    assert after["lines"][1]["calcAmount"] == 90.0 and after["lines"][2]["calcAmount"] == 170.0
    assert after["rowVersion"] > order["rowVersion"] and after["number"] == order["number"]
    assert [line["id"] for line in after["lines"]] == [line["id"] for line in order["lines"]]
    stale = [
        {"op": "test", "path": "/rowVersion", "value": order["rowVersion"]},
        {"op": "replace", "path": "/status", "value": "saved"},
    ]
    assert api.patch(url, json=stale, headers=PATCH).status_code == 400
    assert api.patch(url, json=ops).status_code == 415  # plain application/json
    refused(
        api.patch(url, json=[{"op": "replace", "path": "/grossAmount", "value": 1}], headers=PATCH),
        "grossAmount",
    )
    refused(
        api.patch(url, json=[{"op": "remove", "path": "/ourReference"}], headers=PATCH),
        "ourReference",
    )
    body = {
        k: after[k]
        for k in (
            "customerId",
            "invoiceYear",
            "orderCategory",
            "orderDate",
            "ourReference",
            "payType",
            "status",
        )
    }
    response = api.put(url, json={**body, "invoiceNote": "Takk!", "lines": None})
    assert response.status_code == 204 and response.content == b""
    final = api.get(url).json()
    assert final["invoiceNote"] == "Takk!" and final["grossAmount"] == after["grossAmount"]
    refused(api.put(url, json={**body, "invoiceYear": 2023}), "invoiceYear")


# --- lists ---------------------------------------------------------------------------------------


def test_list_filters_paging_and_ordering(api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    line = [{"articleId": article["id"], "countAgreed": 1}]
    orders = [
        created(
            api.post(
                "/Order/v2",
                json=order_body(
                    customer,
                    line,
                    orderReference=f"#{1000 + i}",
                    status="orderReadyToSend" if i % 2 else "saved",
                ),
            )
        )
        for i in range(6)
    ]
    ids = [o["id"] for o in orders]

    def listed(*params: tuple[str, str]) -> list[int]:
        response = api.get("/Order/v2", params=list(params))
        assert response.status_code == 200, response.text
        assert isinstance(response.json(), list)  # a bare array, no envelope
        return [o["id"] for o in response.json()]

    assert listed(("filter[orderReference][EQ]", "#1003")) == [ids[3]]
    assert listed(("filter[orderReference][eq]", "#1003")) == [ids[3]]  # op in any case
    assert listed(
        ("filter[orderReference][IN]", "#1001"), ("filter[orderReference][IN]", "#1004")
    ) == [ids[1], ids[4]]
    assert listed(
        ("filter[orderReference][NIN]", "#1001"), ("filter[orderReference][NIN]", "#1004")
    ) == [ids[i] for i in (0, 2, 3, 5)]
    assert listed(("filter[orderReference][LIKE]", "#100%")) == ids
    assert listed(("filter[orderReference][NLIKE]", "%5")) == ids[:5]
    assert (
        listed(("filter[id][BETWEEN]", str(ids[1])), ("filter[id][BETWEEN]", str(ids[3])))
        == ids[1:4]
    )
    assert listed(("filter[rowVersion][GT]", str(orders[3]["rowVersion"]))) == ids[4:]
    assert listed(("filter[id][GTE]", str(ids[4])), ("filter[id][LT]", str(ids[5]))) == [ids[4]]
    assert listed(("filter[status][EQ]", "orderReadyToSend"), ("filter[id][LTE]", str(ids[3]))) == [
        ids[1],
        ids[3],
    ]  # filters AND
    assert listed(("filter[status][NEQ]", "saved")) == [ids[1], ids[3], ids[5]]
    assert listed(("filter[yourReference][IS]", "null")) == ids
    assert listed(("filter[yourReference][ISN]", "null")) == []
    assert listed(("filter[take]", "2"), ("filter[skip]", "1")) == ids[1:3]
    assert listed(("filter[orderby][desc]", "id"), ("filter[take]", "2")) == ids[:-3:-1]
    assert listed(
        ("filter[orderby][asc]", "status"), ("filter[orderby][desc]", "id"), ("filter[take]", "3")
    ) == [ids[5], ids[3], ids[1]]
    assert listed(("extend", "lines")) == ids  # accepted, nothing to narrow
    refused(api.get("/Order/v2", params={"filter[id][ABOUT]": "1"}))
    refused(api.get("/Order/v2", params={"filter[id][EQ]": "one"}))
    refused(api.get("/Order/v2", params={"filter[colour][EQ]": "red"}))
    refused(api.get("/Order/v2", params={"filter[id][BETWEEN]": "1"}))
    refused(api.get("/Order/v2", params={"filter[take]": "-1"}))


def test_order_reference_filter_can_be_refused(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"order_reference_filterable": False}).raise_for_status()
    body = refused(api.get("/Order/v2", params={"filter[orderReference][EQ]": "#1001"}))
    assert "orderReference" in body["detail"]
    assert api.get("/Order/v2", params={"filter[rowVersion][GT]": "0"}).status_code == 200


def test_empty_list_is_an_array_or_404(sim: httpx.Client, api: httpx.Client) -> None:
    assert api.get("/Customer/v2", params={"filter[externalId][EQ]": "nobody"}).json() == []
    sim.post("/_sim/config", json={"list_404_when_empty": True}).raise_for_status()
    response = api.get("/Customer/v2", params={"filter[externalId][EQ]": "nobody"})
    assert response.status_code == 404 and response.json()["title"] == "Not Found"
    make_customer(api, externalId="somebody")
    assert len(api.get("/Customer/v2").json()) == 1


def test_max_take_option(sim: httpx.Client, api: httpx.Client) -> None:
    for number in "ABC":
        make_article(api, number, 1)
    sim.post("/_sim/config", json={"max_take": 2}).raise_for_status()
    assert len(api.get("/Article/v2").json()) == 2
    assert len(api.get("/Article/v2", params={"filter[take]": "50"}).json()) == 2


# --- faults and admin ----------------------------------------------------------------------------


def add_fault(sim: httpx.Client, **fault: Any) -> dict[str, Any]:
    response = sim.post("/_sim/faults", json={"match": "POST /Order/v2", **fault})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_status_fault_answers_without_acting(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    body = order_body(customer, [{"articleId": article["id"], "countAgreed": 1}])
    add_fault(sim, mode="status", status=503, count=2)
    for _ in range(2):
        response = api.post("/Order/v2", json=body)
        assert response.status_code == 503 and response.json()["status"] == 503
    assert sim.get("/_sim/state").json()["orders"] == []
    assert created(api.post("/Order/v2", json=body))["number"] == 1


def test_commit_then_status_commits(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    body = order_body(customer, [{"articleId": article["id"], "countAgreed": 1}])
    add_fault(sim, mode="commit_then_status", status=500)
    response = api.post("/Order/v2", json=body)
    assert response.status_code == 500 and response.json()["title"] == "Internal Server Error"
    orders = sim.get("/_sim/state").json()["orders"]
    assert [o["orderReference"] for o in orders] == ["#1001"]
    assert api.get("/Order/v2", params={"filter[orderReference][EQ]": "#1001"}).json() == orders


# --- customer ledger (voucher report), payments, credit orders ----------------------------------


def invoiced(
    api: httpx.Client, customer: dict[str, Any], lines: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    config = {"directInvoicing": True}
    return created(api.post("/Order/v2", json=order_body(customer, lines, config=config, **fields)))


def ledger_rows(api: httpx.Client, year: str, **filters: str) -> list[dict[str, Any]]:
    params = {
        "filter[voucherYear][EQ]": year,
        "ledgerFilter[EQ]": "customerLedger",
        **{f"filter[{k}][GT]": v for k, v in filters.items()},
    }
    response = api.get("/Report/v2/Voucher", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_invoices_are_posted_to_the_customer_ledger_and_payments_cross_them(
    sim: httpx.Client, api: httpx.Client
) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    order = invoiced(
        api, customer, [{"articleId": article["id"], "countAgreed": 4, "discountValue": 10}]
    )
    year = order["invoiceDate"][:4]
    refused(api.get("/Report/v2/Voucher"), "filter[voucherYear]")
    [row] = ledger_rows(api, year)
    assert (
        row["voucherTypeId"],
        row["voucherNumber"],
        row["restAmount"],
        row["ledgerState"],
        row["accountNumber"],
    ) == (3, 10001, 225.0, "blank", customer["customerNumber"])
    assert ledger_rows(api, str(int(year) - 1)) == []
    paid = sim.post("/_sim/payments", json={"invoice_id": str(order["id"]), "amount": "100"})
    assert paid.status_code == 200, paid.text
    assert (paid.json()["restAmount"], paid.json()["ledgerState"]) == (125.0, "partCrossed")
    assert paid.json()["rowVersion"] > row["rowVersion"]
    changed = ledger_rows(api, year, rowVersion=str(row["rowVersion"]))
    assert sorted(r["voucherTypeId"] for r in changed) == [2, 3]  # the payment and the invoice
    rest = sim.post("/_sim/payments", json={"invoice_id": order["id"]}).json()
    assert (rest["restAmount"], rest["ledgerState"]) == (0.0, "crossed")
    for body in (
        {"invoice_id": order["id"]},
        {"invoice_id": "nope"},
        {"amount": "1"},
        {"invoice_id": order["id"], "amount": "-5"},
    ):
        bad = sim.post("/_sim/payments", json=body)
        assert bad.status_code == 400 and "invoice_id" in bad.json()["error"]["message"]
    sim.post(
        "/_sim/config", json={"voucher_report": False, "ledger_invoice_number_field": "refNumber"}
    )
    assert (
        api.get("/Report/v2/Voucher", params={"filter[voucherYear][EQ]": year}).status_code == 404
    )
    second = invoiced(api, customer, [{"articleId": article["id"], "countAgreed": 1}])
    state = sim.get("/_sim/state").json()["ledger"]
    assert [(r["refNumber"], r["voucherNumber"]) for r in state if r["voucherTypeId"] == 3][-1] == (
        str(second["invoiceNumber"]),
        30004,
    )  # after the invoice and two payments


@pytest.mark.parametrize("sign", ["positive", "negative"])
def test_credit_orders_refuse_the_other_sign_and_book_a_negative_ledger_row(
    sim: httpx.Client, api: httpx.Client, sign: str
) -> None:
    sim.post("/_sim/config", json={"credit_line_sign": sign}).raise_for_status()
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    count = 2 if sign == "positive" else -2
    wrong = [{"articleId": article["id"], "countAgreed": -count}]
    refused(
        api.post("/Order/v2", json=order_body(customer, wrong, orderType="credit")),
        "lines[0].countAgreed",
    )
    credit = invoiced(
        api,
        customer,
        [
            {"lineType": "text", "name": "Kreditnota"},
            {"articleId": article["id"], "countAgreed": count},
        ],
        orderType="credit",
    )
    assert credit["orderType"] == "credit" and credit["grossAmount"] == 125.0 * (count / 2)
    assert credit["attachment"]["description"] == f"Kreditnota {credit['invoiceNumber']}"
    [row] = ledger_rows(api, credit["invoiceDate"][:4])
    assert (row["voucherTypeId"], row["amountGross"], row["restAmount"]) == (4, -125.0, -125.0)
    refund = sim.post("/_sim/payments", json={"invoice_id": credit["id"], "amount": "25"})
    assert refund.json()["restAmount"] == -100.0


def test_credit_link_field_is_an_option(sim: httpx.Client, api: httpx.Client) -> None:
    customer = make_customer(api)
    article = make_article(api, "712", 50)
    lines = [{"articleId": article["id"], "countAgreed": 1}]
    original = invoiced(api, customer, lines)
    linked = {"creditedInvoiceNumber": str(original["invoiceNumber"])}
    ignored = created(
        api.post("/Order/v2", json=order_body(customer, lines, orderType="credit", **linked))
    )
    assert "creditedInvoiceNumber" not in ignored
    sim.post("/_sim/config", json={"credit_link_field": "creditedInvoiceNumber"})
    refused(
        api.post(
            "/Order/v2",
            json=order_body(customer, lines, orderType="credit", creditedInvoiceNumber="99999"),
        ),
        "creditedInvoiceNumber",
    )
    credit = created(
        api.post("/Order/v2", json=order_body(customer, lines, orderType="credit", **linked))
    )
    assert credit["creditedInvoiceNumber"] == original["invoiceNumber"]


def test_calls_are_named_by_endpoint_template(sim: httpx.Client, api: httpx.Client) -> None:
    order = seed_order(api)
    api.get(f"/Order/v2/{order['id']}")
    api.get(f"/order/v2/{order['id']}")
    api.get("/Order/v2")
    calls = sim.get("/_sim/calls").json()["by_endpoint"]
    assert calls == {
        "POST /Customer/v2": 1,
        "POST /Article/v2": 3,
        "POST /Order/v2": 1,
        "GET /Order/v2/{id}": 2,
        "GET /Order/v2": 1,
    }


def test_state_shape_and_reset(sim: httpx.Client, api: httpx.Client) -> None:
    seed_order(api)
    sim.post("/_sim/config", json={"price_mode": "gross"}).raise_for_status()
    state = sim.get("/_sim/state").json()
    assert set(state) == {"customers", "articles", "orders", "ledger"}
    assert [len(state[k]) for k in ("customers", "articles", "orders")] == [1, 3, 1]
    order = state["orders"][0]
    for key in (
        "id",
        "number",
        "invoiceYear",
        "orderReference",
        "status",
        "invoiceNumber",
        "netAmount",
        "vatAmount",
        "grossAmount",
        "lines",
        "rowVersion",
    ):
        assert key in order
    assert all(
        {"netAmount", "vatAmount", "grossAmount", "serialNumbers"} <= set(line)
        for line in order["lines"]
    )
    assert state["customers"][0]["address"]["zipCodeName"] == "OSLO"
    add_fault(sim, mode="status", count=None)
    assert sim.post("/_sim/config", json={"no_such_option": 1}).status_code == 400
    assert sim.post("/_sim/reset").status_code == 200
    assert sim.get("/_sim/state").json() == {
        "customers": [],
        "articles": [],
        "orders": [],
        "ledger": [],
    }
    assert sim.get("/_sim/faults").json() == []
    assert sim.get("/_sim/config").json()["price_mode"] == "net"
    assert len(api.get("/Register/v2/ZipCodes").json()) > 4  # registers stay
    assert make_customer(api)["customerNumber"] == "10000"  # numbering starts over


def test_registered_with_port_and_demo_scene() -> None:
    factory, port = SIMULATORS["duett"]
    assert port == 18083 and factory is create_app
    scene = DEMO_SCENES["duett"]
    assert scene.faults == (
        {"match": "POST /Order/v2", "mode": "status", "status": 503, "count": 2},
    )
    assert scene.refused_line == {"vat_rate": "0.10"}
