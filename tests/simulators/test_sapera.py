"""The Sapera (CRS) simulator over real HTTP: the platform's rules (erp/sapera.md, second pass
included), every row of the demo catalogue's price and cost resolution, the sales-order life, and
the shared fault modes, as a connector meets them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from simulators.registry import DEMO_SCENES, SIMULATORS
from simulators.sapera import create_app
from tests.support.sim_server import simulator_fixtures

CREDENTIALS = {
    "tenantDomainName": "demo",
    "userNameOrEMail": "webshop@demo.example",
    "password": "demo-sapera-password",
}
LOGIN = "/api/security/Authentication/Login"
REFRESH = "/api/security/authentication/loginWithRefreshToken"
ACTORS_PAGE = "/api/actors/Actor/GetActorsPage"
CREATE_ACTOR = "/api/actors/Actor/CreateActor"
PRODUCT_PAGE = "/api/inventory/Product/GetProductPage"
VARIANT_INFOS = "/api/inventory/ProductVariant/GetProductVariantInfos"
INSTANCES = "/api/inventory/ProductInstance/GetProductInstances"
ACCOUNTS = "/api/accounting/FinancialAccount/GetFinancialAccounts"
CREATE_ORDER = "/api/financial/SalesOrder/CreateSalesOrder"
UPDATE_ORDER = "/api/financial/SalesOrder/UpdateSalesOrder"
SET_READY = "/api/financial/SalesOrder/SetSalesOrderReady"
ORDERS_PAGE = "/api/financial/SalesOrder/GetSalesOrdersPage"
INVOICE_ORDER = "/api/financial/Invoice/CreateInvoiceFromSalesOrder"
BOOK = "/api/financial/Invoice/BookInvoice"
BLANK = "/api/financial/Invoice/CreateBlankInvoice"
GET_INVOICE = "/api/financial/Invoice/GetInvoice"
INVOICES_PAGE = "/api/financial/Invoice/GetInvoicesPage"
CREDIT_INVOICE = "/api/financial/Invoice/CreateCreditNote"
VALIDATION, AUTH_REQUIRED, METHOD_NOT_FOUND, NOT_EXISTS, ALREADY_EXISTS = 1, 3, 4, 5, 6


server, sim = simulator_fixtures(create_app)


@pytest.fixture
def api(server: str, sim: httpx.Client) -> Iterator[httpx.Client]:
    """An API client with a fresh access token (tests may expire every token)."""
    with httpx.Client(base_url=server, timeout=10) as client:
        token = value(client.post(LOGIN, json=CREDENTIALS))["token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def value(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["modelType"].startswith("Response<")
    assert body["errorOrValue"]["error"] is None, body
    return body["errorOrValue"]["value"]


def error(response: httpx.Response, code: int, status: int = 400) -> str:
    assert response.status_code == status, response.text
    answer = response.json()["errorOrValue"]
    assert answer["value"] is None and answer["error"]["errorCode"] == code, answer
    return str(answer["error"]["message"])


def product(api: httpx.Client, identifier: str) -> dict[str, Any]:
    entries = value(api.post(PRODUCT_PAGE, json={"searchPattern": {"value": identifier}}))
    found = [e["product"] for e in entries["entries"] if e["product"]["identifier"] == identifier]
    assert len(found) == 1, entries
    return found[0]


def variant(api: httpx.Client, product_id: int, identifier: str) -> dict[str, Any]:
    infos = value(api.post(VARIANT_INFOS, json={"productId": {"value": product_id}}))
    return next(v for v in infos if v["identifier"] == identifier)


def instance(api: httpx.Client, product_id: int, identifier: str) -> dict[str, Any]:
    rows = value(api.post(INSTANCES, json={"productId": {"value": product_id}}))
    return next(i for i in rows if i["identifier"] == identifier)


def item(
    product_id: int,
    quantity: float = 1,
    variant_id: int | None = None,
    instance_id: int | None = None,
    discount: float = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "modelType": "CreateSalesOrderItemModelUpdate",
        "quantity": quantity,
        "manualDiscountAmount": discount,
        "inventoryItemData": {
            "productId": product_id,
            "variantId": variant_id,
            "instanceId": instance_id,
        },
        **extra,
    }


def sku_item(
    api: httpx.Client, sku: str, quantity: float = 1, discount: float = 0
) -> dict[str, Any]:
    """The item update for a SKU that may be a product, a variant or an instance."""
    base = {
        "SAP-SHIRT-M": "SAP-SHIRT",
        "SAP-SHIRT-L": "SAP-SHIRT",
        "SAP-BIKE-0042": "SAP-BIKE",
    }.get(sku, sku)
    found = product(api, base)
    variant_id = variant(api, found["id"], sku)["id"] if base == "SAP-SHIRT" else None
    instance_id = instance(api, found["id"], sku)["id"] if base == "SAP-BIKE" else None
    return item(found["id"], quantity, variant_id, instance_id, discount)


def customer_data(
    actor_id: int | None, reference: str | None = "#1001", field: str = "customerReference"
) -> dict[str, Any]:
    update: dict[str, Any] = {"modelType": "SetSalesOrderCustomerDataModelUpdate"}
    if actor_id is not None:
        update["actor"] = {"value": {"actorId": actor_id}}
    if reference is not None:
        update[field] = {"value": reference}
    return update


def make_person(
    api: httpx.Client,
    first: str = "Karen",
    last: str = "Jensen",
    email: str | None = "karen@example.dk",
    roles: tuple[str, ...] = ("CustomerPerson", "Person", "Customer"),
    **contact: Any,
) -> int:
    updates: list[dict[str, Any]] = [
        {
            "modelType": "ChangePersonFieldsetUpdate",
            "firstName": {"value": first},
            "lastName": {"value": last},
        }
    ]
    if email or contact:
        updates.append(
            {
                "modelType": "ChangeContactFieldsetUpdate",
                "email": {"value": email},
                **{k: {"value": v} for k, v in contact.items()},
            }
        )
    return int(
        value(
            api.post(
                CREATE_ACTOR,
                json={
                    "modelType": "CreateActorCommand",
                    "modelUpdates": updates,
                    "roleNames": list(roles),
                },
            )
        )["id"]
    )


def create_order(
    api: httpx.Client,
    items: list[dict[str, Any]],
    actor_id: int | None = None,
    reference: str | None = "#1001",
    modifiable: bool | None = None,
) -> dict[str, int]:
    body: dict[str, Any] = {
        "modelType": "CreateSalesOrderCommand",
        "modelUpdates": [customer_data(actor_id, reference), *items],
    }
    if modifiable is not None:
        body["AllowModifyingWhenReady"] = {"value": modifiable}
    return value(api.post(CREATE_ORDER, json=body))  # type: ignore[no-any-return]


def state_order(sim: httpx.Client, order_id: int) -> dict[str, Any]:
    return next(o for o in sim.get("/_sim/state").json()["salesOrders"] if o["id"] == order_id)


# --- login, refresh, tokens ----------------------------------------------------------------------


def test_login_answers_tokens_and_user_info(server: str, sim: httpx.Client) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        # Key casing varies across the docs: any is accepted.
        login = value(
            client.post(
                LOGIN,
                json={
                    "TenantDomainName": "DEMO",
                    "userNameOrEmail": "webshop@demo.example",
                    "Password": "demo-sapera-password",
                },
            )
        )
    assert login["resultCode"] == 1
    assert set(login) == {
        "resultCode",
        "token",
        "tokenId",
        "expiresIn",
        "userInfo",
        "refreshTokenInfo",
    }
    assert set(login["userInfo"]) == {"id", "displayName", "tenantName"}
    assert login["userInfo"]["tenantName"] == "demo"
    assert set(login["refreshTokenInfo"]) == {"tokenId", "token", "expiresIn"}
    expires = datetime.fromisoformat(login["expiresIn"])
    assert expires.utcoffset() is not None
    assert 3500 < (expires - datetime.now(expires.tzinfo)).total_seconds() <= 3600


def test_wrong_password_is_a_value_not_an_error(server: str, sim: httpx.Client) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        wrong = value(client.post(LOGIN, json={**CREDENTIALS, "password": "nope"}))
        assert wrong["resultCode"] == 2 and wrong["token"] is None
        assert (
            value(client.post(LOGIN, json={**CREDENTIALS, "userNameOrEMail": "x@y"}))["resultCode"]
            == 2
        )
        error(client.post(LOGIN, json={**CREDENTIALS, "tenantDomainName": "other"}), 10)


def test_forced_login_result_codes(server: str, sim: httpx.Client) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        sim.post(
            "/_sim/config", json={"login_result_code": 7, "login_result_count": 1}
        ).raise_for_status()
        assert value(client.post(LOGIN, json=CREDENTIALS))["resultCode"] == 7
        assert value(client.post(LOGIN, json=CREDENTIALS))["resultCode"] == 1
        assert sim.get("/_sim/config").json()["login_result_code"] == 1
        for code in range(2, 8):
            sim.post("/_sim/config", json={"login_result_code": code}).raise_for_status()
            for _ in range(2):  # count 0: until set back
                forced = value(client.post(LOGIN, json=CREDENTIALS))
                assert forced["resultCode"] == code and forced["token"] is None
        assert sim.post("/_sim/config", json={"login_result_code": 8}).status_code == 400


def test_refresh_tokens_are_single_use(server: str, sim: httpx.Client) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        first = value(client.post(LOGIN, json=CREDENTIALS))
        body = {
            "tenantDomainName": "demo",
            "refreshToken": first["refreshTokenInfo"]["token"],
            "tokenId": first["refreshTokenInfo"]["tokenId"],
        }
        second = value(client.post(REFRESH, json=body))  # no Authorization header
        assert second["resultCode"] == 1 and second["token"] != first["token"]
        assert value(
            client.post(ACCOUNTS, json={}, headers={"Authorization": f"Bearer {second['token']}"})
        )
        assert value(client.post(REFRESH, json=body))["resultCode"] == 2  # used
        third = value(
            client.post(
                REFRESH,
                json={
                    "tenantDomainName": "demo",
                    "refreshToken": second["refreshTokenInfo"]["token"],
                    "tokenId": second["tokenId"],
                },
            )
        )  # the access token's id is accepted too
        assert third["resultCode"] == 1
        assert (
            value(client.post(REFRESH, json={**body, "refreshToken": "made-up"}))["resultCode"] == 2
        )


def test_calls_need_a_live_token_bearer_or_raw(server: str, sim: httpx.Client) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        token = value(client.post(LOGIN, json=CREDENTIALS))["token"]
        error(client.post(ACCOUNTS, json={}), AUTH_REQUIRED, 401)
        error(
            client.post(ACCOUNTS, json={}, headers={"Authorization": "Bearer nope"}),
            AUTH_REQUIRED,
            401,
        )
        error(client.post("/api/nowhere/X/Y", json={}), AUTH_REQUIRED, 401)
        assert value(client.post(ACCOUNTS, json={}, headers={"Authorization": f"Bearer {token}"}))
        assert value(client.post(ACCOUNTS, json={}, headers={"Authorization": token}))
        assert sim.post("/_sim/expire-tokens").json()["expired"] >= 1
        error(
            client.post(ACCOUNTS, json={}, headers={"Authorization": f"Bearer {token}"}),
            AUTH_REQUIRED,
            401,
        )
        sim.post("/_sim/config", json={"token_seconds": 60}).raise_for_status()
        login = value(client.post(LOGIN, json=CREDENTIALS))
        left = datetime.fromisoformat(login["expiresIn"]) - datetime.now(
            datetime.fromisoformat(login["expiresIn"]).tzinfo
        )
        assert 50 < left.total_seconds() <= 60


# --- envelope, routing, wrappers, paging ---------------------------------------------------------


def test_envelope_routing_and_error_codes(sim: httpx.Client, api: httpx.Client) -> None:
    body = api.post(ACCOUNTS, json={}).json()
    assert body["modelType"] == "Response<List<FinancialAccount>>"
    assert set(body["errorOrValue"]) == {"value", "error"}
    error(api.post("/api/financial/SalesOrder/NoSuchAction", json={}), METHOD_NOT_FOUND, 404)
    error(api.get(ACCOUNTS), METHOD_NOT_FOUND, 404)
    assert value(api.post(ACCOUNTS.lower(), json={}))  # paths match case-insensitively
    message = error(
        api.post(CREATE_ORDER, content=b"{nope", headers={"Content-Type": "application/json"}),
        VALIDATION,
    )
    assert "JSON" in message
    error(api.post(SET_READY, json={"id": 99999}), NOT_EXISTS)
    calls = sim.get("/_sim/calls").json()["by_endpoint"]
    assert calls["POST /api/accounting/FinancialAccount/GetFinancialAccounts"] == 2
    assert calls["POST /api/financial/SalesOrder/CreateSalesOrder"] == 1


def test_wrappers_accepted_bare_unless_strict(sim: httpx.Client, api: httpx.Client) -> None:
    bare = {"searchPattern": "SAP-100", "propertiesToLoad": 0}
    assert len(value(api.post(PRODUCT_PAGE, json=bare))["entries"]) == 1
    sim.post("/_sim/config", json={"strict_wrappers": True}).raise_for_status()
    assert "searchPattern" in error(api.post(PRODUCT_PAGE, json=bare), VALIDATION)
    wrapped = {"searchPattern": {"value": "SAP-100"}, "propertiesToLoad": 0}  # bare flags: ok
    sap100 = value(api.post(PRODUCT_PAGE, json=wrapped))["entries"][0]["product"]
    assert "productId" in error(
        api.post(VARIANT_INFOS, json={"productId": sap100["id"]}), VALIDATION
    )
    assert "quantity" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(sap100["id"])]}), VALIDATION
    )
    strict_item = {
        **item(sap100["id"]),
        "quantity": {"value": 1},
        "manualDiscountAmount": {"value": 0},
    }
    assert "AllowModifyingWhenReady" in error(
        api.post(
            CREATE_ORDER, json={"AllowModifyingWhenReady": True, "modelUpdates": [strict_item]}
        ),
        VALIDATION,
    )
    assert "actor" in error(
        api.post(
            CREATE_ORDER,
            json={
                "modelUpdates": [
                    {"modelType": "SetSalesOrderCustomerDataModelUpdate", "actor": {"actorId": 1}}
                ]
            },
        ),
        VALIDATION,
    )
    assert value(
        api.post(
            CREATE_ORDER,
            json={
                "AllowModifyingWhenReady": {"value": True},
                "modelUpdates": [customer_data(None), strict_item],
            },
        )
    )["id"]
    sim.post("/_sim/config", json={"strict_item_wrappers": False}).raise_for_status()
    assert value(api.post(CREATE_ORDER, json={"modelUpdates": [item(sap100["id"])]}))["id"]
    assert "firstName" in error(
        api.post(
            CREATE_ACTOR,
            json={
                "modelUpdates": [{"modelType": "ChangePersonFieldsetUpdate", "firstName": "Karen"}],
                "roleNames": ["CustomerPerson"],
            },
        ),
        VALIDATION,
    )
    assert make_person(api)  # every fieldset value wrapped


def test_paging_with_overall_count_and_sort(api: httpx.Client) -> None:
    ids = [make_person(api, first=f"P{n}", email=f"p{n}@example.dk") for n in range(3)]
    first = value(
        api.post(ACTORS_PAGE, json={"offset": 0, "count": 2, "includeOverallEntryCount": True})
    )
    assert [e["id"] for e in first["entries"]] == ids[:2] and first["overallEntryCount"] == 3
    rest = value(api.post(ACTORS_PAGE, json={"offset": 2, "count": 2}))
    assert [e["id"] for e in rest["entries"]] == ids[2:] and rest["overallEntryCount"] is None
    down = value(
        api.post(
            ACTORS_PAGE,
            json={
                "sortInfo": [{"property": 0, "sortDirection": 1}],
                "propertiesToLoad": {"value": 0},
            },
        )
    )
    assert [e["id"] for e in down["entries"]] == ids[::-1]
    error(api.post(ACTORS_PAGE, json={"offset": -1}), VALIDATION)
    error(
        api.post(ACTORS_PAGE, json={"sortInfo": [{"property": 0, "sortDirection": 2}]}), VALIDATION
    )


# --- actors --------------------------------------------------------------------------------------


def test_actor_creation_and_search(api: httpx.Client) -> None:
    karen = make_person(api, phone="+45 20 30 40 50")
    company = int(
        value(
            api.post(
                CREATE_ACTOR,
                json={
                    "modelType": "CreateActorCommand",
                    "roleNames": ["CustomerOrganization", "Customer"],
                    "modelUpdates": [
                        {
                            "modelType": "ChangeOrganizationFieldsetUpdate",
                            "organizationName": {"value": "Hansen Cykler ApS"},
                            "organizationalIdentifier": {"value": "12345678"},
                            "vatTaxRegistrationIdentifier": {"value": "DK12345678"},
                        },
                        {
                            "modelType": "ChangeContactFieldsetUpdate",
                            "email": {"value": "info@hansen.dk"},
                        },
                        {
                            "modelType": "ChangeCustomerIdentifierFieldsetUpdate",
                            "customerIdentifier": {"value": "shop:77"},
                        },
                    ],
                },
            )
        )["id"]
    )

    def search(pattern: str, **extra: Any) -> list[int]:
        body = {"searchPattern": {"value": pattern}, **extra}
        return [e["id"] for e in value(api.post(ACTORS_PAGE, json=body))["entries"]]

    assert search("KAREN@EXAMPLE") == [karen]
    assert search("20 30 40") == [karen]
    assert search("shop:77") == [company]
    assert search("hansen cykler") == [company]
    assert search("") == [karen, company]
    assert search("", roleSystemName={"value": "customerorganization"}) == [company]
    assert search("", actorIds={"value": [karen]}) == [karen]
    entry = value(api.post(ACTORS_PAGE, json={"actorIds": {"value": [company]}}))["entries"][0]
    assert entry == {
        "id": company,
        "displayName": "Hansen Cykler ApS",
        "email": "info@hansen.dk",
        "phone": None,
        "customerIdentifier": "shop:77",
        "roleNames": ["CustomerOrganization", "Customer"],
        "isOrganization": True,
        "organizationalIdentifier": "12345678",
    }
    assert (
        value(api.post("/api/actors/Actor/GetActor", json={"id": karen}))["displayName"]
        == "Karen Jensen"
    )


@pytest.mark.parametrize(
    ("updates", "roles", "says"),
    [
        ([], ["CustomerPerson"], "name"),
        (
            [{"modelType": "ChangePersonFieldsetUpdate", "firstName": {"value": " "}}],
            ["Customer"],
            "name",
        ),
        (
            [
                {
                    "modelType": "ChangeOrganizationFieldsetUpdate",
                    "organizationalIdentifier": {"value": "1"},
                }
            ],
            ["CustomerOrganization"],
            "organizationName",
        ),
        ([], ["CustomerOrganization"], "organizationName"),
        (
            [{"modelType": "ChangePersonFieldsetUpdate", "firstName": {"value": "A"}}],
            ["Wizard"],
            "Wizard",
        ),
        (
            [{"modelType": "ChangeAddressFieldsetUpdate"}],
            ["Customer"],
            "ChangeAddressFieldsetUpdate",
        ),
        (
            [{"modelType": "ChangePersonFieldsetUpdate", "firstName": {"value": "A"}}],
            [],
            "roleNames",
        ),
    ],
)
def test_actor_validation(
    api: httpx.Client, updates: list[dict[str, Any]], roles: list[str], says: str
) -> None:
    message = error(
        api.post(
            CREATE_ACTOR,
            json={"modelType": "CreateActorCommand", "modelUpdates": updates, "roleNames": roles},
        ),
        VALIDATION,
    )
    assert says in message


def test_user_role_creates_a_login_with_the_email_as_password(
    server: str, sim: httpx.Client, api: httpx.Client
) -> None:
    actor = make_person(api, email="ole@example.dk", roles=("CustomerPerson", "User"))
    users = sim.get("/_sim/state").json()["users"]
    assert [(u["actorId"], u["userName"], u["password"]) for u in users] == [
        (actor, "ole@example.dk", "ole@example.dk")
    ]
    with httpx.Client(base_url=server, timeout=10) as client:
        login = value(
            client.post(
                LOGIN,
                json={
                    **CREDENTIALS,
                    "userNameOrEMail": "ole@example.dk",
                    "password": "ole@example.dk",
                },
            )
        )
    assert login["resultCode"] == 1
    again = {
        "modelType": "CreateActorCommand",
        "roleNames": ["User"],
        "modelUpdates": [
            {"modelType": "ChangePersonFieldsetUpdate", "firstName": {"value": "Ole"}},
            {"modelType": "ChangeContactFieldsetUpdate", "email": {"value": "OLE@example.dk"}},
        ],
    }
    error(api.post(CREATE_ACTOR, json=again), ALREADY_EXISTS)


# --- inventory -----------------------------------------------------------------------------------


def test_product_lookups(sim: httpx.Client, api: httpx.Client) -> None:
    page = value(
        api.post(
            PRODUCT_PAGE,
            json={"searchPattern": {"value": "shirt-m"}, "includeOverallEntryCount": True},
        )
    )
    assert page["overallEntryCount"] == 1
    shirt = page["entries"][0]["product"]
    assert shirt == {
        "id": shirt["id"],
        "identifier": "SAP-SHIRT",
        "displayName": "T-shirt",
        "financialAccountNumber": "3000",
        "salesPrice": 150.0,
        "costPrice": 90.0,
        "isDefaultCostPriceApplicable": False,
        "defaultCostPrice": None,
        "isProductVariantsSupported": True,
        "isProductInstancesSupported": False,
        "isUserDefinedPriceAllowed": False,
    }
    infos = value(api.post(VARIANT_INFOS, json={"productId": {"value": shirt["id"]}}))
    assert [(v["identifier"], v["salesPrice"], v["costPrice"], v["isEnabled"]) for v in infos] == [
        ("SAP-SHIRT-M", 125.0, None, True),
        ("SAP-SHIRT-L", None, 95.0, True),
    ]
    assert set(infos[0]) == {
        "id",
        "productId",
        "identifier",
        "displayName",
        "salesPrice",
        "costPrice",
        "isEnabled",
    }
    bike = product(api, "SAP-BIKE")
    assert bike["isProductInstancesSupported"]
    by_instance = value(api.post(PRODUCT_PAGE, json={"searchPattern": {"value": "bike-0042"}}))
    assert [e["product"] for e in by_instance["entries"]] == [bike]
    assert value(api.post(INSTANCES, json={"productId": {"value": bike["id"]}})) == [
        {
            "id": instance(api, bike["id"], "SAP-BIKE-0042")["id"],
            "productId": bike["id"],
            "identifier": "SAP-BIKE-0042",
            "salesPrice": 8490.0,
            "costPrice": 5100.0,
        }
    ]
    coffee = product(api, "SAP-COFFEE")
    assert (
        coffee["costPrice"],
        coffee["isDefaultCostPriceApplicable"],
        coffee["defaultCostPrice"],
    ) == (None, True, 40.0)
    error(api.post(VARIANT_INFOS, json={"productId": {"value": 99999}}), NOT_EXISTS)
    rates = {a["number"]: a["vatRate"] for a in value(api.post(ACCOUNTS, json={}))}
    assert rates == {"3000": 0.25, "3050": 0.0, "3010": 0.15}
    demo = {
        sku: product(api, sku)["salesPrice"]
        for sku in ("KAFFE-500", "TE-100", "KOPP-01", "KVERN-2", "FRAKT")
    }
    assert demo == {
        "KAFFE-500": 129.0,
        "TE-100": 79.0,
        "KOPP-01": 149.0,
        "KVERN-2": 899.0,
        "FRAKT": 99.0,
    }
    sim.post("/_sim/config", json={"demo_catalogue": False}).raise_for_status()
    assert (
        value(api.post(PRODUCT_PAGE, json={"searchPattern": {"value": "KAFFE"}}))["entries"] == []
    )
    assert "3010" not in {a["number"] for a in value(api.post(ACCOUNTS, json={}))}


def test_admin_adds_products(sim: httpx.Client, api: httpx.Client) -> None:
    added = sim.post(
        "/_sim/products",
        json={
            "identifier": "SAP-SOCK",
            "salesPrice": 40.0,
            "costPrice": 12.0,
            "variants": [{"identifier": "SAP-SOCK-RED", "isEnabled": False}],
        },
    )
    assert added.status_code == 201, added.text
    assert added.json()["variants"][0]["identifier"] == "SAP-SOCK-RED"
    assert product(api, "SAP-SOCK")["isProductVariantsSupported"] is True
    assert sim.post("/_sim/products", json={"identifier": "sap-100"}).status_code == 400
    assert (
        sim.post(
            "/_sim/products", json={"identifier": "X", "financialAccountNumber": "9"}
        ).status_code
        == 400
    )
    sock = product(api, "SAP-SOCK")
    red = variant(api, sock["id"], "SAP-SOCK-RED")
    assert "disabled" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(sock["id"], variant_id=red["id"])]}),
        VALIDATION,
    )


# --- sale item resolution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sku", "quantity", "discount", "expected"),
    [
        # price, cost, amount, net, vatRate
        ("SAP-100", 1, 0, (100.0, 60.0, 100.0, 80.0, 0.25)),
        ("SAP-SHIRT-M", 2, 50, (125.0, 90.0, 200.0, 160.0, 0.25)),  # variant price, product cost
        ("SAP-SHIRT-L", 1, 0, (150.0, 95.0, 150.0, 120.0, 0.25)),  # product price, variant cost
        ("SAP-BIKE-0042", 1, 0, (8490.0, 5100.0, 8490.0, 6792.0, 0.25)),  # the instance's own
        ("SAP-COFFEE", 1, 0, (89.0, 40.0, 89.0, 71.2, 0.25)),  # defaultCostPrice
        ("SAP-AVIS", 3, 0, (30.0, 10.0, 90.0, 90.0, 0.0)),  # zero-rated account 3050
        ("KAFFE-500", 1, 0, (129.0, 70.0, 129.0, 112.17, 0.15)),  # demo account 3010
    ],
)
def test_catalogue_price_and_cost_resolution(
    sim: httpx.Client,
    api: httpx.Client,
    sku: str,
    quantity: int,
    discount: float,
    expected: tuple[float, ...],
) -> None:
    created = create_order(api, [sku_item(api, sku, quantity, discount)])
    line = state_order(sim, created["id"])["items"][0]
    assert (
        line["price"],
        line["costPrice"],
        line["amount"],
        line["netAmount"],
        line["vatRate"],
    ) == expected
    assert line["quantity"] == quantity and line["manualDiscountAmount"] == discount
    assert line["vatAmount"] == round(expected[2] - expected[3], 2)
    assert sku in (line["productIdentifier"], line["variantIdentifier"], line["instanceIdentifier"])


def test_amounts_round_half_up_per_line(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post(
        "/_sim/products", json={"identifier": "SAP-BULK", "salesPrice": 1.25}
    ).raise_for_status()
    created = create_order(api, [item(product(api, "SAP-BULK")["id"], 0.5)])
    line = state_order(sim, created["id"])["items"][0]
    assert (line["quantity"], line["amount"], line["netAmount"]) == (0.5, 0.63, 0.5)


def test_item_refusals(sim: httpx.Client, api: httpx.Client) -> None:
    shirt, bike = product(api, "SAP-SHIRT"), product(api, "SAP-BIKE")
    sap100 = product(api, "SAP-100")
    message = error(api.post(CREATE_ORDER, json={"modelUpdates": [item(shirt["id"])]}), VALIDATION)
    assert "SAP-SHIRT" in message and "variantId" in message
    assert "instanceId" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(bike["id"])]}), VALIDATION
    )
    bike42 = instance(api, bike["id"], "SAP-BIKE-0042")["id"]
    assert "quantity must be 1" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(bike["id"], 2, instance_id=bike42)]}),
        VALIDATION,
    )
    assert "negative" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(sap100["id"], 1, discount=100.01)]}),
        VALIDATION,
    )
    assert "manualDiscountAmount" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(sap100["id"], 1, discount=-1)]}),
        VALIDATION,
    )
    assert "price" in error(
        api.post(CREATE_ORDER, json={"modelUpdates": [item(sap100["id"], price=95.0)]}), VALIDATION
    )
    error(api.post(CREATE_ORDER, json={"modelUpdates": [item(99999)]}), NOT_EXISTS)
    error(
        api.post(
            CREATE_ORDER,
            json={
                "modelUpdates": [
                    item(sap100["id"], variant_id=variant(api, shirt["id"], "SAP-SHIRT-M")["id"])
                ]
            },
        ),
        NOT_EXISTS,
    )
    assert "vatRate" in error(
        api.post(
            CREATE_ORDER,
            json={
                "modelUpdates": [
                    item(
                        product(api, "SAP-AVIS")["id"],
                        financialData={"priceIncludesVat": True, "vatRate": 0.25},
                    )
                ]
            },
        ),
        VALIDATION,
    )
    assert sim.get("/_sim/state").json()["salesOrders"] == []  # nothing half-made
    # The same price as Sapera's, and a product named by its identifier only, are fine.
    by_identifier = {
        "modelType": "CreateSalesOrderItemModelUpdate",
        "quantity": 1,
        "price": 100.0,
        "inventoryItemData": {"productIdentifier": "sap-100"},
    }
    assert create_order(api, [by_identifier])["id"]
    sim.post(
        "/_sim/products",
        json={"identifier": "SAP-GIFT", "salesPrice": 100.0, "isUserDefinedPriceAllowed": True},
    ).raise_for_status()
    gift = create_order(api, [item(product(api, "SAP-GIFT")["id"], price=75.5)])
    assert state_order(sim, gift["id"])["items"][0]["amount"] == 75.5


# --- the sales-order life ------------------------------------------------------------------------


def test_order_life_ready_invoice_book(sim: httpx.Client, api: httpx.Client) -> None:
    actor = make_person(api)
    created = create_order(api, [sku_item(api, "SAP-100")], actor, "#2001")
    order = state_order(sim, created["id"])
    assert (order["state"], order["stateCode"], order["number"]) == ("Draft", 1, created["number"])
    assert order["customerReference"] == "#2001" and order["actorId"] == actor
    error(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}), VALIDATION)  # draft
    value(
        api.post(
            UPDATE_ORDER,
            json={
                "modelType": "UpdateSalesOrderCommand",
                "id": created["id"],
                "modelUpdates": [sku_item(api, "SAP-AVIS")],
            },
        )
    )
    assert state_order(sim, created["id"])["total"] == 130.0
    value(api.post(SET_READY, json={"id": created["id"]}))
    assert state_order(sim, created["id"])["stateCode"] == 2
    message = error(
        api.post(
            UPDATE_ORDER, json={"id": created["id"], "modelUpdates": [sku_item(api, "SAP-AVIS")]}
        ),
        VALIDATION,
    )
    assert "AllowModifyingWhenReady" in message
    invoice = value(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}))
    assert set(invoice) == {"id", "number"} and invoice["id"] != invoice["number"]
    assert state_order(sim, created["id"])["state"] == "Invoiced"
    error(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}), ALREADY_EXISTS)
    value(api.post(BOOK, json={"id": invoice["id"]}))
    assert "booked" in error(api.post(BOOK, json={"id": invoice["id"]}), VALIDATION)
    shown = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))
    assert (shown["number"], shown["salesOrderId"], shown["isBooked"], shown["total"]) == (
        invoice["number"],
        created["id"],
        True,
        130.0,
    )
    assert len(shown["items"]) == 2
    order = state_order(sim, created["id"])
    assert (order["state"], order["stateCode"], order["invoiceIds"]) == (
        "Completed",
        4,
        [invoice["id"]],
    )
    error(api.post(GET_INVOICE, json={"id": 99999}), NOT_EXISTS)


def test_order_without_customer_can_not_be_invoiced(api: httpx.Client) -> None:
    created = create_order(api, [sku_item(api, "SAP-100")])
    value(api.post(SET_READY, json={"id": created["id"]}))
    assert "customer" in error(
        api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}), VALIDATION
    )
    empty = create_order(api, [])
    assert "no items" in error(api.post(SET_READY, json={"id": empty["id"]}), VALIDATION)


def test_allow_modifying_when_ready(sim: httpx.Client, api: httpx.Client) -> None:
    actor = make_person(api)
    created = create_order(api, [sku_item(api, "SAP-100")], actor, modifiable=True)
    value(api.post(SET_READY, json={"id": created["id"]}))
    value(
        api.post(
            UPDATE_ORDER, json={"id": created["id"], "modelUpdates": [sku_item(api, "SAP-COFFEE")]}
        )
    )
    first = value(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}))
    value(
        api.post(
            UPDATE_ORDER, json={"id": created["id"], "modelUpdates": [sku_item(api, "SAP-AVIS")]}
        )
    )
    order = state_order(sim, created["id"])
    assert (order["state"], order["isModifiableWhenReady"], order["total"]) == (
        "Ready",
        True,
        219.0,
    )
    second = value(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}))
    totals = {i["id"]: i["total"] for i in sim.get("/_sim/state").json()["invoices"]}
    assert totals == {first["id"]: 189.0, second["id"]: 30.0}
    value(api.post(BOOK, json={"id": first["id"]}))
    assert state_order(sim, created["id"])["state"] == "Invoiced"
    value(api.post(BOOK, json={"id": second["id"]}))
    assert state_order(sim, created["id"])["state"] == "Completed"


def test_blank_invoice_and_book(sim: httpx.Client, api: httpx.Client) -> None:
    actor = make_person(api)
    blank = value(
        api.post(
            BLANK,
            json={
                "actorId": actor,
                "customerReference": {"value": "#3001"},
                "modelUpdates": [sku_item(api, "SAP-SHIRT-M", 2, 50), sku_item(api, "FRAKT")],
            },
        )
    )
    shown = value(api.post(GET_INVOICE, json={"id": blank["id"]}))
    assert (
        shown["salesOrderId"],
        shown["isBooked"],
        shown["total"],
        shown["customerReference"],
    ) == (None, False, 299.0, "#3001")
    value(api.post(BOOK, json={"id": blank["id"]}))
    error(api.post(BOOK, json={"id": blank["id"]}), VALIDATION)
    error(
        api.post(BLANK, json={"actorId": 99999, "modelUpdates": [sku_item(api, "SAP-100")]}),
        NOT_EXISTS,
    )
    error(api.post(BLANK, json={"actorId": actor, "modelUpdates": []}), VALIDATION)
    assert sim.get("/_sim/state").json()["salesOrders"] == []


def test_create_is_not_idempotent_and_numbers_are_sequential(
    sim: httpx.Client, api: httpx.Client
) -> None:
    first = create_order(api, [sku_item(api, "SAP-100")], reference="#4001")
    second = create_order(api, [sku_item(api, "SAP-100")], reference="#4001")
    assert second["id"] == first["id"] + 1 and second["number"] == first["number"] + 1
    assert [o["customerReference"] for o in sim.get("/_sim/state").json()["salesOrders"]] == [
        "#4001",
        "#4001",
    ]


def test_sales_orders_page_filters(sim: httpx.Client, api: httpx.Client) -> None:
    orders = [create_order(api, [sku_item(api, "SAP-100")], reference=f"#500{n}") for n in range(3)]
    value(api.post(SET_READY, json={"id": orders[1]["id"]}))
    stored = [state_order(sim, o["id"]) for o in orders]

    def ids(**filters: Any) -> list[int]:
        page = value(api.post(ORDERS_PAGE, json={"offset": 0, "count": 10, **filters}))
        return [e["id"] for e in page["entries"]]

    created = {"createdAt": {"value": {"from": stored[1]["createdAt"], "to": None}}}
    assert ids(**created) == [orders[1]["id"], orders[2]["id"]]
    assert ids(createdAt={"value": {"from": None, "to": stored[0]["createdAt"]}}) == [
        orders[0]["id"]
    ]
    assert ids(updatedAt={"value": {"from": stored[2]["createdAt"]}}) == [
        orders[1]["id"],
        orders[2]["id"],
    ]  # set ready after the third was created
    assert ids(
        numericIdentifier={"value": {"from": orders[0]["number"], "to": orders[1]["number"]}}
    ) == [orders[0]["id"], orders[1]["id"]]
    assert ids(salesOrderStates={"value": [2]}) == [orders[1]["id"]]
    assert ids(createdAt={"from": "2000-01-01T00:00:00Z", "to": "2000-01-02"}) == []
    error(api.post(ORDERS_PAGE, json={"createdAt": {"value": {"from": "yesterday"}}}), VALIDATION)
    assert "customerReference" in error(
        api.post(ORDERS_PAGE, json={"customerReference": {"value": "#5001"}}), VALIDATION
    )
    sim.post("/_sim/config", json={"customer_reference_filterable": True}).raise_for_status()
    assert ids(customerReference={"value": "#5001"}) == [orders[1]["id"]]
    assert ids(customerReference={"value": "#500"}) == []  # an exact match
    entry = value(
        api.post(
            ORDERS_PAGE,
            json={
                "numericIdentifier": {
                    "value": {"from": orders[0]["number"], "to": orders[0]["number"]}
                }
            },
        )
    )["entries"][0]
    assert entry == {
        "id": orders[0]["id"],
        "number": orders[0]["number"],
        "state": "Draft",
        "stateCode": 1,
        "customerReference": "#5000",
        "actorId": None,
        "createdAt": stored[0]["createdAt"],
        "updatedAt": stored[0]["updatedAt"],
        "isModifiableWhenReady": False,
        "invoiceIds": [],
        "total": 100.0,
    }
    with_items = value(api.post(ORDERS_PAGE, json={"propertiesToLoad": {"value": 1}}))
    assert all(len(e["items"]) == 1 for e in with_items["entries"])


def test_customer_reference_field_name_is_an_option(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"customer_reference_field": "yourReference"}).raise_for_status()
    created = value(
        api.post(
            CREATE_ORDER,
            json={
                "modelUpdates": [
                    customer_data(None, "#6001", field="yourReference"),
                    sku_item(api, "SAP-100"),
                ]
            },
        )
    )
    assert state_order(sim, created["id"])["customerReference"] == "#6001"
    entry = value(api.post(ORDERS_PAGE, json={}))["entries"][0]
    assert entry["yourReference"] == "#6001" and "customerReference" not in entry


def test_paths_are_options(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post(
        "/_sim/config", json={"create_order_path": "/api/financial/SalesOrder/Create/"}
    ).raise_for_status()
    assert sim.get("/_sim/config").json()["create_order_path"] == "api/financial/SalesOrder/Create"
    error(api.post(CREATE_ORDER, json={}), METHOD_NOT_FOUND, 404)
    assert value(
        api.post(
            "/api/financial/SalesOrder/Create", json={"modelUpdates": [sku_item(api, "SAP-100")]}
        )
    )["id"]
    assert "POST /api/financial/SalesOrder/Create" in sim.get("/_sim/calls").json()["by_endpoint"]
    assert sim.post("/_sim/config", json={"create_order_path": "financial/x"}).status_code == 400


# --- after the order: invoices read back, payments, credit notes ---------------------------------


def booked_invoice(
    api: httpx.Client, items: list[dict[str, Any]], reference: str = "#9001"
) -> dict[str, int]:
    created = create_order(api, items, make_person(api), reference)
    value(api.post(SET_READY, json={"id": created["id"]}))
    invoice = value(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}))
    value(api.post(BOOK, json={"id": invoice["id"]}))
    return {
        "id": invoice["id"],
        "number": invoice["number"],
        "order": created["id"],
        "orderNumber": created["number"],
    }


def pay(sim: httpx.Client, body: Any) -> httpx.Response:
    return sim.post("/_sim/payments", json=body)


def test_invoice_reads_show_booking_payment_state_and_the_order(
    sim: httpx.Client, api: httpx.Client
) -> None:
    invoice = booked_invoice(api, [sku_item(api, "SAP-100", 2)])
    shown = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))
    assert {
        k: shown[k]
        for k in (
            "isBooked",
            "state",
            "total",
            "remainingAmount",
            "currencyCode",
            "salesOrderId",
            "salesOrderNumber",
            "customerReference",
            "isCreditNote",
        )
    } == {
        "isBooked": True,
        "state": "Booked",
        "total": 200.0,
        "remainingAmount": 200.0,
        "currencyCode": "DKK",
        "salesOrderId": invoice["order"],
        "salesOrderNumber": invoice["orderNumber"],
        "customerReference": "#9001",
        "isCreditNote": False,
    }
    assert shown["updatedAt"] == shown["bookedAt"] >= shown["createdAt"]
    assert "payments" not in shown
    sim.post("/_sim/config", json={"show_remaining_amount": False}).raise_for_status()
    assert "remainingAmount" not in value(api.post(GET_INVOICE, json={"id": invoice["id"]}))


def test_invoices_page_filters_on_change_time_and_number(
    sim: httpx.Client, api: httpx.Client
) -> None:
    first = booked_invoice(api, [sku_item(api, "SAP-100")])
    second = booked_invoice(api, [sku_item(api, "SAP-COFFEE")], "#9002")
    stamps = {i["id"]: i["updatedAt"] for i in sim.get("/_sim/state").json()["invoices"]}

    def ids(**filters: Any) -> list[int]:
        page = value(api.post(INVOICES_PAGE, json={"offset": 0, "count": 10, **filters}))
        return [e["id"] for e in page["entries"]]

    assert ids() == [first["id"], second["id"]]
    assert ids(updatedAt={"value": {"from": stamps[second["id"]], "to": None}}) == [
        second["id"]
    ]  # inclusive
    assert pay(sim, {"invoice_id": first["id"], "amount": "10.00"}).status_code == 200
    assert ids(updatedAt={"value": {"from": stamps[second["id"]]}}) == [first["id"], second["id"]]
    assert ids(numericIdentifier={"value": {"from": second["number"]}}) == [second["id"]]
    entries = value(api.post(INVOICES_PAGE, json={}))["entries"]
    assert "items" not in entries[0] and entries[0]["remainingAmount"] == 90.0
    with_items = value(api.post(INVOICES_PAGE, json={"propertiesToLoad": 1}))["entries"]
    assert len(with_items[0]["items"]) == 1


def test_payments_partial_then_the_rest(sim: httpx.Client, api: httpx.Client) -> None:
    invoice = booked_invoice(api, [sku_item(api, "SAP-100", 2)])
    before = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))["updatedAt"]
    part = pay(sim, {"invoice_id": str(invoice["id"]), "amount": "50.00"})
    assert part.status_code == 200, part.text
    assert (part.json()["remainingAmount"], part.json()["state"]) == (150.0, "PartlyPaid")
    assert part.json()["updatedAt"] > before
    rest = pay(sim, {"invoice_id": invoice["id"]}).json()
    assert (rest["remainingAmount"], rest["state"]) == (0.0, "Paid")
    shown = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))
    assert shown["remainingAmount"] == 0.0 and shown["updatedAt"] == rest["updatedAt"]
    paid = next(i for i in sim.get("/_sim/state").json()["invoices"] if i["id"] == invoice["id"])[
        "payments"
    ]
    assert [p["amount"] for p in paid] == [50.0, 150.0]


def test_a_payment_may_leave_the_change_stamp_alone(sim: httpx.Client, api: httpx.Client) -> None:
    sim.post("/_sim/config", json={"payment_moves_updated_at": False}).raise_for_status()
    invoice = booked_invoice(api, [sku_item(api, "SAP-100")])
    before = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))["updatedAt"]
    after = pay(sim, {"invoice_id": invoice["id"], "amount": 100}).json()
    assert (after["remainingAmount"], after["updatedAt"]) == (0.0, before)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "body must be"),
        ({"amount": "1"}, "body must be"),
        ({"invoice_id": "x"}, "not an invoice id"),
        ({"invoice_id": 1}, "no invoice with id"),
        ({"invoice_id": "{id}", "amount": "abc"}, "not a number"),
        ({"invoice_id": "{id}", "amount": "0"}, "must be above 0"),
        ({"invoice_id": "{id}", "amount": "100.01"}, "more than the 100.00 that remains"),
        ({"invoice_id": "{draft}"}, "is a draft"),
    ],
)
def test_bad_payments_are_refused_clearly(
    sim: httpx.Client, api: httpx.Client, body: Any, message: str
) -> None:
    invoice = booked_invoice(api, [sku_item(api, "SAP-100")])
    draft = create_order(api, [sku_item(api, "SAP-100")], make_person(api))
    value(api.post(SET_READY, json={"id": draft["id"]}))
    draft_invoice = value(api.post(INVOICE_ORDER, json={"salesOrderId": draft["id"]}))
    if isinstance(body, dict) and isinstance(body.get("invoice_id"), str):
        body = {
            **body,
            "invoice_id": body["invoice_id"].format(id=invoice["id"], draft=draft_invoice["id"]),
        }
    response = pay(sim, body)
    assert response.status_code == 400 and message in response.json()["error"]["message"]
    assert value(api.post(GET_INVOICE, json={"id": invoice["id"]}))["remainingAmount"] == 100.0


def test_credit_note_from_a_booked_invoice(sim: httpx.Client, api: httpx.Client) -> None:
    invoice = booked_invoice(api, [sku_item(api, "SAP-100", 2, 20)])
    draft = create_order(api, [sku_item(api, "SAP-100")], make_person(api))
    value(api.post(SET_READY, json={"id": draft["id"]}))
    unbooked = value(api.post(INVOICE_ORDER, json={"salesOrderId": draft["id"]}))
    assert "booked" in error(
        api.post(CREDIT_INVOICE, json={"invoiceId": unbooked["id"]}), VALIDATION
    )
    note = value(
        api.post(
            CREDIT_INVOICE,
            json={"invoiceId": invoice["id"], "customerReference": {"value": "#9001-R"}},
        )
    )
    error(api.post(CREDIT_INVOICE, json={"invoiceId": invoice["id"]}), ALREADY_EXISTS)
    value(api.post(BOOK, json={"id": note["id"]}))
    shown = value(api.post(GET_INVOICE, json={"id": note["id"]}))
    assert {
        k: shown[k]
        for k in (
            "isCreditNote",
            "total",
            "remainingAmount",
            "creditedInvoiceId",
            "creditedInvoiceNumber",
            "customerReference",
            "salesOrderId",
        )
    } == {
        "isCreditNote": True,
        "total": -180.0,
        "remainingAmount": -180.0,
        "creditedInvoiceId": invoice["id"],
        "creditedInvoiceNumber": invoice["number"],
        "customerReference": "#9001-R",
        "salesOrderId": None,
    }
    assert str(invoice["number"]) in shown["subject"]
    assert [(i["quantity"], i["amount"]) for i in shown["items"]] == [(-2, -180.0)]
    error(api.post(CREDIT_INVOICE, json={"invoiceId": note["id"]}), VALIDATION)
    refunded = pay(sim, {"invoice_id": note["id"], "amount": "80"}).json()
    assert refunded["remainingAmount"] == -100.0  # the refund paid out, towards zero
    original = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))
    assert original["remainingAmount"] == 180.0  # crediting does not settle the original


def test_returned_items_make_a_credit_note_unless_refused(
    sim: httpx.Client, api: httpx.Client
) -> None:
    returned = sku_item(api, "SAP-100", -2, 20)
    invoice = booked_invoice(api, [returned])
    shown = value(api.post(GET_INVOICE, json={"id": invoice["id"]}))
    assert (shown["isCreditNote"], shown["total"], shown["remainingAmount"]) == (
        True,
        -180.0,
        -180.0,
    )
    assert shown["items"][0]["netAmount"] == -144.0
    sim.post("/_sim/config", json={"negative_quantities": False}).raise_for_status()
    assert "above 0" in error(api.post(CREATE_ORDER, json={"modelUpdates": [returned]}), VALIDATION)
    error(api.post(CREATE_ORDER, json={"modelUpdates": [sku_item(api, "SAP-100", 0)]}), VALIDATION)


# --- faults, state, reset, registry --------------------------------------------------------------


def add_fault(sim: httpx.Client, **fault: Any) -> None:
    response = sim.post(
        "/_sim/faults", json={"match": "POST /api/financial/SalesOrder/CreateSalesOrder", **fault}
    )
    assert response.status_code == 201, response.text


def test_status_fault_answers_without_acting(sim: httpx.Client, api: httpx.Client) -> None:
    body = {"modelUpdates": [sku_item(api, "SAP-100")]}
    add_fault(sim, mode="status", status=503)
    error(api.post(CREATE_ORDER.lower(), json=body), 7, 503)  # TenantNotReady
    assert sim.get("/_sim/state").json()["salesOrders"] == []
    add_fault(sim, mode="status", status=500)
    error(api.post(CREATE_ORDER, json=body), 0, 500)
    add_fault(sim, mode="rate_limit")
    limited = api.post(CREATE_ORDER, json=body)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert value(api.post(CREATE_ORDER, json=body))["id"]
    calls = sim.get("/_sim/calls").json()
    assert calls["by_endpoint"]["POST /api/financial/SalesOrder/CreateSalesOrder"] == 4
    assert [c["fault"] for c in calls["calls"][-4:]] == ["status", "status", "rate_limit", None]


def test_commit_then_status_creates_the_order(sim: httpx.Client, api: httpx.Client) -> None:
    add_fault(sim, mode="commit_then_status")
    error(
        api.post(
            CREATE_ORDER,
            json={"modelUpdates": [customer_data(None, "#7001"), sku_item(api, "SAP-100")]},
        ),
        0,
        500,
    )
    orders = sim.get("/_sim/state").json()["salesOrders"]
    assert [o["customerReference"] for o in orders] == ["#7001"]


def test_state_shape_and_reset(sim: httpx.Client, api: httpx.Client) -> None:
    actor = make_person(api, roles=("CustomerPerson", "User"))
    created = create_order(api, [sku_item(api, "SAP-SHIRT-M", 2, 50)], actor, "#8001")
    value(api.post(SET_READY, json={"id": created["id"]}))
    value(api.post(INVOICE_ORDER, json={"salesOrderId": created["id"]}))
    sim.post("/_sim/products", json={"identifier": "SAP-NEW", "salesPrice": 1.0}).raise_for_status()
    state = sim.get("/_sim/state").json()
    assert set(state) == {"actors", "products", "salesOrders", "invoices", "users"}
    order = state["salesOrders"][0]
    assert {"id", "number", "state", "customerReference", "items", "total"} <= set(order)
    assert {
        "price",
        "costPrice",
        "manualDiscountAmount",
        "vatRate",
        "amount",
        "netAmount",
        "quantity",
        "productIdentifier",
    } <= set(order["items"][0])
    assert {"id", "number", "salesOrderId", "isBooked", "total"} <= set(state["invoices"][0])
    shirt = next(p for p in state["products"] if p["identifier"] == "SAP-SHIRT")
    assert len(shirt["variants"]) == 2 and shirt["instances"] == []
    sim.post("/_sim/config", json={"strict_wrappers": True}).raise_for_status()
    add_fault(sim, mode="status", count=-1)
    assert sim.post("/_sim/config", json={"no_such_option": 1}).status_code == 400
    assert sim.post("/_sim/reset").status_code == 200
    after = sim.get("/_sim/state").json()
    assert {k: v for k, v in after.items() if k != "products"} == {
        "actors": [],
        "salesOrders": [],
        "invoices": [],
        "users": [],
    }
    assert sorted(p["identifier"] for p in after["products"]) == sorted(
        [
            "SAP-100",
            "SAP-SHIRT",
            "SAP-BIKE",
            "SAP-COFFEE",
            "SAP-AVIS",
            "KAFFE-500",
            "TE-100",
            "KOPP-01",
            "KVERN-2",
            "FRAKT",
        ]
    )
    assert sim.get("/_sim/faults").json() == []
    assert sim.get("/_sim/config").json()["strict_wrappers"] is False
    assert value(api.post(ACCOUNTS, json={}))  # the token outlives the reset
    again = create_order(api, [sku_item(api, "SAP-100")])
    assert again["number"] == created["number"]  # numbering starts over


def test_registered_with_port_and_demo_scene() -> None:
    factory, port = SIMULATORS["sapera"]
    assert port == 18084 and factory is create_app
    scene = DEMO_SCENES["sapera"]
    assert scene.faults == (
        {
            "match": "POST /api/financial/SalesOrder/CreateSalesOrder",
            "mode": "status",
            "status": 503,
            "count": 1,
        },
    )
    assert scene.refused_line == {"sku": "SAP-AVIS", "vat_rate": "0.25"}
    assert scene.seed is None
