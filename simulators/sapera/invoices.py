"""Invoices: from a ready sales order, blank (invoice-only), or crediting a booked invoice - the
second half of the flow.

An invoice from a sales order takes every item not invoiced yet; an order with nothing left to
invoice answers AlreadyExists, so a retried "create invoice" after a lost answer is recognisable.
Only Ready orders can be invoiced, and only for a customer. An invoice is a draft until booked;
a booked invoice is immutable (booking again is a Validation error). When every invoice of a
fully invoiced order is booked, the order is Completed. All URLs are our guesses (options).

After booking (support articles 72 and 325 describe the UI; the API shapes are our guesses):
- `remainingAmount` is the UI's "Remaining amount", what is not yet paid or settled; payments
  come from `POST /_sim/payments` (payments.py). The `show_remaining_amount` option hides it, for
  an API that does not say. `state` is Draft, Booked, PartlyPaid or Paid (names our guess).
- A credit note is an invoice with a negative total (`isCreditNote`), its remaining amount
  negative (owed to the customer). It comes either from a sales order of returned items, or -
  as the UI does it, "select the invoice, Credit note, Post" - from `CreateCreditNote
  {"invoiceId"}`: a draft crediting the whole booked invoice, linked by `creditedInvoiceId`,
  booked like any invoice. Whether the API can credit only some lines is unknown, so it can't
  here; an invoice is credited once. Booking a credit note does not settle the original.
- `updatedAt` moves on every change (booking; a payment unless `payment_moves_updated_at` is
  off); `GetInvoicesPage` (invoicepage.py) filters on it.
"""

from __future__ import annotations

from typing import Any

from simulators.sapera.actors import command
from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import already_exists, not_exists, validation
from simulators.sapera.items import ITEM_UPDATE, resolve_item
from simulators.sapera.money import dec
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
NEGATED = ("quantity", "amount", "netAmount", "vatAmount")
HIDDEN = ("payments", "creditNoteIds")  # kept for /_sim/state, not shown by the API


def from_sales_order(ctx: Ctx) -> dict[str, int]:
    order = find_order(ctx, ctx.body.integer("salesOrderId", required=True))
    pending = [item for item in order["items"] if item["invoiceId"] is None]
    if not pending and order["invoiceIds"]:
        raise already_exists(
            f"Sales order {order['number']} is already fully invoiced "
            f"(invoice ids {order['invoiceIds']})."
        )
    if order["stateCode"] != READY:
        raise validation(
            f"Sales order {order['number']} is {order['state']}; only a Ready "
            "order can be invoiced."
        )
    if order["actorId"] is None:
        raise validation(f"Sales order {order['number']} has no customer to invoice.")
    invoice = _invoice(
        ctx,
        order["actorId"],
        order["customerReference"],
        order,
        [dict(item) for item in pending],
        order.get("subject"),
    )
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
        items.append(
            resolve_item(
                ctx.store,
                update,
                0,
                ctx.options.strict_item_wrappers,
                ctx.options.negative_quantities,
            )
        )
    for item in items:
        item["id"] = ctx.store.new_id("item")
    invoice = _invoice(
        ctx, actor_id or 0, reference, None, items, body.text("subject", wrapped=True)
    )
    return {"id": invoice["id"], "number": invoice["number"]}


def credit(ctx: Ctx) -> dict[str, int]:
    """A draft credit note for the whole of a booked invoice."""
    body = ctx.body
    original = _find(ctx, body.integer("invoiceId", required=True))
    if not original["isBooked"] or original["isCreditNote"]:
        raise validation(
            f"Invoice {original['number']} can not be credited: only a booked invoice can."
        )
    if original["creditNoteIds"]:
        raise already_exists(
            f"Invoice {original['number']} is already credited (credit note "
            f"ids {original['creditNoteIds']})."
        )
    reference = body.text(ctx.options.customer_reference_field, wrapped=True)
    items = [
        {**item, **{k: -item[k] for k in NEGATED}, "id": ctx.store.new_id("item")}
        for item in original["items"]
    ]
    note = _invoice(
        ctx,
        original["actorId"],
        reference or original["customerReference"],
        None,
        items,
        f"Credit note for invoice {original['number']}",
    )
    note["creditedInvoiceId"], note["creditedInvoiceNumber"] = original["id"], original["number"]
    original["creditNoteIds"].append(note["id"])
    return {"id": note["id"], "number": note["number"]}


def book(ctx: Ctx) -> dict[str, int]:
    invoice = _find(ctx, ctx.body.integer("id", required=True))
    if invoice["isBooked"]:
        raise validation(
            f"Invoice {invoice['number']} is booked; a booked invoice can not be changed."
        )
    invoice["isBooked"], invoice["state"] = True, "Booked"
    invoice["bookedAt"] = invoice["updatedAt"] = now()
    order = ctx.store.orders.get(invoice["salesOrderId"] or 0)
    if (
        order is not None
        and all(item["invoiceId"] for item in order["items"])
        and all(ctx.store.invoices[i]["isBooked"] for i in order["invoiceIds"])
    ):
        set_state(order, COMPLETED)
        order["updatedAt"] = now()
    return {"id": invoice["id"], "number": invoice["number"]}


def get(ctx: Ctx) -> Row:
    return view(_find(ctx, ctx.body.integer("id", required=True)), ctx.options)


def view(invoice: Row, options: SaperaSimOptions, with_items: bool = True) -> Row:
    """The invoice as the API shows it."""
    shown = {k: v for k, v in invoice.items() if k not in HIDDEN and k != "items"}
    # The reference goes under the field name the API uses for it, as on the order page.
    shown[options.customer_reference_field] = shown.pop("customerReference")
    if not options.show_remaining_amount:
        del shown["remainingAmount"]
    if with_items:
        shown["items"] = [dict(item) for item in invoice["items"]]
    return shown


def _find(ctx: Ctx, invoice_id: int | None) -> Row:
    invoice = ctx.store.invoices.get(invoice_id or 0)
    if invoice is None:
        raise not_exists(f"Invoice {invoice_id} does not exist.")
    return invoice


def _invoice(
    ctx: Ctx,
    actor_id: int,
    reference: str | None,
    order: Row | None,
    items: list[Row],
    subject: str | None,
) -> Row:
    amount = total(items)
    stamp = now()
    invoice: Row = {
        "id": ctx.store.new_id("invoice"),
        "number": ctx.store.new_number("invoice"),
        "salesOrderId": order["id"] if order else None,
        "salesOrderNumber": order["number"] if order else None,
        "actorId": actor_id,
        "customerReference": reference,
        "subject": subject,
        "isBooked": False,
        "state": "Draft",
        "isCreditNote": (dec(amount) or 0) < 0,
        "creditedInvoiceId": None,
        "creditedInvoiceNumber": None,
        "total": amount,
        "remainingAmount": amount,
        "currencyCode": ctx.options.currency,
        "items": items,
        "createdAt": stamp,
        "updatedAt": stamp,
        "bookedAt": None,
        "payments": [],
        "creditNoteIds": [],
    }
    for item in items:
        item["invoiceId"] = invoice["id"]
    ctx.store.invoices[invoice["id"]] = invoice
    return invoice


def routes(options: SaperaSimOptions) -> list[Route]:
    return [
        Route(options.create_invoice_path, from_sales_order, "CreateInvoiceResult"),
        Route(options.book_invoice_path, book, "BookInvoiceResult"),
        Route(options.blank_invoice_path, blank, "CreateInvoiceResult"),
        Route(options.credit_invoice_path, credit, "CreateInvoiceResult"),
        Route(options.get_invoice_path, get, "Invoice"),
    ]
