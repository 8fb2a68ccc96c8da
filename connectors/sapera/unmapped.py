"""What Sapera does not get of an order, as `mapping` builds it: a sales order there names its
customer, items and our reference only. So text lines, serial numbers, line names (an item is
named after its product), the order date, the currency, the order number (unless our reference
holds it) and the customer's addresses stay behind; a customer is a person or an organisation,
never both. The shop's unit prices and discounts arrive as each line's amount (Sapera's price
with a manual discount), so they are not reported."""

from __future__ import annotations

from connectors import unmapped
from connectors.sapera.settings import SaperaSettings
from schemas.dropped import Dropped
from schemas.order import Order, ProductLine, ShippingLine, TextLine

ERP = "Sapera"


def dropped(order: Order, reference: str, settings: SaperaSettings) -> list[Dropped]:
    return [
        *_header(order, reference),
        *_customer(order),
        *_lines(order, settings.shipping_sku),
        *unmapped.serial_numbers(order, ERP),
    ]


def _header(order: Order, reference: str) -> list[Dropped]:
    found: list[Dropped] = []
    if order.number and order.number not in reference:
        reason = f"a {ERP} sales order carries our reference ({reference}) only"
        found.append(Dropped(field="number", reason=f"{reason}: the order number is not sent"))
    if order.placed_at is not None:
        found.append(
            Dropped(
                field="placed_at",
                reason=f"{ERP} dates the sales order when it is created: the order date is "
                f"not sent",
            )
        )
    found.append(
        Dropped(
            field="currency",
            reason=f"{ERP} books in the tenant's currency: the order's currency "
            f"({order.currency}) is not sent",
        )
    )
    return found


def _customer(order: Order) -> list[Dropped]:
    customer = order.customer
    no_address = f"{ERP} customers are created without addresses: the address is not sent"
    found = unmapped.customer_fields(
        order, {"billing_address": no_address, "shipping_address": no_address}
    )
    if customer.kind == "company" and customer.company_name:
        found += unmapped.customer_fields(
            order,
            {"name": f"a {ERP} organisation customer gets no contact person: the name is not sent"},
        )
        return found
    person = f"the customer is a person, and {ERP} keeps this on organisations only: not sent"
    found += unmapped.customer_fields(order, {"org_number": person, "vat_number": person})
    if customer.name:
        found += unmapped.customer_fields(order, {"company_name": person})
    return found


def _lines(order: Order, shipping_sku: str) -> list[Dropped]:
    found: list[Dropped] = []
    for index, line in enumerate(order.lines):
        if isinstance(line, TextLine):
            reason = f"{ERP} has no text lines: the line's text is not sent"
            found.append(Dropped(field=f"lines.{index}.text", reason=reason))
        elif isinstance(line, ProductLine | ShippingLine):
            what = line.sku if isinstance(line, ProductLine) else shipping_sku
            reason = (
                f"{ERP} names each item after its product ({what}): the line's name is not sent"
            )
            found.append(Dropped(field=f"lines.{index}.name", reason=reason))
    return found
