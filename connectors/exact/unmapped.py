"""What Exact Online does not get of an order, as `mapping` builds it: the delivery address,
serial numbers, the currency outside sales entries (documents take the division's), the shop's
customer id unless customers are matched by code, a person's company name, and text that does
not fit: Exact lines need an item, so text lines go into the 60-character description, and line
descriptions are cut at 60 characters too."""

from __future__ import annotations

from decimal import Decimal

from connectors import unmapped
from connectors.exact.settings import ExactSettings
from schemas.dropped import Dropped
from schemas.order import Order, ProductLine, ShippingLine, TextLine

ERP = "Exact Online"
WIDTH = 60  # Exact's description fields
SEPARATOR = " / "  # between the parts of the document's description (`mapping.description`)


def dropped(order: Order, settings: ExactSettings) -> list[Dropped]:
    found = _customer(order, settings)
    if settings.send_as != "sales_entry":
        found.append(
            Dropped(
                field="currency",
                reason=f"{ERP} makes the document in the division's currency: the order's "
                f"currency ({order.currency}) is not sent",
            )
        )
    return [
        *found,
        *_description(order),
        *_line_names(order, settings),
        *unmapped.shipping_address(order, ERP),
        *unmapped.serial_numbers(order, ERP),
    ]


def _customer(order: Order, settings: ExactSettings) -> list[Dropped]:
    customer = order.customer
    found: list[Dropped] = []
    if settings.match_customers_by != "code":
        found += unmapped.customer_fields(
            order,
            {
                "external_id": f"{ERP} matches customers by e-mail or name "
                f"(match_customers_by = email): the shop's customer id is not stored"
            },
        )
    if customer.kind != "company" and customer.name:
        found += unmapped.customer_fields(
            order, {"company_name": f"{ERP} names a person's account after the person: not sent"}
        )
    return found


def _description(order: Order) -> list[Dropped]:
    """The order number and the text lines share the document's description (60 characters):
    whatever goes past the end is cut."""
    head = order.number or order.external_id
    found: list[Dropped] = []
    if order.number and len(head) > WIDTH:
        found.append(Dropped(field="number", reason=_cut("the order number")))
    end = len(head)
    for index, line in unmapped.lines_of(order, TextLine):
        end += len(SEPARATOR) + len(line.text)
        if end > WIDTH:
            reason = (
                f"{ERP} has no text lines: text goes into the document's description, which "
                f"holds {WIDTH} characters; this text did not fit (cut or left out)"
            )
            found.append(Dropped(field=f"lines.{index}.text", reason=reason))
    return found


def _line_names(order: Order, settings: ExactSettings) -> list[Dropped]:
    """Line descriptions hold 60 characters (a sales entry's starts with the SKU); a sales
    entry books each line's amount after discount, so the discount is not shown on its own."""
    entry = settings.send_as == "sales_entry"
    found: list[Dropped] = []
    for index, line in enumerate(order.lines):
        if isinstance(line, ProductLine):
            text = f"{line.sku} {line.name}" if entry else line.name
            if entry and line.discount > Decimal(0):
                reason = (
                    f"a sales entry in {ERP} books the line's amount after discount: the "
                    f"discount ({line.discount}) is not shown on its own"
                )
                found.append(Dropped(field=f"lines.{index}.discount", reason=reason))
        elif isinstance(line, ShippingLine):
            text = line.name
        else:
            continue
        if len(text) > WIDTH:
            found.append(Dropped(field=f"lines.{index}.name", reason=_cut("the line's name")))
    return found


def _cut(what: str) -> str:
    return f"{ERP} keeps {WIDTH} characters of a description: {what} is cut"
