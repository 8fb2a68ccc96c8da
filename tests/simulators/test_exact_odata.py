"""OData in the Exact Online simulator: the `$filter` grammar connectors get wrong (doubled
quotes, typed literals, brackets around `or` chains, padded account codes), paging with `__next`,
the strict modes, and the envelopes (`__metadata`, `__deferred`, `$expand`)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.sim_exact import (  # noqa: F401 (fixtures)
    api_fixture,
    created,
    error_text,
    make_account,
    make_item,
    order_body,
    server_fixture,
    sim_fixture,
)


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["d"]["results"]
    return rows


def orders_where(api: httpx.Client, odata_filter: str) -> httpx.Response:
    return api.get(
        "/salesorder/SalesOrders", params={"$filter": odata_filter, "$select": "OrderID,YourRef"}
    )


def test_doubled_quotes_match_only_the_literal_reference(api: httpx.Client) -> None:
    account, item = make_account(api), make_item(api)
    tricky = created(
        api.post(
            "/salesorder/SalesOrders", json=order_body(account, item, YourRef="O'Neil' or 1 eq 1")
        )
    )
    created(api.post("/salesorder/SalesOrders", json=order_body(account, item, YourRef="2002")))

    found = results(orders_where(api, "YourRef eq 'O''Neil'' or 1 eq 1'"))
    injected = results(orders_where(api, "YourRef eq 'O' or 1 eq 1"))
    undoubled = orders_where(api, "YourRef eq 'O'Neil'")

    assert [order["OrderID"] for order in found] == [tricky["OrderID"]]
    assert len(injected) == 2  # what an unescaped reference turns into
    assert undoubled.status_code == 400 and "Syntax error" in error_text(undoubled)


def test_or_chain_of_25_codes_finds_exactly_those(api: httpx.Client, sim: httpx.Client) -> None:
    for number in range(30):
        sim.post(
            "/_sim/items", json={"Code": f"SKU-{number:02d}", "Description": f"Item {number}"}
        ).raise_for_status()
    wanted = [f"SKU-{number:02d}" for number in range(0, 30, 1) if number % 6 != 5][:25]
    chain = " or ".join(f"Code eq '{code}'" for code in wanted)

    found = results(
        api.get("/logistics/Items", params={"$select": "ID,Code,Description", "$filter": chain})
    )
    bracketed = results(
        api.get(
            "/logistics/Items",
            params={"$select": "Code", "$filter": f"({chain}) and Description eq 'Item 0'"},
        )
    )

    assert sorted(item["Code"] for item in found) == sorted(wanted)
    assert [item["Code"] for item in bracketed] == ["SKU-00"]


def test_account_codes_are_padded_to_18_and_found_with_trim(api: httpx.Client) -> None:
    account = make_account(api, Code="1001")
    auto = make_account(api, Name="Ola")

    def codes(odata_filter: str) -> list[str]:
        return [
            a["Code"]
            for a in results(
                api.get("/crm/Accounts", params={"$select": "ID,Code", "$filter": odata_filter})
            )
        ]

    assert account["Code"] == "              1001" and len(account["Code"]) == 18
    assert auto["Code"] == "1002".rjust(18)
    assert codes("Code eq '1001'") == []
    assert codes("trim(Code) eq '1001'") == [account["Code"]]
    assert codes(f"Code eq '{'1001'.rjust(18)}'") == [account["Code"]]


def test_guid_literals_are_typed(api: httpx.Client) -> None:
    account = make_account(api)
    make_account(api, Name="Ola")

    found = results(
        api.get(
            "/crm/Accounts",
            params={"$select": "ID", "$filter": f"ID eq guid'{account['ID'].upper()}'"},
        )
    )
    as_string = api.get(
        "/crm/Accounts", params={"$select": "ID", "$filter": f"ID eq '{account['ID']}'"}
    )

    assert [a["ID"] for a in found] == [account["ID"]]
    assert as_string.status_code == 400
    assert "incompatible with operand types 'System.Guid' and 'System.String'" in error_text(
        as_string
    )


@pytest.mark.parametrize(
    "odata_filter",
    [
        "Code eq",
        "Code eq 'abc",
        "Nope eq 1",
        "Code eq 1",
        "(Code eq 'a'",
        "Code eq 'a' and",
        "trim(Code, Name) eq 'a'",
        "Code",
        "ID eq guid'not-a-guid'",
        "Code eq 'a' xor Code eq 'b'",
    ],
)
def test_unparsable_filters_get_400_with_the_exact_body(
    api: httpx.Client, odata_filter: str
) -> None:
    response = api.get("/logistics/Items", params={"$select": "ID", "$filter": odata_filter})

    assert response.status_code == 400
    assert error_text(response)


def test_plus_in_the_query_string_is_a_space(api: httpx.Client, server: str) -> None:
    make_account(api, Name="DOES NOT EXIST")

    response = api.get(
        f"{server}/api/v1/1/crm/Accounts?$select=ID&$filter=Name+eq+'DOES+NOT+EXIST'"
    )

    assert len(results(response)) == 1


def test_datetime_numbers_booleans_and_functions(api: httpx.Client) -> None:
    make_item(api, "A-1", StandardSalesPrice=5, IsSalesItem=True)
    make_item(api, "B-2", StandardSalesPrice=12.5, IsSalesItem=False)

    def codes(odata_filter: str) -> list[str]:
        return sorted(
            i["Code"]
            for i in results(
                api.get("/logistics/Items", params={"$select": "Code", "$filter": odata_filter})
            )
        )

    assert codes("Created ge datetime'2000-01-01' and Code ne 'x'") == ["A-1", "B-2"]
    assert codes("Created lt datetime'2000-01-01T00:00:00' and Code ne 'x'") == []
    assert codes("StandardSalesPrice gt 10 and Code ne 'x'") == ["B-2"]
    assert codes("IsSalesItem eq true") == ["A-1"]
    assert codes("startswith(Code, 'b') eq true") == ["B-2"]  # case-insensitive like SQL
    assert codes("substringof('-', Code) and not (Code eq 'A-1')") == ["B-2"]


def test_pages_of_60_with_an_absolute_next_link(
    api: httpx.Client, sim: httpx.Client, server: str
) -> None:
    for number in range(130):
        sim.post(
            "/_sim/items", json={"Code": f"P-{number:03d}", "Description": "paged"}
        ).raise_for_status()
    url: str | None = (
        f"{server}/api/v1/1/logistics/Items?$select=Code&$filter=Description eq 'paged'"
    )
    sizes, codes = [], []
    while url is not None:
        body = api.get(url).json()["d"]
        sizes.append(len(body["results"]))
        codes += [item["Code"] for item in body["results"]]
        url = body.get("__next")
        if url is not None:
            assert url.startswith(f"{server}/api/v1/1/logistics/Items?")
            assert "$select=Code" in url and "$skiptoken=guid'" in url

    assert sizes == [60, 60, 10]
    assert sorted(codes) == [f"P-{number:03d}" for number in range(130)]


def test_top_spans_pages_and_next_link_carries_what_is_left(
    api: httpx.Client, sim: httpx.Client
) -> None:
    for number in range(80):
        sim.post(
            "/_sim/items", json={"Code": f"T-{number:02d}", "Description": "top"}
        ).raise_for_status()
    params = {
        "$select": "Code",
        "$filter": "Description eq 'top'",
        "$top": "70",
        "$orderby": "Code desc",
    }

    first = api.get("/logistics/Items", params=params).json()["d"]
    second = api.get(first["__next"]).json()["d"]

    assert len(first["results"]) == 60 and "$top=10" in first["__next"]
    assert len(second["results"]) == 10 and "__next" not in second
    codes = [i["Code"] for i in first["results"] + second["results"]]
    assert codes == [f"T-{number:02d}" for number in range(79, 9, -1)]


def test_required_filter_and_select_on_accounts_and_items(
    api: httpx.Client, sim: httpx.Client
) -> None:
    no_filter = api.get("/crm/Accounts", params={"$select": "ID"})
    unrelated_filter = api.get(
        "/crm/Accounts", params={"$select": "ID", "$filter": "City eq 'Oslo'"}
    )
    no_select = api.get("/logistics/Items", params={"$filter": "Code eq 'X'"})
    top_one = api.get("/logistics/Items", params={"$filter": "Code eq 'X'", "$top": "1"})

    assert no_filter.status_code == 400
    assert error_text(no_filter) == "A required filter is missing."
    assert unrelated_filter.status_code == 400
    assert no_select.status_code == 400
    assert error_text(no_select) == (
        "Please add a $select or a $top=1 statement to the query string."
    )
    assert top_one.status_code == 200
    sim.post(
        "/_sim/config", json={"require_filter": False, "require_select": False}
    ).raise_for_status()
    assert api.get("/crm/Accounts").status_code == 200


def test_unknown_or_repeated_query_options_are_refused(api: httpx.Client) -> None:
    unknown = api.get("/financial/Journals", params={"$Filter": "Code eq '70'"})
    repeated = api.get("/financial/Journals?$top=1&$top=2")
    bad_select = api.get("/financial/Journals", params={"$select": "Code,Nope"})

    assert unknown.status_code == repeated.status_code == bad_select.status_code == 400


def test_lookups_expose_the_sales_journal_and_revenue_accounts(api: httpx.Client) -> None:
    journals = results(api.get("/financial/Journals", params={"$filter": "Type eq 20"}))
    accounts = results(
        api.get(
            "/financial/GLAccounts",
            params={"$select": "ID,Code", "$filter": "Code eq '8000' or Code eq '8010'"},
        )
    )
    warehouses = results(api.get("/inventory/Warehouses"))
    vat = results(api.get("/vat/VATCodes", params={"$filter": "trim(Code) eq '2'"}))

    assert [j["Code"] for j in journals] == ["70"]
    assert sorted(a["Code"] for a in accounts) == ["8000", "8010"]
    assert len(warehouses) == 1
    assert vat[0]["Code"] == "2  " and vat[0]["Percentage"] == 0.21


def test_lines_are_deferred_in_lists_and_expanded_on_request(
    api: httpx.Client, server: str
) -> None:
    order = created(
        api.post("/salesorder/SalesOrders", json=order_body(make_account(api), make_item(api)))
    )
    key = f"SalesOrders(guid'{order['OrderID']}')"

    listed = results(orders_where(api, "YourRef eq '1001'"))[0]
    expanded = results(
        api.get(
            "/salesorder/SalesOrders",
            params={"$filter": "YourRef eq '1001'", "$expand": "SalesOrderLines"},
        )
    )[0]
    deferred_uri = results(
        api.get("/salesorder/SalesOrders", params={"$filter": "YourRef eq '1001'"})
    )[0]["SalesOrderLines"]["__deferred"]["uri"]
    via_link = results(api.get(deferred_uri))

    assert listed["__metadata"] == {
        "uri": f"{server}/api/v1/1/salesorder/{key}",
        "type": "Exact.Web.Api.Models.SalesOrder",
    }
    assert "SalesOrderLines" not in listed  # not selected
    assert deferred_uri == f"{server}/api/v1/1/salesorder/{key}/SalesOrderLines"
    lines = expanded["SalesOrderLines"]["results"]
    assert [line["ID"] for line in via_link] == [line["ID"] for line in lines]
    assert lines[0]["__metadata"]["uri"].startswith(
        f"{server}/api/v1/1/salesorder/SalesOrderLines(guid'"
    )


def test_keyed_get_put_delete(api: httpx.Client) -> None:
    account = make_account(api)
    key = f"/crm/Accounts(guid'{account['ID']}')"

    got = api.get(key, params={"$select": "Name,City"})
    put = api.put(key, json={"City": "Oslo"})
    after_put = api.get(key).json()["d"]
    deleted = api.delete(key)

    assert got.json()["d"]["Name"] == "Kari Nordmann"
    assert set(got.json()["d"]) == {"__metadata", "Name", "City"}
    assert put.status_code == 204 and put.content == b""
    assert after_put["City"] == "Oslo" and after_put["Name"] == "Kari Nordmann"
    assert deleted.status_code == 204 and deleted.content == b""
    assert api.get(key).status_code == 404
    assert api.get("/crm/Accounts(1)").status_code == 400


def test_count_and_inlinecount(api: httpx.Client) -> None:
    make_item(api, "C-1")
    make_item(api, "C-2")

    count = api.get("/logistics/Items/$count", params={"$filter": "Code ne 'x'"})
    inline = api.get(
        "/logistics/Items",
        params={"$filter": "Code ne 'x'", "$select": "ID", "$top": "1", "$inlinecount": "allpages"},
    )

    assert count.text == "2"
    assert inline.json()["d"]["__count"] == "2" and len(inline.json()["d"]["results"]) == 1
