"""Sales orders: create, update, set ready - the first half of Sapera's sales flow.

A sales order is created from typed model updates (customer data, one item update per line),
starts as Draft, and is set Ready before it can be invoiced. Once it is Ready (or further) it can
no longer be changed, unless the create said `AllowModifyingWhenReady: {"value": true}`. Create
is not idempotent: the same body twice makes two orders with consecutive numbers, which is why a
connector must search by its customer reference before it creates. The URLs are our guesses
(options); so is the name of the customer-reference field (`customer_reference_field`).

`subject` (wrapped, optional) is a free text copied to the invoices, after the UI's invoice
column "Subject"; its API name is our guess. A sales order whose items all have negative
quantities (see items.py) is invoiced as a credit note.

States (codes our guess): Draft 1 -> Ready 2 -> Invoiced 3 -> Completed 4 (when its invoices are
booked); Aborted 5. A line added to an invoiced order (when allowed) makes it Ready again.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from simulators.sapera.actors import command
from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import not_exists, validation
from simulators.sapera.fields import Body
from simulators.sapera.items import ITEM_UPDATE, resolve_item
from simulators.sapera.money import ZERO, dec, money
from simulators.sapera.options import SaperaSimOptions

DRAFT, READY, INVOICED, COMPLETED, ABORTED = 1, 2, 3, 4, 5
STATES = {
    DRAFT: "Draft",
    READY: "Ready",
    INVOICED: "Invoiced",
    COMPLETED: "Completed",
    ABORTED: "Aborted",
}
CUSTOMER_UPDATE = "SetSalesOrderCustomerDataModelUpdate"

Row = dict[str, Any]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def create(ctx: Ctx) -> dict[str, int]:
    body = ctx.body
    command(body, "CreateSalesOrderCommand")
    modifiable = body.flag("AllowModifyingWhenReady", wrapped=True) is True
    order: Row = {
        "id": 0,
        "number": 0,
        "state": STATES[DRAFT],
        "stateCode": DRAFT,
        "customerReference": None,
        "subject": body.text("subject", wrapped=True),
        "actorId": None,
        "createdAt": None,
        "updatedAt": None,
        "isModifiableWhenReady": modifiable,
        "invoiceIds": [],
        "total": 0.0,
        "items": [],
    }
    _apply(ctx, order, body)
    order["id"] = ctx.store.new_id("salesOrder")
    order["number"] = ctx.store.new_number("salesOrder")
    order["createdAt"] = order["updatedAt"] = now()
    ctx.store.orders[order["id"]] = order
    return {"id": order["id"], "number": order["number"]}


def update(ctx: Ctx) -> dict[str, int]:
    body = ctx.body
    command(body, "UpdateSalesOrderCommand")
    order = find_order(ctx, body.integer("id", required=True))
    if order["stateCode"] == ABORTED or (
        order["stateCode"] != DRAFT and not order["isModifiableWhenReady"]
    ):
        raise validation(
            f"Sales order {order['number']} is {order['state']} and can not be "
            "modified (it was not created with AllowModifyingWhenReady)."
        )
    changed = copy.deepcopy(order)
    added = _apply(ctx, changed, body)
    if added and changed["stateCode"] in (INVOICED, COMPLETED):
        set_state(changed, READY)
    changed["updatedAt"] = now()
    ctx.store.orders[order["id"]] = changed
    return {"id": order["id"], "number": order["number"]}


def set_ready(ctx: Ctx) -> dict[str, int]:
    order = find_order(ctx, ctx.body.integer("id", required=True))
    if order["stateCode"] == DRAFT:
        if not order["items"]:
            raise validation(f"Sales order {order['number']} has no items.")
        set_state(order, READY)
        order["updatedAt"] = now()
    elif order["stateCode"] != READY:
        raise validation(
            f"Sales order {order['number']} is {order['state']}; only a Draft "
            "order can be set ready."
        )
    return {"id": order["id"], "number": order["number"]}


def find_order(ctx: Ctx, order_id: int | None) -> Row:
    order = ctx.store.orders.get(order_id or 0)
    if order is None:
        raise not_exists(f"Sales order {order_id} does not exist.")
    return order


def set_state(order: Row, code: int) -> None:
    order["stateCode"], order["state"] = code, STATES[code]


def total(items: list[Row]) -> float | None:
    return money(sum((dec(item["amount"]) or ZERO for item in items), ZERO))


def _apply(ctx: Ctx, order: Row, body: Body) -> int:
    """Apply the model updates to `order` (a draft or copy); how many items were added."""
    added = []
    for update in body.children("modelUpdates"):
        model_type = update.text("modelType", required=True)
        if model_type == CUSTOMER_UPDATE:
            _customer_data(ctx, order, update)
        elif model_type == ITEM_UPDATE:
            added.append(
                resolve_item(
                    ctx.store,
                    update,
                    0,
                    ctx.options.strict_item_wrappers,
                    ctx.options.negative_quantities,
                )
            )
        else:
            raise validation(
                f"{update.where}modelType {model_type} is not supported here; use "
                f"{CUSTOMER_UPDATE} or {ITEM_UPDATE}."
            )
    for item in added:  # ids only once every update is valid
        item["id"] = ctx.store.new_id("item")
    order["items"].extend(added)
    order["total"] = total(order["items"])
    return len(added)


def _customer_data(ctx: Ctx, order: Row, update: Body) -> None:
    actor = update.child("actor", wrapped=True)
    if actor is not None:
        actor_id = actor.integer("actorId", required=True)
        if actor_id not in ctx.store.actors:
            raise not_exists(f"Actor {actor_id} does not exist.")
        order["actorId"] = actor_id
    reference = update.text(ctx.options.customer_reference_field, wrapped=True)
    if reference is not None:
        order["customerReference"] = reference


def routes(options: SaperaSimOptions) -> list[Route]:
    return [
        Route(options.create_order_path, create, "CreateSalesOrderResult"),
        Route(options.update_order_path, update, "UpdateSalesOrderResult"),
        Route(options.set_ready_path, set_ready, "SetSalesOrderReadyResult"),
    ]
