"""Canonical order → Exact Online wire shapes for the four send modes, as plain functions.

Order and invoice lines need an Item (shipping becomes the configured shipping item; text lines
go into the document's description, since an Exact line without an Item is refused). A sales
entry needs no items: each line is an amount on the revenue GL account with the SKU in its
description. Prices are sent without VAT; VAT codes come from the connection's `vat_codes`
table when given, else Exact uses the item's or GL account's default.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.base import CreditSource, ProductSpec
from connectors.errors import PermanentError
from connectors.exact.settings import ExactSettings, SendAs
from schemas.order import Customer, Order, ProductLine, ShippingLine, TextLine

CENT = Decimal("0.01")
ACCOUNT_CODE_WIDTH = 18


def money(value: Decimal) -> float:
    return float(value.quantize(CENT, rounding=ROUND_HALF_UP))


def net(amount: Decimal, rate: Decimal, includes_vat: bool) -> Decimal:
    return amount / (1 + rate) if includes_vat else amount


def padded_code(code: str) -> str:
    """Exact keeps account codes right-aligned in 18 characters."""
    if len(code) > ACCOUNT_CODE_WIDTH:
        raise PermanentError(f"customer code {code!r} is longer than Exact's 18 characters")
    return code.rjust(ACCOUNT_CODE_WIDTH)


def vat_code(settings: ExactSettings, rate: Decimal) -> dict[str, str]:
    code = settings.vat_codes.get(format(rate.normalize(), "f"))
    return {"VATCode": code} if code else {}


def item_specs(order: Order, settings: ExactSettings) -> list[ProductSpec]:
    """The items the order needs (none for sales entries, which book on a GL account)."""
    if settings.send_as == "sales_entry":
        return []
    specs: dict[str, ProductSpec] = {}
    for line in order.lines:
        if isinstance(line, ProductLine):
            specs.setdefault(line.sku, ProductSpec(line.sku, line.name, line.vat_rate))
        elif isinstance(line, ShippingLine):
            if not settings.shipping_item_code:
                raise PermanentError(
                    "the order has shipping, but the connection has no "
                    "shipping_item_code to book it on"
                )
            code = settings.shipping_item_code
            specs.setdefault(code, ProductSpec(code, line.name, line.vat_rate))
    return list(specs.values())


def account_payload(customer: Customer, settings: ExactSettings) -> dict[str, Any]:
    address = customer.billing_address
    payload: dict[str, Any] = {
        "Name": customer.display_name,
        "Status": "C",
        "IsSales": True,
        "Email": customer.email,
        "Phone": customer.phone,
        "VATNumber": customer.vat_number,
        "ChamberOfCommerce": customer.org_number,
    }
    if address:
        payload.update(
            AddressLine1=address.line1,
            AddressLine2=address.line2,
            Postcode=address.postal_code,
            City=address.city,
            Country=address.country,
        )
    if settings.match_customers_by == "code" and customer.external_id:
        payload["Code"] = padded_code(customer.external_id)
    return {k: v for k, v in payload.items() if v is not None}


def contact_payload(customer: Customer, account_id: str) -> dict[str, Any] | None:
    """A company customer with a person's name also gets that person as a contact."""
    if not (customer.company_name and customer.name):
        return None
    first, _, last = customer.name.partition(" ")
    return {
        k: v
        for k, v in {
            "Account": account_id,
            "FirstName": first,
            "LastName": last or first,
            "Email": customer.email,
            "Phone": customer.phone,
        }.items()
        if v
    }


def _item_lines(
    order: Order, items: dict[str, str], settings: ExactSettings
) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        if isinstance(line, ProductLine):
            gross = line.quantity * line.unit_price
            discount = (line.discount / gross) if gross and line.discount else Decimal(0)
            lines.append(
                {
                    "Item": items[line.sku],
                    "Description": line.name[:60],
                    "Quantity": float(line.quantity),
                    "UnitPrice": money(
                        net(line.unit_price, line.vat_rate, order.prices_include_vat)
                    ),
                    "Discount": float(discount.quantize(Decimal("0.000001"))),
                    **vat_code(settings, line.vat_rate),
                }
            )
        elif isinstance(line, ShippingLine):
            lines.append(
                {
                    "Item": items[settings.shipping_item_code or ""],
                    "Description": line.name[:60],
                    "Quantity": 1.0,
                    "UnitPrice": money(net(line.amount, line.vat_rate, order.prices_include_vat)),
                    **vat_code(settings, line.vat_rate),
                }
            )
    return lines


def _entry_lines(order: Order, gl_account: str, settings: ExactSettings) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        if isinstance(line, ProductLine):
            text, quantity = f"{line.sku} {line.name}", float(line.quantity)
        elif isinstance(line, ShippingLine):
            text, quantity = line.name, 1.0
        else:
            continue
        lines.append(
            {
                "GLAccount": gl_account,
                "Description": text[:60],
                "Quantity": quantity,
                "AmountFC": money(net(line.amount, line.vat_rate, order.prices_include_vat)),
                **vat_code(settings, line.vat_rate),
            }
        )
    return lines


def description(order: Order) -> str:
    texts = [line.text for line in order.lines if isinstance(line, TextLine)]
    return " / ".join([order.number or order.external_id, *texts])[:60]


def document_payload(
    order: Order,
    reference: str,
    account_id: str,
    items: dict[str, str],
    gl_account: str | None,
    settings: ExactSettings,
    send_as: SendAs | None = None,
) -> dict[str, Any]:
    """The document for `order` in the connection's mode (or in `send_as`, when given)."""
    mode = send_as or settings.send_as
    day = order.placed_at.date().isoformat() if order.placed_at else None
    common = {"YourRef": reference, "Description": description(order)}
    if mode == "order":
        return {
            **common,
            "OrderedBy": account_id,
            "OrderDate": day,
            "SalesOrderLines": _item_lines(order, items, settings),
        }
    if mode in ("invoice", "direct_invoice"):
        payload = {
            **common,
            "Type": 8020,
            "Journal": settings.journal,
            "OrderedBy": account_id,
            "InvoiceDate": day,
            "SalesInvoiceLines": _item_lines(order, items, settings),
        }
        if mode == "direct_invoice":
            payload.update(Type=8023, Warehouse=settings.warehouse_id)
        return payload
    return {
        **common,
        "Customer": account_id,
        "Journal": settings.journal,
        "EntryDate": day,
        "Currency": order.currency,
        "SalesEntryLines": _entry_lines(order, gl_account or "", settings),
    }


# --- credit notes ---------------------------------------------------------------------------
CREDIT_NOTE_TYPES = {"invoice": 8021, "direct_invoice": 8024}
_CREDITED = re.compile(r"^Credit invoice (\S+?):")


def credit_mode(settings: ExactSettings) -> SendAs:
    """Where a credit note goes: Exact has no credit sales order, so order mode credits with a
    credit invoice (8021); the other modes credit in their own kind of document."""
    return "invoice" if settings.send_as == "order" else settings.send_as


def credit_payload(
    order: Order,
    reference: str,
    account_id: str,
    items: dict[str, str],
    gl_account: str | None,
    settings: ExactSettings,
    original: CreditSource,
) -> dict[str, Any]:
    """The credit note for `order` (positive quantities: what is credited), built as the
    document it credits and then turned negative the way Exact wants it: a credit invoice type
    with negative quantities (or positive ones Exact negates, per `credit_note_quantities`), or
    a sales entry with negative amounts (Exact then types it 21 itself). The REST API has no
    field for the credited invoice, so its number leads the description."""
    mode = credit_mode(settings)
    payload = document_payload(order, reference, account_id, items, gl_account, settings, mode)
    payload["Description"] = credit_description(order, original)
    if mode == "sales_entry":
        for line in payload["SalesEntryLines"]:
            line["AmountFC"] = -line["AmountFC"]
        return payload
    payload["Type"] = CREDIT_NOTE_TYPES[mode]
    if settings.credit_note_quantities == "negative":
        for line in payload["SalesInvoiceLines"]:
            line["Quantity"] = -line["Quantity"]
    return payload


def credit_description(order: Order, original: CreditSource) -> str:
    if original.invoice_number:
        head = f"Credit invoice {original.invoice_number}:"
    else:
        head = f"Credit order {original.order_number or original.order_id}:"
    return f"{head} {description(order)}"[:60]


def credited_invoice(text: str | None) -> str | None:
    """The invoice number `credit_description` put in a credit note's description."""
    found = _CREDITED.match(text or "")
    return found.group(1) if found else None
