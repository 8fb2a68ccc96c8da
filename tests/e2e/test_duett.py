"""End to end into Duett Økonomi: real Redis, real worker processes, the Duett simulator over
HTTP. Each test counts what the simulator holds: one order per order, at most one invoice, and
amounts equal to ours line by line."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from core.store import Store
from tests.support.cluster import Cluster, Simulator, SimulatorPool
from tests.support.config import duett_connection
from tests.support.factories import customer, order, product_line

pytestmark = pytest.mark.e2e

SERIALS = ["SN-1", "SN-2", "SN-3", "SN-4"]


def seed_lines(include_vat: bool) -> list[dict[str, Any]]:
    """The seed's example order: a text line; "Item 1" 1 x 80.00 at 25 %; article 712 4 x 50.00
    with 10 % off at 12 %; article 6543 4 x 199.00 at 25 % with four serial numbers. Net prices,
    or the same numbers as prices including VAT."""
    del include_vat  # the same numbers either way; the order says which they are
    return [
        {"type": "text", "text": "Delivered to the back door"},
        product_line("ITEM-1", "1", "80.00", vat_rate="0.25", name="Item 1"),
        product_line("712", "4", "50.00", "20.00", "0.12", name="Article 712"),
        {
            **product_line("6543", "4", "199.00", vat_rate="0.25", name="Article 6543"),
            "serial_numbers": SERIALS,
        },
    ]


def seed_order(external_id: str, include_vat: bool, **extra: Any) -> dict[str, Any]:
    company = {
        **customer("c-fjord", "Fjord Kaffe AS", "post@fjordkaffe.example"),
        "kind": "company",
        "name": None,
        "company_name": "Fjord Kaffe AS",
        "org_number": "999888777",
    }
    return order(
        external_id,
        lines=seed_lines(include_vat),
        cust=company,
        prices_include_vat=include_vat,
        total="1056.00",
        **extra,
    )


@pytest.fixture
def duett(
    simulators: SimulatorPool, store: Store, tmp_path: Path
) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(price_mode: str = "net", send_invoice: bool = False, **settings: Any) -> Cluster:
        sim: Simulator = simulators.get("duett")
        sim.reset()
        sim.configure(price_mode=price_mode)
        connection = duett_connection(
            sim.url,
            send_invoice=send_invoice,
            settings={"price_mode": price_mode, "serial_skus": ["6543"], **settings},
        )
        cluster = Cluster(tmp_path, sim, store, connection=connection)
        made.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in made:
        cluster.stop()


def amounts(doc: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    return (
        Decimal(str(doc["netAmount"])),
        Decimal(str(doc["vatAmount"])),
        Decimal(str(doc["grossAmount"])),
    )


def test_seed_order_net_prices_in_a_net_company(duett) -> None:
    cluster: Cluster = duett(price_mode="net")
    job = cluster.wait_final(cluster.accept(seed_order("D-1001", include_vat=False)))
    assert job["state"] == "done", json.dumps(job)
    [doc] = cluster.sim.state()["orders"]
    assert doc["orderReference"] == "D-1001"
    assert amounts(doc) == (Decimal("1056.00"), Decimal("240.60"), Decimal("1296.60"))
    articles = [ln for ln in doc["lines"] if ln["lineType"] not in ("text", "sum")]
    # line by line: Duett's net amounts equal the shop's net line amounts
    assert [Decimal(str(ln["netAmount"])) for ln in articles] == [
        Decimal("80.00"),
        Decimal("180.00"),
        Decimal("796.00"),
    ]
    serial = next(ln for ln in articles if ln["lineType"] == "serial")
    assert [s["serialNo"] for s in serial["serialNumbers"]] == SERIALS


@pytest.mark.parametrize("mode", ["gross", "net"])
def test_gross_shop_prices_keep_the_shop_total_in_either_price_mode(duett, mode: str) -> None:
    cluster: Cluster = duett(price_mode=mode)
    job = cluster.wait_final(cluster.accept(seed_order(f"D-2{mode}", include_vat=True)))
    assert job["state"] == "done", json.dumps(job)
    [doc] = cluster.sim.state()["orders"]
    assert amounts(doc)[2] == Decimal("1056.00")


def test_direct_invoicing_keeps_the_pdf_with_the_job(duett) -> None:
    cluster: Cluster = duett(send_invoice=True)
    job_id = cluster.accept(seed_order("D-3001", include_vat=False))
    job = cluster.wait_final(job_id)
    assert job["state"] == "done", json.dumps(job)
    number = job["erp"]["invoice_number"]
    [doc] = cluster.sim.state()["orders"]
    assert str(doc["invoiceNumber"]) == number
    assert cluster.sim.calls_to("POST /Order/v2") == 1  # one call, not two
    pdf = cluster.operator("GET", f"/v1/jobs/{job_id}/invoice.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert number in text
    # A job without an invoice says why there is no PDF
    other = cluster.wait_final(cluster.accept(seed_order("D-3002", False, send_invoice=False)))
    missing = cluster.operator("GET", f"/v1/jobs/{other['job_id']}/invoice.pdf")
    assert missing.status_code == 404 and "not invoiced" in missing.json()["error"]["message"]


@pytest.mark.parametrize("invoice", [False, True])
@pytest.mark.parametrize("mode", ["commit_then_status", "commit_then_drop"])
def test_lost_answer_after_commit_is_one_order_and_at_most_one_invoice(
    duett, mode: str, invoice: bool
) -> None:
    cluster: Cluster = duett(send_invoice=invoice)
    cluster.sim.fault(match="POST /Order/v2", mode=mode, status=500, count=1)
    body = seed_order(f"D-4{mode[-4:]}{int(invoice)}", include_vat=False)
    first, again = cluster.post_order(body), cluster.post_order(body)
    assert (first.status_code, again.status_code) == (202, 200)
    job = cluster.wait_final(first.json()["job_id"])
    assert job["state"] == "done", json.dumps(job)
    orders = cluster.sim.state()["orders"]
    assert len(orders) == 1
    invoiced = [o for o in orders if o.get("invoiceNumber")]
    assert len(invoiced) == (1 if invoice else 0)
    if invoice:
        assert job["erp"]["invoice_number"] == str(invoiced[0]["invoiceNumber"])


def test_unknown_postcode_is_a_dead_letter_quoting_duett(duett) -> None:
    cluster: Cluster = duett()
    buyer = customer("c-9999", "Ola Nordmann", "ola@example.no")
    buyer["billing_address"]["postal_code"] = "9999"
    job = cluster.wait_final(cluster.accept(order("D-5001", cust=buyer)))
    assert job["state"] == "dead"
    [letter] = cluster.operator("GET", "/v1/dead-letters").json()["items"]
    assert letter["step"] == "upsert_customer"
    assert "The postcode 9999 is not in Duett" in letter["message"]
    assert cluster.sim.state()["customers"] == []


def test_vat_rate_without_a_duett_code_is_a_dead_letter_naming_it(duett) -> None:
    cluster: Cluster = duett()
    job = cluster.wait_final(
        cluster.accept(order("D-5002", lines=[product_line("TEN", "1", "100.00", vat_rate="0.10")]))
    )
    assert job["state"] == "dead"
    [letter] = cluster.operator("GET", "/v1/dead-letters").json()["items"]
    assert letter["step"] == "upsert_products"
    assert "VAT rate 0.1 has no Duett tax code" in letter["message"]
    assert cluster.sim.state()["articles"] == [] and cluster.sim.state()["orders"] == []


@pytest.mark.parametrize(
    ("serials", "field"),
    [
        (["SN-1"], "lines.3.serial_numbers"),  # the wrong count for a serial article
        (None, "lines.3.serial_numbers"),  # none for a serial article
    ],
)
def test_serial_article_with_the_wrong_serial_numbers_is_422(
    duett, serials: Any, field: str
) -> None:
    cluster: Cluster = duett()
    body = seed_order("D-6001", include_vat=False)
    body["lines"][3]["serial_numbers"] = serials
    response = cluster.post_order(body)
    assert response.status_code == 422, response.text
    assert field in [d["field"] for d in response.json()["error"]["details"]]
    assert cluster.store.job_id_for("shop", "D-6001") is None


def test_serial_numbers_for_an_unlisted_sku_reach_duett_with_them(duett) -> None:
    cluster: Cluster = duett()  # serial_skus = ["6543"]: CAM-7 is not listed
    lines = [
        {**product_line("CAM-7", "2", "499.00", name="Camera"), "serial_numbers": ["C-1", "C-2"]},
        product_line("BAG-7", "1", "99.00", name="Bag"),
    ]
    job = cluster.wait_final(cluster.accept(order("D-7001", lines=lines)))
    assert job["state"] == "done", json.dumps(job)
    assert not [w for w in job["warnings"] if "serial" in w["field"]]  # nothing left behind
    state = cluster.sim.state()
    types = {a["articleNumber"]: a["articleType"] for a in state["articles"]}
    assert (types["CAM-7"], types["BAG-7"]) == ("serial", "normal")
    [doc] = state["orders"]
    serial = [ln for ln in doc["lines"] if ln["lineType"] == "serial"]
    assert [(ln["key"], s["serialNo"]) for ln in serial for s in ln["serialNumbers"]] == [
        ("CAM-7", "C-1"),
        ("CAM-7", "C-2"),
    ]


def test_serial_numbers_for_an_existing_normal_article_are_a_dead_letter_naming_it(duett) -> None:
    cluster: Cluster = duett()
    # Given CAM-8 reached Duett as a normal article with an order that had no serial numbers
    plain = cluster.wait_final(cluster.accept(order("D-7002", lines=[product_line("CAM-8")])))
    assert plain["state"] == "done", json.dumps(plain)
    # When the next order gives serial numbers for it (the articles are cached by then)
    line = {**product_line("CAM-8", "1", "100.00"), "serial_numbers": ["C-3"]}
    job = cluster.wait_final(cluster.accept(order("D-7003", lines=[line])))
    # Then it is refused before anything is posted, naming the SKU and the setting
    assert job["state"] == "dead"
    [letter] = cluster.operator("GET", "/v1/dead-letters").json()["items"]
    assert letter["step"] == "upsert_products"
    assert "CAM-8" in letter["message"] and "serial_skus" in letter["message"]
    assert len(cluster.sim.state()["orders"]) == 1
    assert [a["articleType"] for a in cluster.sim.state()["articles"]] == ["normal"]
