"""Invoices: from a ready sales order, or blank (invoice-only) - the second half of the flow.

An invoice from a sales order takes every item not invoiced yet; an order with nothing left to
invoice answers AlreadyExists, so a retried "create invoice" after a lost answer is recognisable.
Only Ready orders can be invoiced, and only for a customer. An invoice is a draft until booked;
a booked invoice is immutable (booking again is a Validation error). When every invoice of a
fully invoiced order is booked, the order is Completed. All URLs are our guesses (options).
"""

from __future__ import annotations

from typing import Any

from simulators.sapera.actors import command
from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import already_exists, not_exists, validation
from simulators.sapera.items import ITEM_UPDATE, resolve_item
from simulators.sapera.options import SaperaSimOptions
from simulators.sapera.salesorders import (
    COMPLETED,
    INVOICED,
    READY,
    find_order,
    now,
    set_state,
    total,
)

Row = dict[str, Any]


def from_sales_order(ctx: Ctx) -> dict[str, int]:
    order = find_order(ctx, ctx.body.integer("salesOrderId", required=True))
    pending = [item for item in order["items"] if item["invoiceId"] is None]
    if not pending and order["invoiceIds"]:
        raise already_exists(f"Sales order {order['number']} is already fully invoiced "
                             f"(invoice ids {order['invoiceIds']}).")
    if order["stateCode"] != READY:
        raise validation(f"Sales order {order['number']} is {order['state']}; only a Ready "
                         "order can be invoiced.")
    if order["actorId"] is None:
        raise validation(f"Sales order {order['number']} has no customer to invoice.")
    invoice = _invoice(ctx, order["actorId"], order["customerReference"], order["id"],
                       [dict(item) for item in pending])
    for item in pending:
        item["invoiceId"] = invoice["id"]
    order["invoiceIds"].append(invoice["id"])
    set_state(order, INVOICED)
    order["updatedAt"] = now()
    return {"id": invoice["id"], "number": invoice["number"]}


def blank(ctx: Ctx) -> dict[str, int]:
    body = ctx.body
    command(body, "CreateBlankInvoiceCommand")
    actor_id = body.integer("actorId", required=True)
    if actor_id not in ctx.store.actors:
        raise not_exists(f"Actor {actor_id} does not exist.")
    reference = body.text(ctx.options.customer_reference_field, wrapped=True)
    updates = body.children("modelUpdates")
    if not updates:
        raise validation("modelUpdates must hold at least one item.")
    items = []
    for update in updates:
        if update.text("modelType", required=True) != ITEM_UPDATE:
            raise validation(f"{update.where}modelType must be {ITEM_UPDATE}.")
        items.append(resolve_item(ctx.store, update, 0, ctx.options.strict_item_wrappers))
    for item in items:
        item["id"] = ctx.store.new_id("item")
    invoice = _invoice(ctx, actor_id or 0, reference, None, items)
    return {"id": invoice["id"], "number": invoice["number"]}


def book(ctx: Ctx) -> dict[str, int]:
    invoice = _find(ctx)
    if invoice["isBooked"]:
        raise validation(f"Invoice {invoice['number']} is booked; a booked invoice can not be "
                         "changed.")
    invoice["isBooked"], invoice["bookedAt"] = True, now()
    order = ctx.store.orders.get(invoice["salesOrderId"] or 0)
    if order is not None and all(item["invoiceId"] for item in order["items"]) and all(
            ctx.store.invoices[i]["isBooked"] for i in order["invoiceIds"]):
        set_state(order, COMPLETED)
        order["updatedAt"] = now()
    return {"id": invoice["id"], "number": invoice["number"]}


def get(ctx: Ctx) -> Row:
    invoice = _find(ctx)
    return {**invoice, "items": [dict(item) for item in invoice["items"]]}


def _find(ctx: Ctx) -> Row:
    invoice_id = ctx.body.integer("id", required=True)
    invoice = ctx.store.invoices.get(invoice_id or 0)
    if invoice is None:
        raise not_exists(f"Invoice {invoice_id} does not exist.")
    return invoice


def _invoice(ctx: Ctx, actor_id: int, reference: str | None, order_id: int | None,
             items: list[Row]) -> Row:
    invoice = {"id": ctx.store.new_id("invoice"), "number": ctx.store.new_number("invoice"),
               "salesOrderId": order_id, "actorId": actor_id, "customerReference": reference,
               "isBooked": False, "total": total(items), "items": items,
               "createdAt": now(), "bookedAt": None}
    for item in items:
        item["invoiceId"] = invoice["id"]
    ctx.store.invoices[invoice["id"]] = invoice
    return invoice


def routes(options: SaperaSimOptions) -> list[Route]:
    return [Route(options.create_invoice_path, from_sales_order, "CreateInvoiceResult"),
            Route(options.book_invoice_path, book, "BookInvoiceResult"),
            Route(options.blank_invoice_path, blank, "CreateInvoiceResult"),
            Route(options.get_invoice_path, get, "Invoice")]
