"""The connectors the contract suite runs against, each with its simulator: one entry per ERP.

A new connector joins the suite by adding its line to `TARGETS`: how to configure a connection
on its simulator, what to set up before the workers start (consent, master data), and where the
simulator's state shows customers and orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.cluster import Cluster, Simulator
from tests.support.config import (
    duett_connection,
    exact_connection,
    poweroffice_connection,
    sapera_connection,
)

State = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class ContractTarget:
    erp: str  # the key in connectors.registry.CONNECTORS and simulators.registry.SIMULATORS
    connection: Callable[[Simulator], dict[str, Any]]
    customers: Callable[[State], list[dict[str, Any]]]
    documents: Callable[[State], list[dict[str, Any]]]
    reference: Callable[[dict[str, Any]], str]  # our reference on an ERP document
    create_endpoint: str  # the order create, as the simulator logs it
    customer_create_endpoint: str
    prepare: Callable[[Cluster], None] = field(default=lambda cluster: None)
    # connection settings under which every order is invoiced (for the invoice watch)
    invoicing: dict[str, Any] = field(default_factory=dict)


# Exact's "minute" runs at 6 s here, in the simulator and in the connector alike: the same
# 60-per-minute rule, ten times faster (thirty orders of a new customer need ~65 calls).
EXACT_MINUTE_SECONDS = 6


def _exact_prepare(cluster: Cluster) -> None:
    cluster.sim.configure(minute_seconds=EXACT_MINUTE_SECONDS)
    code, out = cluster.cli("connect", "shop", "--auto")
    assert code == 0, out
    for sku in ("KAFFE-500", "SHIP"):
        cluster.sim.http.post(
            "/_sim/items", json={"Code": sku, "Description": sku}
        ).raise_for_status()


TARGETS: dict[str, ContractTarget] = {
    "poweroffice": ContractTarget(
        erp="poweroffice",
        connection=lambda sim: poweroffice_connection(sim.url),
        customers=lambda state: state["Customers"],
        documents=lambda state: [*state["SalesOrders"], *state["OutgoingInvoices"]],
        reference=lambda doc: str(doc["ExternalImportReference"]),
        create_endpoint="POST /SalesOrders/Complete",
        customer_create_endpoint="POST /Customers",
    ),
    "exact": ContractTarget(
        erp="exact",
        connection=lambda sim: exact_connection(
            sim.url, settings={"minute_seconds": EXACT_MINUTE_SECONDS}
        ),
        customers=lambda state: state["Accounts"],
        documents=lambda state: state["SalesOrders"],
        reference=lambda doc: str(doc["YourRef"]),
        create_endpoint="POST /salesorder/SalesOrders",
        customer_create_endpoint="POST /crm/Accounts",
        prepare=_exact_prepare,
        # a sales order is invoiced in Exact's screens; we invoice by creating the invoice
        invoicing={"settings": {"send_as": "invoice"}},
    ),
    "duett": ContractTarget(
        erp="duett",
        connection=lambda sim: duett_connection(sim.url),
        customers=lambda state: state["customers"],
        documents=lambda state: state["orders"],
        reference=lambda doc: str(doc["orderReference"]),
        create_endpoint="POST /Order/v2",
        customer_create_endpoint="POST /Customer/v2",
    ),
    "sapera": ContractTarget(
        erp="sapera",
        connection=lambda sim: sapera_connection(sim.url),
        customers=lambda state: state["actors"],
        documents=lambda state: state["salesOrders"],
        reference=lambda doc: str(doc["customerReference"]),
        create_endpoint="POST /api/financial/SalesOrder/CreateSalesOrder",
        customer_create_endpoint="POST /api/actors/Actor/CreateActor",
    ),
}
