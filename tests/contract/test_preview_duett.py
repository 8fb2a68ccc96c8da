"""A dry run of Duett orders (`connectors/duett/rehearsal.py`) against the in-process Duett
simulator over HTTP, each compared with the same order sent for real.

The dry-run connector is built by `Runtime.rehearsal` from parsed settings, as the preview
builds it, and goes through the pipeline's calls in the pipeline's order. The simulator's call
log shows it wrote nothing; the writes it recorded carry the bodies a real run sends (the same
bodies, made-up ids aside); the amounts the stand-in predicts are those the simulator stores
when the order is really sent; and an order Duett refuses (an unknown postcode, a country given
by its code, a number series it lacks) fails under the stand-in with the very message a real
run dead-letters with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from connectors.base import Connector, OrderRef, customer_key
from connectors.duett import DuettConnector, DuettSettings, build
from connectors.errors import ErpHttpError, classify
from connectors.rehearsal import Recorded, RehearsalTransport
from core.runtime import Runtime
from core.settings import parse_settings
from schemas.order import Order
from tasks.preview import preview
from tests.support.cluster import ROOT
from tests.support.config import duett_connection
from tests.support.duett import KEYS, server_fixture, sim_fixture  # noqa: F401
from tests.support.fakes import fake_store

REFERENCE = "shop:3001"
SEED = json.loads((ROOT / "examples" / "duett-order.json").read_text())
READS = {"GET", "HEAD", "OPTIONS"}


def seed(**changes: Any) -> Order:
    return Order.model_validate({**SEED, **changes})


def with_customer(**changes: Any) -> Order:
    return seed(customer={**SEED["customer"], **changes})


def with_address(**changes: Any) -> Order:
    return with_customer(billing_address={**SEED["customer"]["billing_address"], **changes})


SERIAL_ORDER = seed(
    lines=[
        *SEED["lines"],
        {
            "type": "product",
            "sku": "SKANNER-7",
            "name": "Strekkodeskanner",
            "quantity": "2",
            "unit_price": "1490.00",
            "discount": "0",
            "vat_rate": "0.25",
            "serial_numbers": ["SN-0001", "SN-0002"],
        },
    ],
    total=str(Decimal(SEED["total"]) + Decimal("2980.00")),
)


class Writes(httpx.BaseTransport):
    """A real run's transport that keeps the body of every write it sends."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in READS:
            request.read()
            self.sent.append((request.method, request.url.path, json.loads(request.content)))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def runtime(server: str, **connection: Any) -> Runtime:
    """A runtime whose connection `shop` is a Duett connection on the simulator."""
    parsed = parse_settings(
        {"connections": {"shop": duett_connection(server, **connection)}}, env={}
    )
    return Runtime(parsed, fake_store())


@pytest.fixture(name="rehearse")
def rehearse_fixture(server: str) -> Iterator[Any]:
    """`rehearse(**settings)`: a dry-run connector of a Duett connection and its transport."""
    runtimes: list[tuple[Connector, RehearsalTransport]] = []

    def make(**settings: Any) -> tuple[Connector, RehearsalTransport]:
        made = runtime(server, settings=settings).rehearsal("shop")
        runtimes.append(made)
        return made

    yield make
    for connector, transport in runtimes:
        assert isinstance(connector, DuettConnector)
        connector.client.close()
        transport.close()


@pytest.fixture(name="real")
def real_fixture(server: str) -> Iterator[Any]:
    """`real(**settings)`: a normal Duett connector, and the bodies of the writes it sends."""
    clients: list[httpx.Client] = []

    def make(**settings: Any) -> tuple[Connector, Writes]:
        writes = Writes()
        client = httpx.Client(timeout=10, transport=writes)
        clients.append(client)
        settings = {"base_url": server, **KEYS, **settings}
        return build(DuettSettings(**settings), client, fake_store()), writes

    yield make
    for client in clients:
        client.close()


def run(
    connector: Connector, order: Order, transport: RehearsalTransport | None = None
) -> tuple[OrderRef | None, dict[str, list[Recorded]]]:
    """The pipeline's calls in its order (as a preview makes them); each step's recorded
    writes when `transport` is the dry run's."""
    steps: dict[str, list[Recorded]] = {}

    def step(name: str) -> None:
        if transport is not None:
            steps[name] = transport.take()

    assert connector.check_order(order) == []
    connector.unmapped(order, REFERENCE)
    customer_id = connector.upsert_customer(order.customer, customer_key(order.customer))
    step("upsert_customer")
    product_ids = connector.upsert_products(connector.products_for(order))
    step("upsert_products")
    found = connector.find_order(REFERENCE, since=None)
    step("find_order")
    if found is not None:
        return found, steps
    ref = connector.create_order(order, REFERENCE, customer_id, product_ids)
    step("create_order")
    return ref, steps


def calls(sim: httpx.Client) -> list[dict[str, Any]]:
    return list(sim.get("/_sim/calls").json()["calls"])


def writes_in(log: list[dict[str, Any]]) -> list[str]:
    return [c["endpoint"] for c in log if c["method"] not in READS]


def state(sim: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    return dict(sim.get("/_sim/state").json())


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def without_ids(body: Any) -> Any:
    """A write's body with the ERP's ids (made up in a dry run, Duett's in a real one) left out."""
    if isinstance(body, dict):
        return {k: without_ids(v) for k, v in body.items() if k not in ("customerId", "articleId")}
    if isinstance(body, list):
        return [without_ids(v) for v in body]
    return body


def refusal(call: Any) -> tuple[int | None, str, str]:
    with pytest.raises(ErpHttpError) as raised:
        call()
    error = classify(raised.value)
    return error.erp_status, error.kind, error.message


# --- the Duett example order ------------------------------------------------------------------


def test_the_example_order_is_previewed_with_its_bodies_and_nothing_is_written(
    sim: httpx.Client, rehearse: Any
) -> None:
    connector, transport = rehearse()
    ref, steps = run(connector, seed(), transport)

    assert writes_in(calls(sim)) == []
    assert state(sim) == {"customers": [], "articles": [], "orders": [], "ledger": []}
    (customer,) = steps["upsert_customer"]
    assert (customer.method, customer.path, customer.status) == ("POST", "/Customer/v2", 201)
    assert customer.body["name"] == "Fjord Kaffe AS"
    assert customer.body["organizationNumber"] == "987654321"
    assert customer.body["address"]["zipCodeKey"] == "0155"
    assert customer.answer["address"]["zipCodeName"] == "OSLO"  # read from Duett's register
    articles = steps["upsert_products"]
    assert [
        (a.body["articleNumber"], a.body["articleType"], a.body["taxSaleId"]) for a in articles
    ] == [
        ("KAFFE-500", "normal", "food"),
        ("KVERN-2", "normal", "vat"),
        ("FRAKT", "normal", "vat"),
    ]
    assert steps["find_order"] == []
    (created,) = steps["create_order"]
    assert (created.path, created.status) == ("/Order/v2", 201)
    body = created.body
    assert body["customerId"] == customer.answer["id"]
    assert body["orderReference"] == REFERENCE and body["yourReference"] == "#3001"
    lines = body["lines"]
    assert [ln["lineType"] for ln in lines] == ["normal", "normal", "text", "normal"]
    assert [ln.get("countAgreed") for ln in lines] == ["2", "1", None, "1"]
    assert [ln.get("taxSaleId") for ln in lines] == ["food", "vat", None, "vat"]
    assert lines[2]["name"] == "Gaveinnpakning, takk"
    assert [ln["articleId"] for ln in lines if "articleId" in ln] == [
        articles[0].answer["id"],
        articles[1].answer["id"],
        articles[2].answer["id"],
    ]
    assert ref is not None and ref.id == str(created.answer["id"]) and not ref.existed
    amounts = transport.stand_in.amounts()
    assert amounts["total"] == "1166.10"  # the shop's total: the connector's check passed


@pytest.mark.parametrize(
    ("order", "settings"),
    [
        (seed(), {}),
        (seed(), {"price_mode": "gross"}),
        (seed(prices_include_vat=False, total=None), {}),
        (SERIAL_ORDER, {}),
        (seed(send_invoice=True), {"style_sheet_id": 2, "send_method": "email"}),
    ],
    ids=["example", "gross-company", "net-prices", "serial-lines", "direct-invoicing"],
)
def test_the_amounts_and_bodies_are_those_of_a_real_run(
    sim: httpx.Client, rehearse: Any, real: Any, order: Order, settings: dict[str, Any]
) -> None:
    if settings.get("price_mode"):
        sim.post("/_sim/config", json={"price_mode": settings["price_mode"]}).raise_for_status()
    connector, transport = rehearse(**settings)
    _, steps = run(connector, order, transport)
    predicted = transport.stand_in.amounts()
    (answered,) = steps["create_order"]
    assert writes_in(calls(sim)) == []

    connector, writes = real(**settings)
    run(connector, order)
    (stored,) = state(sim)["orders"]

    assert predicted == {
        "total_excl_vat": str(money(stored["netAmount"])),
        "vat": str(money(stored["vatAmount"])),
        "total": str(money(stored["grossAmount"])),
    }
    assert [
        (ln["lineType"], money(ln["netAmount"]), money(ln["grossAmount"]))
        for ln in answered.answer["lines"]
    ] == [
        (ln["lineType"], money(ln["netAmount"]), money(ln["grossAmount"])) for ln in stored["lines"]
    ]
    recorded = [(r.method, r.path, without_ids(r.body)) for s in steps.values() for r in s]
    assert recorded == [(m, p, without_ids(b)) for m, p, b in writes.sent]


def test_serial_lines_create_a_serial_article_and_carry_their_serial_numbers(
    sim: httpx.Client, rehearse: Any
) -> None:
    connector, transport = rehearse()
    _, steps = run(connector, SERIAL_ORDER, transport)

    assert writes_in(calls(sim)) == []
    scanner = next(a for a in steps["upsert_products"] if a.body["articleNumber"] == "SKANNER-7")
    assert scanner.body["articleType"] == "serial" and scanner.answer["articleType"] == "serial"
    (created,) = steps["create_order"]
    line = created.body["lines"][-1]
    assert line["lineType"] == "serial" and line["articleId"] == scanner.answer["id"]
    assert line["serialNumbers"] == [{"serialNo": "SN-0001"}, {"serialNo": "SN-0002"}]
    assert created.answer["lines"][-1]["serialNumbers"] == line["serialNumbers"]


def test_direct_invoicing_answers_with_an_invoice_number_of_the_dry_run(
    sim: httpx.Client, rehearse: Any
) -> None:
    connector, transport = rehearse()
    ref, steps = run(connector, seed(send_invoice=True), transport)

    (created,) = steps["create_order"]
    assert created.body["config"]["directInvoicing"] is True
    assert created.answer["status"] == "invoiceSent"
    assert ref is not None and ref.invoice_number == str(created.answer["invoiceNumber"])
    assert ref.document is None  # Duett's PDF is not made up
    assert writes_in(calls(sim)) == [] and state(sim)["ledger"] == []


# --- what Duett already has -------------------------------------------------------------------


def test_a_customer_duett_has_is_found_without_a_write(
    sim: httpx.Client, rehearse: Any, real: Any
) -> None:
    order = seed()
    connector, _ = real()
    existing = connector.upsert_customer(order.customer, customer_key(order.customer))
    before = len(calls(sim))

    connector, transport = rehearse()
    _, steps = run(connector, order, transport)

    after = calls(sim)[before:]
    assert writes_in(after) == []
    assert steps["upsert_customer"] == []
    (created,) = steps["create_order"]
    assert created.status == 201 and created.body["customerId"] == int(existing)
    # the order's customer is Duett's: the stand-in read it to answer the order
    assert f"/Customer/v2/{existing}" in [c["path"] for c in after]
    assert len(state(sim)["customers"]) == 1


def test_an_order_duett_has_is_found_and_nothing_is_sent(
    sim: httpx.Client, rehearse: Any, real: Any
) -> None:
    connector, _ = real()
    sent, _ = run(connector, seed())
    before = len(calls(sim))

    connector, transport = rehearse()
    found, steps = run(connector, seed(), transport)

    assert writes_in(calls(sim)[before:]) == []
    assert all(recorded == [] for recorded in steps.values())
    assert found is not None and sent is not None
    assert found.existed and found.id == sent.id
    assert transport.stand_in.amounts() == {}


# --- what a real run dead-letters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "settings", "reason"),
    [
        (with_address(postal_code="9999"), {}, "The postcode 9999 is not in Duett"),
        (
            with_address(country="JP", postal_code="100-0001"),
            {},
            "address.country must be a country name",
        ),
        (seed(), {"customer_number_series_id": 42}, "No customer number series with id 42."),
    ],
    ids=["unknown-postcode", "country-code", "unknown-number-series"],
)
def test_a_refused_customer_gives_the_dead_letter_of_a_real_run(
    sim: httpx.Client,
    rehearse: Any,
    real: Any,
    order: Order,
    settings: dict[str, Any],
    reason: str,
) -> None:
    connector, transport = rehearse(**settings)
    key = customer_key(order.customer)
    previewed = refusal(lambda: connector.upsert_customer(order.customer, key))
    (recorded,) = transport.take()
    log = calls(sim)
    assert writes_in(log) == []

    connector, _ = real(**settings)
    sent = refusal(lambda: connector.upsert_customer(order.customer, key))

    assert previewed == sent
    assert previewed[0] == 400 and previewed[1] == "permanent" and reason in previewed[2]
    assert recorded.status == 400 and recorded.answer["errors"]
    assert state(sim)["customers"] == []


def test_the_unknown_postcode_is_decided_by_reading_duetts_register(
    sim: httpx.Client, rehearse: Any
) -> None:
    order = with_address(postal_code="9999")
    connector, _ = rehearse()
    with pytest.raises(ErpHttpError):
        connector.upsert_customer(order.customer, customer_key(order.customer))
    (register,) = [c for c in calls(sim) if c["path"] == "/Register/v2/ZipCodes"]
    assert register["method"] == "GET" and "9999" in register["query"]


def create_article(server: str, **article: Any) -> None:
    headers = {
        "X-Api-Integration-Key": KEYS["integration_key"],
        "X-Api-Client-Key": KEYS["client_key"],
    }
    answer = httpx.post(f"{server}/Article/v2", json=article, headers=headers, timeout=10)
    assert answer.status_code == 201, answer.text


NOT_ON_ORDERS = {"0.25": "vat_Abroad", "0.15": "food", "0": "noVat"}


@pytest.mark.parametrize(
    ("settings", "articles", "reason"),
    [
        (
            {},
            [{"articleNumber": "KVERN-2", "name": "Kaffekvern", "articleType": "amount"}],
            "lineType 'normal' does not match the article's type; article KVERN-2 makes "
            "'amount' lines.",
        ),
        ({"tax_codes": NOT_ON_ORDERS}, [], "taxSaleId 'vat_Abroad' can not be used on orders."),
        (
            {"tax_codes": {**NOT_ON_ORDERS, "0.25": "high"}},
            [],
            "The value 'high' is not valid for taxSaleId; use one of: vat, food, low, noVat",
        ),
    ],
    ids=["article-of-another-type", "code-not-on-orders", "unknown-code"],
)
def test_a_refused_order_gives_the_dead_letter_of_a_real_run(
    sim: httpx.Client,
    server: str,
    rehearse: Any,
    real: Any,
    settings: dict[str, Any],
    articles: list[dict[str, Any]],
    reason: str,
) -> None:
    for article in articles:
        create_article(server, **article)
    before = len(calls(sim))
    connector, transport = rehearse(**settings)
    previewed = refusal(lambda: run(connector, seed(), transport))
    assert writes_in(calls(sim)[before:]) == []

    connector, _ = real(**settings)
    sent = refusal(lambda: run(connector, seed()))

    assert previewed == sent
    assert previewed[0] == 400 and previewed[1] == "permanent" and reason in previewed[2]


def test_setting_an_order_ready_for_invoicing_is_answered_without_a_write(
    sim: httpx.Client, rehearse: Any, real: Any
) -> None:
    connector, _ = real()
    sent, _ = run(connector, seed())
    assert sent is not None
    before = len(calls(sim))

    connector, transport = rehearse()
    connector.send_invoice(sent.id, "post@fjordkaffe.example")

    (patch,) = transport.take()
    assert (patch.method, patch.path, patch.status) == ("PATCH", f"/Order/v2/{sent.id}", 204)
    assert patch.body == [{"op": "replace", "path": "/status", "value": "orderReadyToSend"}]
    assert writes_in(calls(sim)[before:]) == []
    assert state(sim)["orders"][0]["status"] == "saved"


# --- the preview (tasks/preview.py) on Duett --------------------------------------------------


def test_the_preview_of_the_example_order_would_send_it_and_predicts_the_shops_total(
    sim: httpx.Client, server: str
) -> None:
    report = preview(runtime(server), "shop", seed())

    assert writes_in(calls(sim)) == []
    assert report.verdict == "would_send" and report.refusals == []
    assert [(s.step, s.outcome, len(s.writes)) for s in report.steps] == [
        ("upsert_customer", "would_create", 1),
        ("upsert_products", "would_create", 3),
        ("check_duplicate", "new", 0),
        ("create_draft", "would_send", 1),
    ]
    assert report.erp_amounts == {"total_excl_vat": "950.83", "vat": "215.27", "total": "1166.10"}
    assert report.erp_amounts["total"] == report.shop_amounts["total"]


def test_the_preview_of_an_unknown_postcode_carries_the_dead_letters_message(
    sim: httpx.Client, server: str, real: Any
) -> None:
    order = with_address(postal_code="9999")
    report = preview(runtime(server), "shop", order)
    assert writes_in(calls(sim)) == []

    connector, _ = real()
    _, kind, message = refusal(lambda: run(connector, order))

    assert report.verdict == "would_refuse"
    (refused,) = report.refusals
    assert (refused.step, refused.kind, refused.message) == ("upsert_customer", kind, message)
    assert refused.erp_status == 400


def test_the_preview_finds_the_customer_duett_has(
    sim: httpx.Client, server: str, real: Any
) -> None:
    connector, _ = real()
    connector.upsert_customer(seed().customer, customer_key(seed().customer))
    before = len(calls(sim))

    report = preview(runtime(server), "shop", seed())

    assert writes_in(calls(sim)[before:]) == []
    assert report.steps[0].outcome == "found" and report.steps[0].writes == []
    assert report.verdict == "would_send"


@pytest.mark.parametrize(
    ("connection", "order"),
    [({"send_invoice": True}, seed()), ({}, seed(send_invoice=True))],
    ids=["connection-invoices", "order-asks"],
)
def test_the_preview_of_an_invoiced_order_invoices_it_on_create(
    sim: httpx.Client, server: str, connection: dict[str, Any], order: Order
) -> None:
    report = preview(runtime(server, **connection), "shop", order)

    assert writes_in(calls(sim)) == []
    assert report.verdict == "would_send", report.refusals
    (created,) = report.steps[-1].writes
    assert created.body["config"]["directInvoicing"] is True
