"""A dry run of PowerOffice Go orders against the in-process simulator over real HTTP.

The connector is built as `Runtime.rehearsal` builds it (reads reach the simulator, writes only
`connectors.poweroffice.rehearsal`) and runs the pipeline's calls. Each test proves from the
simulator's own call log that nothing was written, and checks the stand-in against the
simulator itself: the same order (or the same refusal) is then sent for real with the
connection's normal connector, and the predicted totals, line amounts and error messages must
equal the ones the simulator gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import Connector, OrderRef, ProductSpec, customer_key
from connectors.errors import ErpError, PermanentError, StaleReference, classify
from connectors.poweroffice.rehearsal import stand_in
from connectors.poweroffice.settings import DEFAULT_VAT_ACCOUNTS, PowerOfficeSettings
from connectors.rehearsal import Recorded, RehearsalTransport
from core.runtime import Runtime
from core.settings import parse_settings
from schemas.order import Order
from simulators.poweroffice import create_app
from tasks.preview import preview
from tests.support.cluster import ROOT
from tests.support.config import poweroffice_connection
from tests.support.fakes import fake_store
from tests.support.sim_server import simulator_fixtures

server, sim = simulator_fixtures(create_app, rate_limit_per_second=0)

API = "/Demo/v2"
# The chaos benchmark's connection: VAT 11 % maps to 3040, an account Go does not have.
VAT_ACCOUNTS = {**DEFAULT_VAT_ACCOUNTS, "0.11": 3040}
MADE_UP_ORDER = "00000000-0000-4000-8000-"


def seed_order(**changes: Any) -> Order:
    raw = json.loads((ROOT / "examples" / "poweroffice-order.json").read_text())
    return Order.model_validate({**raw, **changes})


def with_vat_11_line(order: Order) -> Order:
    raw = order.model_dump(mode="json")
    raw["lines"].insert(
        2,
        {
            "type": "product",
            "sku": "TE-11",
            "name": "Te (VAT 11 %)",
            "quantity": "1",
            "unit_price": "55.50",
            "discount": "0",
            "vat_rate": "0.11",
        },
    )
    raw["total"] = str(Decimal(raw["total"]) + Decimal("55.50"))
    return Order.model_validate(raw)


class Shop:
    """The connection "shop" on the simulator: a dry-run connector or the normal one."""

    def __init__(self, server: str, vat_accounts: dict[str, int] = VAT_ACCOUNTS) -> None:
        settings = parse_settings(
            {
                "connections": {
                    "shop": poweroffice_connection(server, settings={"vat_accounts": vat_accounts})
                }
            },
            env={},
        )
        self.runtime = Runtime(settings, fake_store(), enqueue=lambda step, job_id: None)
        self.clients: list[httpx.Client] = []

    def rehearsal(self) -> tuple[Connector, RehearsalTransport]:
        connector, transport = self.runtime.rehearsal("shop")
        self.clients.append(connector.client)  # type: ignore[attr-defined]
        return connector, transport

    def real(self) -> Connector:
        return self.runtime.connector("shop")

    def reference(self, order: Order) -> str:
        return self.runtime.settings.connection("shop").reference_for(
            order.external_id, order.number
        )

    def close(self) -> None:
        for client in [*self.clients, self.real().client]:  # type: ignore[attr-defined]
            client.close()


@pytest.fixture
def shop(server: str, sim: httpx.Client) -> Iterator[Shop]:
    made = Shop(server)
    yield made
    made.close()


def run(connector: Connector, order: Order, reference: str, send: bool = False) -> OrderRef:
    """The calls a dry run makes, in the pipeline's order."""
    assert connector.check_order(order) == []
    connector.unmapped(order, reference)
    customer_id = connector.upsert_customer(order.customer, customer_key(order.customer))
    product_ids = connector.upsert_products(connector.products_for(order))
    assert connector.find_order(reference, since=None) is None
    ref = connector.create_order(order, reference, customer_id, product_ids)
    if send:
        connector.send_invoice(ref.id, order.customer.email)
    return ref


def failure(call: Callable[[], object]) -> ErpError:
    """The classified error `call` raises: what a dead letter would carry."""
    try:
        call()
    except Exception as exc:  # classified as the step runner classifies it
        return classify(exc)
    raise AssertionError("expected the call to fail")


def writes(sim: httpx.Client) -> list[str]:
    """The simulator's logged write calls (the token request writes nothing of the client's)."""
    calls = sim.get("/_sim/calls").json()["calls"]
    return [
        c["endpoint"]
        for c in calls
        if c["method"] not in ("GET", "HEAD") and c["endpoint"] != "POST /OAuth/Token"
    ]


def reads(sim: httpx.Client) -> list[str]:
    return [c["endpoint"] for c in sim.get("/_sim/calls").json()["calls"] if c["method"] == "GET"]


def decimals(amounts: dict[str, str]) -> dict[str, Decimal]:
    return {key: Decimal(value) for key, value in amounts.items()}


def by_path(recorded: list[Recorded]) -> list[tuple[str, str, int]]:
    return [(r.method, r.path.removeprefix(API), r.status) for r in recorded]


def test_the_seed_order_previews_every_body_and_writes_nothing(
    shop: Shop, sim: httpx.Client
) -> None:
    # Given an empty client company, when the seed order is previewed with an invoice sent
    order = seed_order()
    connector, transport = shop.rehearsal()
    ref = run(connector, order, shop.reference(order), send=True)

    # then Go got reads only
    assert writes(sim) == []
    # and the recorded writes are the customer, the articles, the order and the send
    recorded = transport.take()
    assert by_path(recorded) == [
        ("POST", "/Customers", 201),
        ("POST", "/Products", 200),
        ("POST", "/Products", 200),
        ("POST", "/Products", 200),
        ("POST", "/SalesOrders/Complete", 201),
        ("POST", f"/SalesOrders/{ref.id}/createAndSendInvoice", 202),
    ]
    customer, *products, sales_order, send = recorded
    assert customer.body["IsPerson"] is True
    assert (customer.body["FirstName"], customer.body["LastName"]) == ("Kari", "Nordmann")
    assert customer.body["ExternalImportReference"] == "id:customer-7001"
    assert customer.body["MailAddress"]["ZipCode"] == "0155"
    assert customer.answer["Name"] == "Kari Nordmann"
    assert {p.body["Code"]: p.body["StandardSalesAccount"] for p in products} == {
        "KAFFE-500": 3030,
        "KOPP-01": 3000,
        "FRAKT-25": 3000,
    }
    assert sales_order.body["CustomerId"] == customer.answer["Id"]
    assert sales_order.body["ExternalImportReference"] == shop.reference(order)
    assert [
        (line["ProductCode"], line["Quantity"], line["ProductUnitPrice"])
        for line in sales_order.body["SalesOrderLines"]
    ] == [("KAFFE-500", 2.0, 112.17), ("KOPP-01", 1.0, 119.2), ("FRAKT-25", 1.0, 79.2)]
    assert send.body == {"DeliveryType": "Auto", "EmailAddress": "kari@example.no"}
    # and the order's id is a made-up one, recognisable as such
    assert ref.id.startswith(MADE_UP_ORDER) and not ref.existed
    # and Go's arithmetic (per line, VAT from the accounts) is predicted against the shop's 506
    assert transport.stand_in.amounts() == {
        "total_excl_vat": "422.74",
        "vat": "83.25",
        "total": "505.99",
    }


def test_predicted_amounts_and_lines_are_the_ones_go_computes(
    shop: Shop, sim: httpx.Client
) -> None:
    order = seed_order()
    connector, transport = shop.rehearsal()
    run(connector, order, shop.reference(order))
    predicted = transport.stand_in.amounts()
    answered = next(r.answer for r in transport.take() if r.path.endswith("/Complete"))
    assert writes(sim) == []

    # When the same order is sent for real
    run(shop.real(), order, shop.reference(order))

    (stored,) = sim.get("/_sim/state").json()["SalesOrders"]
    net, total = Decimal(str(stored["NetAmount"])), Decimal(str(stored["TotalAmount"]))
    assert decimals(predicted) == {"total_excl_vat": net, "vat": total - net, "total": total}
    fields = ("ProductCode", "Quantity", "NetAmount", "VatAmount", "TotalAmount", "VatCode")
    assert [[line[f] for f in fields] for line in answered["SalesOrderLines"]] == [
        [line[f] for f in fields] for line in stored["SalesOrderLines"]
    ]
    assert (answered["NetAmount"], answered["TotalAmount"]) == (
        stored["NetAmount"],
        stored["TotalAmount"],
    )


def test_vat_11_is_refused_with_the_dead_letter_message_of_a_real_run(
    shop: Shop, sim: httpx.Client
) -> None:
    # Given an order with an article at VAT 11 %, which the connection maps to account 3040
    order = with_vat_11_line(seed_order())
    connector, transport = shop.rehearsal()

    previewed = failure(lambda: run(connector, order, shop.reference(order)))

    # then nothing was written, and the stand-in decided by reading Go's ledger accounts
    assert writes(sim) == []
    assert "GET /GeneralLedgerAccounts" in reads(sim)
    refused = transport.take()[-1]
    assert (refused.path, refused.status) == (f"{API}/Products", 400)
    assert (refused.body["Code"], refused.body["StandardSalesAccount"]) == ("TE-11", 3040)
    assert transport.stand_in.amounts() == {}

    # When the same order is sent for real, it fails with the same message
    real = failure(lambda: run(shop.real(), order, shop.reference(order)))
    assert isinstance(previewed, PermanentError) and isinstance(real, PermanentError)
    assert previewed.message == real.message
    assert "General ledger account 3040 is not a sales account" in real.message
    assert previewed.erp_status == real.erp_status == 400


def test_vat_11_on_an_article_go_has_on_another_account_is_the_real_refusal(
    shop: Shop, sim: httpx.Client
) -> None:
    # Given TE-11 already in Go on account 3000 (25 %)
    shop.real().upsert_products([ProductSpec("TE-11", "Te", Decimal("0.25"))])
    order = with_vat_11_line(seed_order())
    connector, _ = shop.rehearsal()

    previewed = failure(lambda: run(connector, order, shop.reference(order)))
    real = failure(lambda: run(shop.real(), order, shop.reference(order)))

    # the connector refuses before any write, the same way in both runs
    assert previewed.message == real.message
    assert "article TE-11 is on sales account 3000" in real.message


def test_an_account_of_another_vat_rate_is_not_refused_and_go_vat_is_shown(
    server: str, sim: httpx.Client
) -> None:
    # Given a connection that maps VAT 11 % to 3000, an account Go has (at 25 %): Go takes the
    # article and charges the account's VAT, whatever the shop said
    shop = Shop(server, {**DEFAULT_VAT_ACCOUNTS, "0.11": 3000})
    try:
        order = with_vat_11_line(seed_order())
        connector, transport = shop.rehearsal()
        run(connector, order, shop.reference(order))
        predicted = transport.stand_in.amounts()
        assert writes(sim) == []

        run(shop.real(), order, shop.reference(order))
    finally:
        shop.close()

    (stored,) = sim.get("/_sim/state").json()["SalesOrders"]
    tea = next(line for line in stored["SalesOrderLines"] if line["ProductCode"] == "TE-11")
    assert tea["VatRate"] == 0.25
    assert Decimal(predicted["total"]) == Decimal(str(stored["TotalAmount"]))
    assert Decimal(predicted["total_excl_vat"]) == Decimal(str(stored["NetAmount"]))


def test_an_existing_customer_is_found_and_a_new_one_created(shop: Shop, sim: httpx.Client) -> None:
    # Given Kari already in Go (a real upsert)
    order = seed_order()
    kari = shop.real().upsert_customer(order.customer, customer_key(order.customer))
    written = writes(sim)

    # When an order of Kari's and one of a new customer are previewed
    connector, transport = shop.rehearsal()
    run(connector, order, shop.reference(order))
    kari_writes = transport.take()
    newcomer = order.customer.model_copy(update={"external_id": "customer-7002", "name": "Ola"})
    other = seed_order(
        external_id="1002", number="#1002", customer=newcomer.model_dump(mode="json")
    )
    connector, transport = shop.rehearsal()
    run(connector, other, shop.reference(other))
    newcomer_writes = transport.take()

    # then Kari is found (no customer write, her Id on the order), the newcomer "created"
    assert writes(sim) == written
    assert [r.path for r in kari_writes if "/Customers" in r.path] == []
    kari_order = next(r for r in kari_writes if r.path.endswith("/Complete"))
    assert kari_order.body["CustomerId"] == int(kari)
    (created,) = [r for r in newcomer_writes if "/Customers" in r.path]
    assert (created.method, created.status) == ("POST", 201)
    assert created.body["ExternalImportReference"] == "id:customer-7002"
    assert created.body["FirstName"] == "Ola"
    newcomer_order = next(r for r in newcomer_writes if r.path.endswith("/Complete"))
    assert newcomer_order.body["CustomerId"] == created.answer["Id"] != int(kari)


def test_a_changed_customer_is_patched_in_the_preview_only(shop: Shop, sim: httpx.Client) -> None:
    order = seed_order()
    kari = shop.real().upsert_customer(order.customer, customer_key(order.customer))
    moved = order.customer.model_copy(update={"email": "kari@nordmann.no"})
    connector, transport = shop.rehearsal()

    assert connector.upsert_customer(moved, customer_key(moved)) == kari

    (patch,) = transport.take()
    assert (patch.method, patch.path, patch.status) == ("PATCH", f"{API}/Customers/{kari}", 200)
    assert {"op": "replace", "path": "/EmailAddress", "value": "kari@nordmann.no"} in patch.body
    assert patch.answer["EmailAddress"] == "kari@nordmann.no"
    (stored,) = sim.get("/_sim/state").json()["Customers"]
    assert stored["EmailAddress"] == "kari@example.no"


def test_an_order_already_in_go_previews_as_the_duplicate_a_real_run_finds(
    shop: Shop, sim: httpx.Client
) -> None:
    order = seed_order()
    first = run(shop.real(), order, shop.reference(order))
    written = writes(sim)

    connector, transport = shop.rehearsal()
    previewed = run(connector, order, shop.reference(order))
    again = run(shop.real(), order, shop.reference(order))

    assert previewed == again == OrderRef(first.id, existed=True)
    # the customer and the articles were found: the order was the only write, and refused
    assert by_path(transport.take()) == [("POST", "/SalesOrders/Complete", 400)]
    assert writes(sim) == [*written, "POST /SalesOrders/Complete"]  # the real second run's


def test_an_unknown_customer_on_the_order_is_the_real_stale_reference(
    shop: Shop, sim: httpx.Client
) -> None:
    order = seed_order()
    connector, _ = shop.rehearsal()
    reference = shop.reference(order)

    previewed = failure(lambda: connector.create_order(order, reference, "424242"))
    real = failure(lambda: shop.real().create_order(order, reference, "424242"))

    assert isinstance(previewed, StaleReference) and isinstance(real, StaleReference)
    assert previewed.message == real.message
    assert writes(sim) == ["POST /SalesOrders/Complete"]  # the real one only


def test_sending_without_the_privilege_is_refused_as_go_refuses(
    shop: Shop, sim: httpx.Client
) -> None:
    sim.post("/_sim/config", json={"send_privilege": False}).raise_for_status()
    order = seed_order()
    connector, _ = shop.rehearsal()
    made_up = run(connector, order, shop.reference(order))
    previewed = failure(lambda: connector.send_invoice(made_up.id, None))
    assert writes(sim) == []

    real_order = run(shop.real(), order, shop.reference(order))
    real = failure(lambda: shop.real().send_invoice(real_order.id, None))

    assert previewed.erp_status == real.erp_status == 403
    assert previewed.message.replace(made_up.id, real_order.id) == real.message


def test_only_writes_of_the_client_go_to_the_stand_in() -> None:
    settings = PowerOfficeSettings(
        base_url="http://go.test/Demo/v2",
        token_url="http://go.test/Demo/OAuth/Token",
        application_key="a",
        client_key="c",
        subscription_key="s",
    )
    go = stand_in(settings)
    assert not go.is_write(httpx.Request("POST", "http://go.test/Demo/OAuth/Token"))
    assert not go.is_write(httpx.Request("GET", "http://go.test/Demo/v2/Customers"))
    assert go.is_write(httpx.Request("POST", "http://go.test/Demo/v2/Customers"))
    assert go.is_write(httpx.Request("PATCH", "http://go.test/Demo/v2/Customers/5"))
    assert go.is_write(httpx.Request("DELETE", "http://go.test/Demo/v2/SalesOrders/x"))
    assert go.amounts() == {}


def test_the_preview_task_reports_the_seed_order_and_the_vat_11_dead_letter(
    shop: Shop, sim: httpx.Client
) -> None:
    # The seed order, through `tasks.preview` as the CLI and the operator API run it
    report = preview(shop.runtime, "shop", seed_order())
    assert report.verdict == "would_send"
    assert [(s.step, s.outcome) for s in report.steps] == [
        ("upsert_customer", "would_create"),
        ("upsert_products", "would_create"),
        ("check_duplicate", "new"),
        ("create_draft", "would_send"),
    ]
    assert decimals(report.erp_amounts)["total"] == Decimal("505.99")

    # and the order with an article at VAT 11 %: refused at the articles, as a dead letter
    order = with_vat_11_line(seed_order())
    refused = preview(shop.runtime, "shop", order)
    real = failure(lambda: run(shop.real(), order, shop.reference(order)))
    assert writes(sim) == [
        "POST /Customers",
        "POST /Products",
        "POST /Products",
        "POST /Products",
    ]  # the real run's only: it created the customer and two articles before the refusal
    assert refused.verdict == "would_refuse"
    (refusal,) = refused.refusals
    assert (refusal.step, refusal.kind, refusal.message) == (
        "upsert_products",
        "permanent",
        real.message,
    )
