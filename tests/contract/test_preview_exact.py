"""A dry run of Exact Online orders against the in-process simulator over HTTP.

The connector is built as `Runtime.rehearsal` builds it, and runs the preview's pipeline: the
simulator's call log must show no write, the stand-in must have recorded the bodies a real run
sends (compared with the bodies of a real run of the same order, ids apart), its amounts must
be the totals the simulator stores when the order is really sent, and a refusal must carry the
message a real run dead-letters with.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.base import Connector
from connectors.consent import connect
from connectors.errors import classify
from connectors.exact import ExactConnector
from connectors.rehearsal import Recorded, RehearsalTransport, decoded
from core.runtime import Runtime
from core.settings import parse_settings
from schemas.order import Order
from simulators.exact import WAREHOUSE_ID
from tasks.preview import preview
from tests.support.config import exact_connection
from tests.support.factories import customer, order, product_line
from tests.support.fakes import fake_store
from tests.support.sim_exact import server_fixture, sim_fixture  # noqa: F401 (fixtures)

SEED = Path(__file__).resolve().parents[2] / "examples" / "exact-order.json"
REFERENCE = "2001"
VAT_CODES = {"0.09": "1", "0.21": "2"}
MODES = ("order", "invoice", "direct_invoice", "sales_entry")
DOCUMENTS = {  # send_as -> (endpoint, id field, lines, the simulator's state table)
    "order": ("salesorder/SalesOrders", "OrderID", "SalesOrderLines", "SalesOrders"),
    "invoice": ("salesinvoice/SalesInvoices", "InvoiceID", "SalesInvoiceLines", "SalesInvoices"),
    "direct_invoice": (
        "salesinvoice/SalesInvoices",
        "InvoiceID",
        "SalesInvoiceLines",
        "SalesInvoices",
    ),
    "sales_entry": ("salesentry/SalesEntries", "EntryID", "SalesEntryLines", "SalesEntries"),
}


@dataclass
class Run:
    """What one pass through the preview's pipeline did (`error`: the dead letter's message)."""

    customer_id: str | None = None
    document_id: str | None = None
    error: str | None = None
    kind: str | None = None
    steps: dict[str, list[Recorded]] = field(default_factory=dict)


@pytest.fixture(name="items")
def items_fixture(sim: httpx.Client) -> None:
    for code, vat in (("KAFFE-500", "1"), ("KVERN-2", "2"), ("SHIP", "2")):
        body = {"Code": code, "Description": code, "SalesVatCode": vat}
        sim.post("/_sim/items", json=body).raise_for_status()


@pytest.fixture(name="runtimes")
def runtimes_fixture(server: str) -> Iterator[list[Runtime]]:
    made: list[Runtime] = []
    yield made
    for rt in made:
        exact(rt.connector("shop")).client.close()


def exact(connector: Connector) -> ExactConnector:
    assert isinstance(connector, ExactConnector)
    return connector


def runtime(server: str, made: list[Runtime], invoices: bool = False, **settings: Any) -> Runtime:
    """A runtime with one consented Exact connection "shop" on the simulator."""
    conn = exact_connection(server, send_invoice=invoices, settings=settings)
    parsed = parse_settings({"connections": {"shop": conn}}, env={})
    rt = Runtime(parsed, fake_store())
    made.append(rt)
    connect(rt.connector("shop"), auto=True)
    return rt


def seed() -> Order:
    return Order.model_validate(json.loads(SEED.read_text()))


def pipeline(rt: Runtime, connector: Connector, placed: Order, take: Any) -> Run:
    """The preview's steps, in the preview's order, until one fails."""
    run = Run()
    try:
        assert connector.check_order(placed) == []
        connector.unmapped(placed, REFERENCE)
        run.customer_id = connector.upsert_customer(placed.customer, "key")
        run.steps["customer"] = take()
        ids = connector.upsert_products(connector.products_for(placed))
        run.steps["products"] = take()
        assert connector.find_order(REFERENCE, since=None) is None
        run.document_id = connector.create_order(placed, REFERENCE, run.customer_id, ids).id
        run.steps["order"] = take()
        if rt.settings.connection("shop").send_invoice:
            connector.send_invoice(run.document_id, placed.customer.email)
            run.steps["invoice"] = take()
    except Exception as exc:  # what the pipeline would dead-letter (or retry) with
        error = classify(exc)
        run.error, run.kind = error.message, error.kind
    return run


def rehearse(rt: Runtime, placed: Order) -> tuple[Run, RehearsalTransport]:
    connector, transport = rt.rehearsal("shop")
    try:
        return pipeline(rt, connector, placed, transport.take), transport
    finally:
        exact(connector).client.close()


def send_for_real(rt: Runtime, placed: Order) -> tuple[Run, list[list[Any]]]:
    """The same order through the connection's ordinary connector; the writes it sent."""
    connector = rt.connector("shop")
    sent: list[list[Any]] = []

    def note(request: httpx.Request) -> None:
        if request.method != "GET" and not request.url.path.endswith("/oauth2/token"):
            sent.append([request.url.path, decoded(request.content)])

    exact(connector).client.event_hooks["request"].append(note)
    return pipeline(rt, connector, placed, lambda: []), sent


def erp_writes(sim: httpx.Client) -> list[str]:
    calls = sim.get("/_sim/calls").json()["calls"]
    return [
        call["endpoint"]
        for call in calls
        if call["method"] != "GET" and call["endpoint"] != "POST /api/oauth2/token"
    ]


def recorded_writes(run: Run) -> list[list[Any]]:
    return [[r.path, r.body] for step in run.steps.values() for r in step]


def with_ids(value: Any, ids: dict[str, str]) -> Any:
    """`value` with the stand-in's made-up ids replaced by the real run's."""
    text = json.dumps(value)
    for made_up, real in ids.items():
        text = text.replace(made_up, real)
    return json.loads(text)


def stored_amounts(sim: httpx.Client, table: str) -> dict[str, str]:
    """The totals the simulator computed for the one document it holds."""
    (document,) = sim.get("/_sim/state").json()[table]
    if table == "SalesEntries":
        excl = sum(line["AmountFC"] for line in document["SalesEntryLines"])
    else:
        excl = document["AmountFCExclVat"]
    total = document["AmountFC"]
    return {
        "total_excl_vat": f"{excl:.2f}",
        "vat": f"{total - excl:.2f}",
        "total": f"{total:.2f}",
    }


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize("send_as", MODES)
def test_the_seed_order_is_previewed_in_each_send_mode(
    server: str, sim: httpx.Client, runtimes: list[Runtime], send_as: str
) -> None:
    invoices = send_as in ("invoice", "direct_invoice")
    rt = runtime(
        server,
        runtimes,
        invoices=invoices,
        send_as=send_as,
        vat_codes=VAT_CODES,
        warehouse_id=WAREHOUSE_ID,
    )
    path, id_field, lines_name, table = DOCUMENTS[send_as]

    dry, transport = rehearse(rt, seed())

    assert dry.error is None, dry.error
    assert erp_writes(sim) == []
    (account,) = dry.steps["customer"]
    assert account.path.endswith("/crm/Accounts") and account.status == 201
    assert account.body["Name"] == "Sanne de Vries"
    assert account.body["Email"] == "sanne@example.nl"
    assert account.answer["d"]["ID"] == dry.customer_id
    assert dry.steps["products"] == []
    (document,) = dry.steps["order"]
    assert document.path.endswith(path) and document.status == 201
    assert document.answer["d"][id_field] == dry.document_id
    assert dry.customer_id and dry.customer_id.startswith("00000000-0000-4000-8000-0009")
    lines = document.body[lines_name]
    if send_as == "sales_entry":
        assert document.body["Customer"] == dry.customer_id
        assert [line["AmountFC"] for line in lines] == [11.47, 66.12, 5.74]
    else:
        assert document.body["OrderedBy"] == dry.customer_id
        assert [line["Quantity"] for line in lines] == [1.0, 1.0, 1.0]
        assert [line["UnitPrice"] for line in lines] == [11.47, 73.55, 5.74]
    assert [line["VATCode"] for line in lines] == ["1", "2", "2"]
    if invoices:
        (printed,) = dry.steps["invoice"]
        assert printed.path.endswith("/salesinvoice/PrintedSalesInvoices")
        assert printed.body == {"InvoiceID": dry.document_id, "SendEmailToCustomer": True}
        assert printed.answer["d"]["DocumentCreationSuccess"] == "Document created"
    predicted = transport.stand_in.amounts()

    real, sent = send_for_real(rt, seed())

    assert real.error is None, real.error
    assert real.customer_id and real.document_id
    ids = {dry.customer_id: real.customer_id, dry.document_id: real.document_id}
    assert with_ids(recorded_writes(dry), ids) == sent
    assert predicted == stored_amounts(sim, table)
    if send_as != "sales_entry":  # Exact's cent-rounding per line: a cent below the shop's 99.45
        assert predicted == {"total_excl_vat": "83.32", "vat": "16.12", "total": "99.44"}


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize("send_as", ["order", "invoice", "sales_entry"])
def test_vat_the_connection_does_not_name_comes_from_exact(
    server: str, sim: httpx.Client, runtimes: list[Runtime], send_as: str
) -> None:
    """Without `vat_codes` Exact takes the item's VAT code (a sales entry: the G/L account's,
    21 % for 8000, on the coffee too): the stand-in reads them to compute the same totals."""
    rt = runtime(server, runtimes, send_as=send_as)

    dry, transport = rehearse(rt, seed())

    assert dry.error is None, dry.error
    assert erp_writes(sim) == []
    predicted = transport.stand_in.amounts()
    real, _ = send_for_real(rt, seed())
    assert real.error is None, real.error
    assert predicted == stored_amounts(sim, DOCUMENTS[send_as][3])


@pytest.mark.usefixtures("items")
def test_exact_rounds_each_line_before_adding_up(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    """Three lines of 0.05 at 9 %: 0.0045 VAT each, nothing once rounded per line (one cent
    if the sum were rounded instead)."""
    rt = runtime(server, runtimes, vat_codes=VAT_CODES)
    cents = [product_line("KAFFE-500", "1", "0.05", "0", "0.09") for _ in range(3)]
    placed = Order.model_validate(order(lines=cents, cust=customer(), currency="EUR"))

    dry, transport = rehearse(rt, placed)

    assert dry.error is None, dry.error
    predicted = transport.stand_in.amounts()
    assert predicted == {"total_excl_vat": "0.15", "vat": "0.00", "total": "0.15"}
    real, _ = send_for_real(rt, placed)
    assert real.error is None, real.error
    assert predicted == stored_amounts(sim, "SalesOrders")


@pytest.mark.usefixtures("items")
def test_a_customer_exact_knows_is_found_without_a_write(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    rt = runtime(server, runtimes, vat_codes=VAT_CODES)
    known = rt.connector("shop").upsert_customer(seed().customer, "key")
    writes_before = erp_writes(sim)

    dry, _ = rehearse(rt, seed())

    assert dry.error is None, dry.error
    assert erp_writes(sim) == writes_before
    assert dry.customer_id == known
    assert dry.steps["customer"] == []
    (document,) = dry.steps["order"]
    assert document.body["OrderedBy"] == known


@pytest.mark.usefixtures("items")
def test_a_company_gets_an_account_and_a_contact(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    rt = runtime(server, runtimes, vat_codes=VAT_CODES)
    placed = seed().model_copy(
        update={
            "customer": seed().customer.model_copy(
                update={"kind": "company", "company_name": "Koffie BV"}
            )
        }
    )

    dry, _ = rehearse(rt, placed)

    assert dry.error is None, dry.error
    assert erp_writes(sim) == []
    account, contact = dry.steps["customer"]
    assert account.body["Name"] == "Koffie BV"
    assert contact.path.endswith("/crm/Contacts") and contact.status == 201
    assert contact.body["Account"] == dry.customer_id
    assert contact.body["FirstName"] == "Sanne" and contact.body["LastName"] == "de Vries"
    assert contact.answer["d"]["AccountName"] == "Koffie BV"


def text_only() -> Order:
    return Order.model_validate(
        order(lines=[{"type": "text", "text": "A gift card, sent by post"}], currency="EUR")
    )


def unknown_item() -> Order:
    return Order.model_validate(
        order(
            lines=[product_line("NOT-IN-EXACT", "1", "10.00", "0", "0.21")],
            cust=customer(),
            currency="EUR",
        )
    )


REFUSALS = {  # case -> (connection settings, simulator config, order, the ERP's text)
    "unknown VAT code": (
        {"send_as": "order", "vat_codes": {"0.09": "9", "0.21": "2"}},
        {},
        seed,
        "Invalid reference: VATCodes",
    ),
    "unknown VAT code, sales entry": (
        {"send_as": "sales_entry", "vat_codes": {"0.09": "1", "0.21": "7"}},
        {},
        seed,
        "Invalid reference: VATCodes",
    ),
    "unknown VAT code, in Dutch": (
        {"send_as": "invoice", "vat_codes": {"0.09": "9"}},
        {"language": "nl"},
        seed,
        "Ongeldige referentie: VATCodes",
    ),
    "not a sales journal": (
        {"send_as": "invoice", "journal": "20"},
        {},
        seed,
        "Invalid journal: 20 is not a sales journal",
    ),
    "unknown journal": (
        {"send_as": "sales_entry", "journal": "99"},
        {},
        seed,
        "Invalid reference: Journals",
    ),
    "unknown warehouse": (
        {"send_as": "direct_invoice", "warehouse_id": "0000a001-0000-4000-8000-0000000000ff"},
        {},
        seed,
        "Invalid reference: Warehouses",
    ),
    "no item lines": ({"send_as": "order"}, {}, text_only, "Mandatory: Sales order lines"),
    "unknown item": ({"send_as": "order"}, {}, unknown_item, "NOT-IN-EXACT"),
}


@pytest.mark.usefixtures("items")
@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refusal_carries_the_message_of_the_real_run(
    server: str, sim: httpx.Client, runtimes: list[Runtime], case: str
) -> None:
    settings, config, make_order, text = REFUSALS[case]
    if config:
        sim.post("/_sim/config", json=config).raise_for_status()
    rt = runtime(server, runtimes, **settings)

    dry, _ = rehearse(rt, make_order())

    assert erp_writes(sim) == []
    assert dry.error is not None and text in dry.error
    real, _ = send_for_real(rt, make_order())
    assert real.error == dry.error
    assert real.kind == dry.kind == "permanent"


@pytest.mark.usefixtures("items")
def test_a_token_refresh_is_no_write_and_reaches_exact(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    rt = runtime(server, runtimes, vat_codes=VAT_CODES)
    sim.post("/_sim/expire-tokens").raise_for_status()

    dry, _ = rehearse(rt, seed())

    assert dry.error is None, dry.error
    assert erp_writes(sim) == []
    calls = [call["endpoint"] for call in sim.get("/_sim/calls").json()["calls"]]
    assert calls.count("POST /api/oauth2/token") == 2  # the consent, then the refresh
    assert all("oauth2" not in r.path for r in sum(dry.steps.values(), []))


@pytest.mark.usefixtures("items")
def test_removing_a_processed_invoice_is_refused_as_exact_refuses_it(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    rt = runtime(server, runtimes, invoices=True, send_as="invoice", vat_codes=VAT_CODES)
    real, _ = send_for_real(rt, seed())
    assert real.error is None and real.document_id, real.error
    writes_before = erp_writes(sim)
    connector, transport = rt.rehearsal("shop")

    said = connector.cancel_order(real.document_id)

    exact(connector).client.close()
    assert erp_writes(sim) == writes_before
    (delete,) = transport.take()
    assert delete.method == "DELETE" and delete.status == 400
    assert said == rt.connector("shop").cancel_order(real.document_id)
    assert "The invoice has been processed and can not be changed" in said


@pytest.mark.usefixtures("items")
def test_removing_what_exact_does_not_have_is_a_404_as_in_exact(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    rt = runtime(server, runtimes)
    missing = "0000dead-0000-4000-8000-00000000dead"
    connector, transport = rt.rehearsal("shop")

    said = connector.cancel_order(missing)

    exact(connector).client.close()
    assert erp_writes(sim) == []
    (delete,) = transport.take()
    assert delete.status == 404
    assert said == rt.connector("shop").cancel_order(missing)
    assert said == "not in Exact Online any more (removed there already)"


@pytest.mark.usefixtures("items")
def test_the_preview_task_reports_exacts_answers(
    server: str, sim: httpx.Client, runtimes: list[Runtime]
) -> None:
    """Through `tasks.preview`: the steps, the amounts, and a refusal's message."""
    rt = runtime(server, runtimes, invoices=True, send_as="invoice", vat_codes=VAT_CODES)

    report = preview(rt, "shop", seed())

    assert report.verdict == "would_send"
    assert [step.outcome for step in report.steps] == [
        "would_create",
        "found",
        "new",
        "would_send",
        "would_send",
    ]
    assert report.erp_amounts == {"total_excl_vat": "83.32", "vat": "16.12", "total": "99.44"}
    bad = runtime(server, runtimes, send_as="invoice", journal="20")
    refused = preview(bad, "shop", seed())
    assert refused.verdict == "would_refuse"
    (refusal,) = refused.refusals
    assert refusal.step == "create_draft" and refusal.erp_status == 400
    assert "Invalid journal: 20 is not a sales journal" in refusal.message
    assert erp_writes(sim) == []
