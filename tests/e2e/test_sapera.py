"""End to end into Sapera: real Redis, real worker processes, the Sapera simulator over HTTP.
Each test counts what the simulator holds: one sales order per order, items priced by Sapera
with the shop's price as a manual discount, invoices booked once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.errors import PermanentError
from connectors.sapera import SaperaConnector, SaperaSettings, mapping
from core.store import Store
from schemas.order import Order
from tests.support.cluster import Cluster, Simulator, SimulatorPool, poll
from tests.support.config import sapera_connection
from tests.support.factories import order, product_line
from tests.support.fakes import fake_store

pytestmark = pytest.mark.e2e
CREATE = "POST /api/financial/SalesOrder/CreateSalesOrder"


def line(sku: str, quantity: str, unit_price: str, rate: str = "0.25") -> dict[str, Any]:
    return product_line(sku, quantity, unit_price, vat_rate=rate, name=sku)


@pytest.fixture
def sapera_sim(simulators: SimulatorPool) -> Simulator:
    sim = simulators.get("sapera")
    sim.reset()
    return sim


@pytest.fixture
def sapera(sapera_sim: Simulator, store: Store, tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(send_invoice: bool = False, workers: int = 1, **settings: Any) -> Cluster:
        connection = sapera_connection(sapera_sim.url, send_invoice=send_invoice, settings=settings)
        cluster = Cluster(tmp_path, sapera_sim, store, connection=connection)
        made.append(cluster)
        cluster.start(workers)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


def money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_prices_costs_and_discounts_resolved_by_sapera_and_a_booked_invoice(sapera) -> None:
    cluster: Cluster = sapera(send_invoice=True)
    body = order(
        "S-1001",
        lines=[
            line("SAP-SHIRT-M", "2", "100.00"),
            line("SAP-SHIRT-L", "1", "150.00"),
            line("SAP-BIKE-0042", "1", "8490.00"),
            line("SAP-COFFEE", "3", "89.00"),
        ],
        total="9107.00",
    )
    job = cluster.wait_final(cluster.accept(body))
    assert job["state"] == "done", json.dumps(job)
    [sales_order] = cluster.sim.state()["salesOrders"]
    assert sales_order["customerReference"] == "S-1001"
    items = {
        i["instanceIdentifier"] or i["variantIdentifier"] or i["productIdentifier"]: i
        for i in sales_order["items"]
    }
    expect = {  # sku: (price, manual discount, amount, cost per unit)
        "SAP-SHIRT-M": ("125.00", "50.00", "200.00", "90.00"),
        "SAP-SHIRT-L": ("150.00", "0.00", "150.00", "95.00"),
        "SAP-BIKE-0042": ("8490.00", "0.00", "8490.00", "5100.00"),
        "SAP-COFFEE": ("89.00", "0.00", "267.00", "40.00"),
    }
    for sku, (price, discount, amount, cost) in expect.items():
        got = items[sku]
        assert (
            money(got["price"]),
            money(got["manualDiscountAmount"]),
            money(got["amount"]),
            money(got["costPrice"]),
        ) == tuple(Decimal(v) for v in (price, discount, amount, cost)), sku
    [invoice] = cluster.sim.state()["invoices"]
    assert invoice["isBooked"] and money(invoice["total"]) == Decimal("9107.00")
    assert job["erp"]["invoice_number"] == str(invoice["number"])


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([line("SAP-SHIRT", "1", "150.00")], "SAP-SHIRT names a product that needs a variant"),
        (
            [line("SAP-AVIS", "1", "30.00", "0.25")],
            "SAP-AVIS is booked on account 3050 at 0 % VAT in Sapera, the shop line has 25 %",
        ),
        (
            [line("SAP-100", "1", "120.00")],
            "SAP-100: the shop charged 120.00 for 1, above Sapera's 100.00",
        ),
    ],
)
def test_what_sapera_cannot_take_is_a_dead_letter_naming_sku_and_values(
    sapera, lines: Any, reason: str
) -> None:
    cluster: Cluster = sapera()
    job = cluster.wait_final(cluster.accept(order("S-2001", lines=lines)))
    assert job["state"] == "dead"
    [letter] = cluster.operator("GET", "/v1/dead-letters").json()["items"]
    assert reason in letter["message"]
    assert cluster.sim.state()["salesOrders"] == []


def connector(sim: Simulator, **settings: Any) -> SaperaConnector:
    config = SaperaSettings(
        base_url=sim.url,
        tenant="demo",
        user="webshop@demo.example",
        password="demo-sapera-password",
        **settings,
    )
    return SaperaConnector(config, httpx.Client(timeout=10), fake_store())


def add_items(sapera: SaperaConnector, order_id: str, order: Order) -> None:
    """Add the order's lines to an existing sales order (UpdateSalesOrder), as an ERP user
    would: the pipeline never does (a sales order is created whole)."""
    items = [sapera._item(order, *row) for row in mapping.lines_to_items(order, sapera.settings)]
    sapera._call(
        sapera.paths.update_order,
        {
            "modelType": "UpdateSalesOrderCommand",
            "id": int(order_id.split(":")[0]),
            "modelUpdates": [mapping.item_update(i) for i in items],
        },
        command=True,
    )


@pytest.mark.parametrize("allow", [False, True])
def test_a_ready_order_takes_new_lines_only_when_created_to_allow_it(sapera_sim, allow) -> None:
    sapera = connector(sapera_sim, allow_modifying_when_ready=allow)
    first = Order.model_validate(order("S-3001", lines=[line("SAP-100", "1", "100.00")]))
    actor = sapera.upsert_customer(first.customer, "id:c-42")
    created = sapera.create_order(first, "S-3001", actor)
    sapera._call(sapera.paths.set_ready, {"id": int(created.id.split(":")[0])}, command=True)
    more = Order.model_validate(order("S-3001", lines=[line("SAP-COFFEE", "1", "89.00")]))
    if allow:
        add_items(sapera, created.id, more)
        [stored] = sapera_sim.state()["salesOrders"]
        assert sorted(i["productIdentifier"] for i in stored["items"]) == ["SAP-100", "SAP-COFFEE"]
    else:
        with pytest.raises(PermanentError, match="Sapera error 1 Validation"):
            add_items(sapera, created.id, more)


def test_expired_tokens_in_a_burst_of_twenty_orders_make_one_refresh(sapera) -> None:
    cluster: Cluster = sapera(workers=2)
    jobs = [
        cluster.accept(order(f"S-4{i:03d}", lines=[line("SAP-100", "1", "100.00")]))
        for i in range(10)
    ]
    poll(
        lambda: any(cluster.store.load_job(j).is_final for j in jobs),
        30,  # type: ignore[union-attr]
        what="the first orders",
    )
    cluster.sim.http.post("/_sim/expire-tokens").raise_for_status()
    jobs += [
        cluster.accept(order(f"S-4{i:03d}", lines=[line("SAP-100", "1", "100.00")]))
        for i in range(10, 20)
    ]
    finals = [cluster.wait_final(j, timeout=90) for j in jobs]
    assert {f["state"] for f in finals} == {"done"}
    references = sorted(o["customerReference"] for o in cluster.sim.state()["salesOrders"])
    assert references == sorted(f"S-4{i:03d}" for i in range(20))
    calls = cluster.sim.calls()["by_endpoint"]
    assert (
        calls.get("POST /api/security/authentication/loginWithRefreshToken", 0)
        + calls.get("POST /api/security/Authentication/Login", 0)
        == 2
    )  # the login, one refresh


def test_a_refused_login_blocks_the_connection_without_dead_letters(sapera) -> None:
    # Given Sapera refuses our user's login (resultCode 2, invalid credentials)
    cluster: Cluster = sapera()
    cluster.sim.configure(login_result_code=2)
    job_id = cluster.accept(order("S-5001", lines=[line("SAP-100", "1", "100.00")]))

    # Then the job waits at its first step, says why, and nothing is dead-lettered
    def waiting() -> dict[str, Any] | None:
        job = cluster.job(job_id)
        step = job["steps"][0]
        return job if step["state"] == "waiting" and step["last_error"] else None

    job = poll(waiting, 30, what="the job to wait")
    assert "invalid credentials (resultCode 2)" in job["steps"][0]["last_error"]["message"]
    assert job["steps"][0]["attempts"] == 0 and job["state"] != "dead"
    assert cluster.operator("GET", "/v1/dead-letters").json()["total"] == 0
    # and nobody tries the same password again while the connection is blocked
    assert cluster.sim.calls_to("POST /api/security/Authentication/Login") == 1


def test_a_text_line_sapera_cannot_take_is_a_warning_on_the_job(sapera) -> None:
    cluster: Cluster = sapera()
    body = order(
        "S-7001",
        lines=[line("SAP-COFFEE", "1", "89.00"), {"type": "text", "text": "Gift wrap, please"}],
    )
    answer = cluster.post_order(body)
    assert answer.status_code == 202, answer.text
    said = {w["field"]: w["reason"] for w in answer.json()["warnings"]}
    assert "Sapera has no text lines" in said["lines.1.text"]
    job = cluster.wait_final(answer.json()["job_id"])
    assert job["state"] == "done", json.dumps(job)
    # The job keeps the warning; the sales order has the coffee and no trace of the text
    view = cluster.operator("GET", f"/v1/jobs/{job['job_id']}").json()
    assert view["warnings"] == answer.json()["warnings"]
    [sales_order] = cluster.sim.state()["salesOrders"]
    assert [i["productIdentifier"] for i in sales_order["items"]] == ["SAP-COFFEE"]
    assert "Gift wrap" not in json.dumps(sales_order)
