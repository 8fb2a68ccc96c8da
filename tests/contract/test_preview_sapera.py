"""A dry run into Sapera (`connectors/sapera/rehearsal.py`) against the in-process simulator
over HTTP: the connector built as `Runtime.rehearsal` builds it reads the tenant, writes
nothing (the simulator's call log holds queries and the login only), and its recorded writes
carry the request bodies a real run sends. What the stand-in predicts is then checked against
the same order really sent with a plain connector: Sapera's resolved price, cost and amounts per
item and the order's totals, and, for an order a real run dead-letters, the very same message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import Connector, customer_key
from connectors.errors import ErpError, PermanentError, classify
from connectors.rehearsal import Recorded, RehearsalTransport
from connectors.sapera import SaperaSettings, build, stand_in
from core.runtime import Runtime
from core.settings import parse_settings
from schemas.order import Order
from simulators.sapera import create_app
from tests.support.config import sapera_connection
from tests.support.factories import order as order_json
from tests.support.factories import product_line
from tests.support.fakes import fake_store
from tests.support.sim_server import simulator_fixtures

server_fixture, sim_fixture = simulator_fixtures(create_app)
EXAMPLE = Path(__file__).parents[2] / "examples" / "sapera-order.json"
CONNECTION = "demo-sapera"
CREATE_ACTOR = "/api/actors/Actor/CreateActor"
CREATE_ORDER = "/api/financial/SalesOrder/CreateSalesOrder"
TOKEN_ENDPOINTS = {
    "POST /api/security/Authentication/Login",
    "POST /api/security/authentication/loginWithRefreshToken",
}


def line(sku: str, quantity: str, unit_price: str, rate: str = "0.25") -> dict[str, Any]:
    return product_line(sku, quantity, unit_price, vat_rate=rate, name=sku)


TEXT_LINE = {"type": "text", "text": "Gift wrapped, please"}
# Every rule of Sapera's price and cost resolution (erp/sapera.md), each line below its price:
# a variant's own price with the product's cost, the product's price with a variant's cost, an
# instance's own, a default cost price, a zero-rated account and the demo's 15 % account.
PRICE_COST_TABLE = [
    line("SAP-SHIRT-M", "2", "100.00"),
    line("SAP-SHIRT-L", "1", "150.00"),
    TEXT_LINE,
    line("SAP-BIKE-0042", "1", "8490.00"),
    line("SAP-COFFEE", "3", "89.00"),
    line("SAP-AVIS", "3", "25.00", "0"),
    line("KAFFE-500", "1", "119.00", "0.15"),
]


@dataclass
class Run:
    """What one run of the pipeline's calls gave: each step's recorded writes."""

    steps: dict[str, list[Recorded]] = field(default_factory=dict)
    customer_id: str | None = None
    order_id: str | None = None


def run(
    connector: Connector,
    order: Order,
    transport: RehearsalTransport | None = None,
    invoice: bool = False,
) -> Run:
    """The calls a dry run makes, in the pipeline's order (tasks/preview.py)."""
    reference = f"webshop:{order.external_id}"
    done = Run()

    def step(name: str) -> None:
        done.steps[name] = transport.take() if transport else []

    assert connector.check_order(order) == []
    connector.unmapped(order, reference)
    done.customer_id = connector.upsert_customer(order.customer, customer_key(order.customer))
    step("customer")
    connector.upsert_products(connector.products_for(order))
    step("products")
    assert connector.find_order(reference, since=None) is None
    step("find")
    done.order_id = connector.create_order(order, reference, done.customer_id).id
    step("order")
    if invoice:
        connector.send_invoice(done.order_id, order.customer.email)
        step("invoice")
    return done


@pytest.fixture(name="rehearse")
def rehearse_fixture(server: str) -> Iterator[Any]:
    """A connector and its transport as `Runtime.rehearsal` builds them for the connection."""
    transports: list[RehearsalTransport] = []

    def make(**settings: Any) -> tuple[Connector, RehearsalTransport]:
        raw = {"connections": {CONNECTION: sapera_connection(server, settings=settings)}}
        connector, transport = Runtime(parse_settings(raw, env={}), fake_store()).rehearsal(
            CONNECTION
        )
        transports.append(transport)
        return connector, transport

    yield make
    for transport in transports:
        transport.close()


@pytest.fixture(name="real")
def real_fixture(server: str) -> Iterator[Any]:
    """A plain connector on the simulator: the same order really sent."""
    clients: list[httpx.Client] = []

    def make(**settings: Any) -> Connector:
        client = httpx.Client(timeout=10)
        clients.append(client)
        conf = sapera_connection(server, settings=settings)["settings"]
        return build(SaperaSettings.model_validate(conf), client, fake_store())

    yield make
    for client in clients:
        client.close()


def writes(sim: httpx.Client) -> list[str]:
    """The calls the simulator logged that were neither a query nor a login."""
    calls = sim.get("/_sim/calls").json()["calls"]
    return [
        c["endpoint"]
        for c in calls
        if c["endpoint"] not in TOKEN_ENDPOINTS
        and not c["endpoint"].rsplit("/", 1)[-1].startswith("Get")
    ]


def stored_amounts(sim: httpx.Client) -> dict[str, str]:
    """The simulator's sales order in `amounts()`'s terms."""
    [stored] = sim.get("/_sim/state").json()["salesOrders"]
    out: dict[str, str] = {}
    for n, item in enumerate(stored["items"]):
        sku = item["instanceIdentifier"] or item["variantIdentifier"] or item["productIdentifier"]
        values = {
            "sku": sku,
            "quantity": f"{Decimal(str(item['quantity'])).normalize():f}",
            "price": item["price"],
            "cost": item["costPrice"],
            "discount": item["manualDiscountAmount"],
            "amount": item["amount"],
            "net": item["netAmount"],
            "vat": item["vatAmount"],
        }
        out.update(
            {
                f"items.{n}.{k}": money(v) if k not in ("sku", "quantity") else v
                for k, v in values.items()
                if v is not None
            }
        )
    net = sum(Decimal(str(i["netAmount"])) for i in stored["items"])
    total = money(stored["total"])
    out.update(total=total, total_excl_vat=money(net), vat=money(Decimal(total) - net))
    return out


def money(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


def example() -> Order:
    return Order.model_validate_json(EXAMPLE.read_text())


def test_the_seed_order_is_previewed_with_sapera_bodies_and_totals_and_nothing_written(
    sim: httpx.Client, rehearse: Any, real: Any
) -> None:
    connector, transport = rehearse()
    done = run(connector, example(), transport)

    assert writes(sim) == []
    assert sim.get("/_sim/state").json()["actors"] == []
    [actor] = done.steps["customer"]
    assert (actor.path, actor.status) == (CREATE_ACTOR, 200)
    person = actor.body["modelUpdates"][0]
    assert (person["firstName"], person["lastName"]) == ({"value": "Mette"}, {"value": "Jensen"})
    assert done.steps["products"] == done.steps["find"] == []
    [created] = done.steps["order"]
    assert created.path == CREATE_ORDER and created.status == 200
    customer, *items = created.body["modelUpdates"]
    assert customer["actor"] == {"value": {"actorId": int(done.customer_id or 0)}}
    assert customer["customerReference"] == {"value": "webshop:4001"}
    assert [
        (i["inventoryItemData"]["productIdentifier"], i["quantity"], i["manualDiscountAmount"])
        for i in items
    ] == [("KVERN-2", 1.0, 89.9), ("KOPP-01", 2.0, 0.0), ("FRAKT", 1.0, 0.0)]
    predicted = transport.stand_in.amounts()
    assert predicted["total"] == "1206.10"

    # The same order really sent: Sapera stores what the stand-in predicted.
    run(real(), example())
    assert stored_amounts(sim) == predicted


def test_the_price_cost_table_with_a_text_line_resolves_as_sapera_does(
    sim: httpx.Client, rehearse: Any, real: Any
) -> None:
    order = Order.model_validate(order_json("S-1001", lines=PRICE_COST_TABLE))
    connector, transport = rehearse()
    done = run(connector, order, transport, invoice=True)

    assert writes(sim) == []
    [created] = done.steps["order"]
    assert len(created.body["modelUpdates"]) == 1 + 6  # the customer and six items, no text
    predicted = transport.stand_in.amounts()
    expect = {  # sku: price, cost, manual discount, amount
        "SAP-SHIRT-M": ("125.00", "90.00", "50.00", "200.00"),
        "SAP-SHIRT-L": ("150.00", "95.00", "0.00", "150.00"),
        "SAP-BIKE-0042": ("8490.00", "5100.00", "0.00", "8490.00"),
        "SAP-COFFEE": ("89.00", "40.00", "0.00", "267.00"),
        "SAP-AVIS": ("30.00", "10.00", "15.00", "75.00"),
        "KAFFE-500": ("129.00", "70.00", "10.00", "119.00"),
    }
    for n, (sku, values) in enumerate(expect.items()):
        got = tuple(predicted[f"items.{n}.{k}"] for k in ("price", "cost", "discount", "amount"))
        assert (predicted[f"items.{n}.sku"], got) == (sku, values)
    assert predicted["total"] == "9301.00"
    # The invoice steps run on what the dry run made up: set ready, invoice, book.
    # The reads of the made-up order and invoice are answered by the stand-in, not shown as
    # writes (`connectors.rehearsal.AnswersMadeUp`).
    assert [r.path.rsplit("/", 1)[-1] for r in done.steps["invoice"]] == [
        "SetSalesOrderReady",
        "CreateInvoiceFromSalesOrder",
        "BookInvoice",
    ]
    assert all(r.status == 200 for r in done.steps["invoice"])

    run(real(), order, invoice=True)
    assert stored_amounts(sim) == predicted
    [invoice] = sim.get("/_sim/state").json()["invoices"]
    assert invoice["isBooked"] and money(invoice["total"]) == predicted["total"]


def test_a_customer_sapera_has_is_found_without_a_write(
    sim: httpx.Client, rehearse: Any, real: Any
) -> None:
    order = example()
    existing = real().upsert_customer(order.customer, customer_key(order.customer))
    connector, transport = rehearse()

    assert connector.upsert_customer(order.customer, customer_key(order.customer)) == existing
    assert transport.take() == []
    # ...and the sales order names it, Sapera's reads saying it exists.
    done = run(connector, order, transport)
    assert done.steps["customer"] == []
    assert done.steps["order"][0].body["modelUpdates"][0]["actor"]["value"]["actorId"] == int(
        existing
    )
    assert writes(sim) == [f"POST {CREATE_ACTOR}"]  # the real one, before the dry run


def refusal(connector: Connector, order: Order, transport: RehearsalTransport | None = None) -> str:
    with pytest.raises(ErpError) as raised:
        run(connector, order, transport)
    error = classify(raised.value)
    assert isinstance(error, PermanentError)  # a dead letter at once
    return error.message


@pytest.mark.parametrize(
    ("lines", "settings", "reason"),
    [
        # The connector's own check on Sapera's data: the account's rate against the shop's.
        (
            [line("SAP-AVIS", "1", "30.00", "0.25")],
            {},
            "SAP-AVIS is booked on account 3050 at 0 % VAT in Sapera, the shop line has 25 %",
        ),
        # Sapera's refusals, which the stand-in works out from its reads.
        (
            [line("SAP-100", "1", "120.00")],
            {"price_above_list": "send_price"},
            "does not allow a user-defined price",
        ),
        ([line("SAP-SOCK-RED", "1", "50.00")], {}, "Variant SAP-SOCK-RED is disabled"),
    ],
)
def test_a_refused_order_gives_the_dead_letters_message(
    sim: httpx.Client,
    rehearse: Any,
    real: Any,
    lines: list[dict[str, Any]],
    settings: dict[str, Any],
    reason: str,
) -> None:
    sock = {"identifier": "SAP-SOCK", "salesPrice": 50.0, "variants": []}
    sock["variants"] = [{"identifier": "SAP-SOCK-RED", "isEnabled": False}]
    sim.post("/_sim/products", json=sock).raise_for_status()
    order = Order.model_validate(order_json("S-2001", lines=[TEXT_LINE, *lines]))
    connector, transport = rehearse(**settings)

    previewed = refusal(connector, order, transport)
    assert reason in previewed
    assert writes(sim) == []

    assert refusal(real(**settings), order) == previewed
    assert sim.get("/_sim/state").json()["salesOrders"] == []


@pytest.mark.parametrize(
    ("path", "writes_"),
    [
        ("/api/security/Authentication/Login", False),
        ("/api/security/authentication/loginWithRefreshToken", False),
        ("/api/inventory/Product/GetProductPage", False),
        ("/api/financial/SalesOrder/GetSalesOrdersPage", False),
        ("/api/actors/actor/getactorspage", False),  # Sapera's paths ignore case
        ("/api/actors/Actor/CreateActor", True),
        ("/api/financial/SalesOrder/CreateSalesOrder", True),
        ("/api/financial/Invoice/BookInvoice", True),
        ("/api/financial/SalesOrder/AbortSalesOrder", True),  # a command we do not send
    ],
)
def test_the_operation_not_the_method_says_what_writes(path: str, writes_: bool) -> None:
    settings = SaperaSettings(base_url="http://sapera.test", tenant="t", user="u", password="p")
    request = httpx.Request("POST", f"http://sapera.test{path}", json={})
    assert stand_in(settings).is_write(request) is writes_


def test_a_read_sapera_refuses_is_the_writes_answer() -> None:
    """An expired token on the stand-in's read: the write meets Sapera's 401 (and the connector
    logs in again, as after a real write's 401)."""
    settings = SaperaSettings(base_url="http://sapera.test", tenant="t", user="u", password="p")
    refused = {"errorOrValue": {"value": None, "error": {"errorCode": 3, "message": "expired"}}}
    item = {
        "modelType": "CreateSalesOrderItemModelUpdate",
        "quantity": 1.0,
        "inventoryItemData": {"productId": 1001, "productIdentifier": "SAP-100"},
    }
    request = httpx.Request(
        "POST",
        f"http://sapera.test{CREATE_ORDER}",
        json={"modelType": "CreateSalesOrderCommand", "modelUpdates": [item]},
        headers={"Authorization": "Bearer old"},
    )
    seen: list[httpx.Request] = []

    def read(query: httpx.Request) -> httpx.Response:
        seen.append(query)
        return httpx.Response(401, json=refused, request=query)

    answer = stand_in(settings).answer(request, read)
    assert (answer.status_code, answer.json()) == (401, refused)
    assert [q.headers["authorization"] for q in seen] == ["Bearer old"]
