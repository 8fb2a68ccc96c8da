"""The canonical order in Sapera's command shapes, and the price rule that makes Sapera's amount
equal what the customer paid.

Sapera resolves a sale item's price and cost itself (instance, then variant, then product), and
every price, discount and total includes VAT. We never send our price: the difference between
Sapera's amount (price x quantity) and the shop's line amount including VAT goes in as the item's
`manualDiscountAmount`. Checks before posting name the SKU and both values: a VAT rate that
differs from the one Sapera books the product at, a product that needs a variant or instance,
an instance ordered more than once, a shop price above Sapera's (a negative discount).
A credit note is the same command with the returned items' quantities negative (the price rule
unchanged: the discount still lowers what changes hands), a text naming the credited invoice,
and no more credited than the original was for.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from connectors.base import CreditSource
from connectors.errors import PermanentError
from connectors.sapera.envelope import wrap
from connectors.sapera.settings import SaperaSettings
from schemas.order import Customer, Order, ProductLine, ShippingLine, gross

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Resolved:
    """What a SKU is in Sapera: a product, one of its variants, or one of its instances."""

    sku: str
    product_id: int
    product_identifier: str
    variant_id: int | None
    instance_id: int | None
    price: Decimal | None  # Sapera's sales price including VAT (first non-null of the chain)
    cost: Decimal | None
    vat_rate: Decimal | None
    account: str | None
    requires: str | None = None  # "variant" | "instance" when the SKU names only the product

    def ids(self) -> str:
        """The compact form the pipeline caches: product/variant/instance."""
        return "/".join(
            "-" if v is None else str(v)
            for v in (self.product_id, self.variant_id, self.instance_id)
        )


@dataclass(frozen=True)
class Item:
    """One sale item as we will send it, with the shop's amount beside Sapera's."""

    resolved: Resolved
    quantity: Decimal
    shop_amount: Decimal  # including VAT
    discount: Decimal
    price: Decimal | None = None  # only sent when the connection allows the shop's price


def actor_command(customer: Customer, key: str) -> dict[str, Any]:
    """CreateActor with customer roles, never `User` (it would create a login)."""
    updates: list[dict[str, Any]] = []
    if customer.kind == "company" and customer.company_name:
        roles = ["CustomerOrganization", "Customer", "Organization"]
        updates.append(
            {
                "modelType": "ChangeOrganizationFieldsetUpdate",
                "organizationName": wrap(customer.company_name),
                "organizationalIdentifier": wrap(customer.org_number),
                "vatTaxRegistrationIdentifier": wrap(customer.vat_number),
            }
        )
    else:
        roles = ["CustomerPerson", "Customer", "Person"]
        first, _, last = (customer.name or customer.display_name).partition(" ")
        updates.append(
            {
                "modelType": "ChangePersonFieldsetUpdate",
                "firstName": wrap(first),
                "lastName": wrap(last or None),
            }
        )
    updates.append(
        {
            "modelType": "ChangeContactFieldsetUpdate",
            "email": wrap(customer.email),
            "phone": wrap(customer.phone),
        }
    )
    updates.append(
        {"modelType": "ChangeCustomerIdentifierFieldsetUpdate", "customerIdentifier": wrap(key)}
    )
    return {"modelType": "CreateActorCommand", "modelUpdates": updates, "roleNames": roles}


def shop_gross(amount: Decimal, rate: Decimal, includes_vat: bool) -> Decimal:
    """The shop's line amount including VAT, in cents: `schemas.order.gross`, the rule the
    original's total is computed by for `check_credit` too (`Order.gross_total`)."""
    return gross(amount, rate, includes_vat)


def plan_item(
    resolved: Resolved,
    quantity: Decimal,
    amount: Decimal,
    rate: Decimal,
    includes_vat: bool,
    where: str,
    settings: SaperaSettings,
) -> Item:
    """Check the line against what Sapera knows, and work out its manual discount."""
    sku = resolved.sku
    if resolved.requires:
        raise PermanentError(
            f"{where}: {sku} names a product that needs a {resolved.requires}: "
            f"order one of its {resolved.requires}s' SKUs"
        )
    if resolved.instance_id is not None and quantity != 1:
        raise PermanentError(
            f"{where}: {sku} is a product instance: quantity must be 1, "
            f"the shop line has {quantity.normalize()}"
        )
    if resolved.vat_rate is not None and resolved.vat_rate != rate:
        raise PermanentError(
            f"{where}: {sku} is booked on account {resolved.account} at "
            f"{_percent(resolved.vat_rate)} VAT in Sapera, the shop line has {_percent(rate)}"
        )
    if resolved.price is None:
        raise PermanentError(f"{where}: {sku} has no sales price in Sapera")
    charged = shop_gross(amount, rate, includes_vat)
    listed = cents(resolved.price * quantity)
    if charged <= listed:
        return Item(resolved, quantity, charged, listed - charged)
    if settings.price_above_list == "refuse":
        raise PermanentError(
            f"{where}: {sku}: the shop charged {charged} for {quantity.normalize()}, above "
            f"Sapera's {listed} ({resolved.price} each): a negative discount "
            f'(settings.price_above_list = "send_price" sends the shop\'s price instead)'
        )
    price = (charged / quantity).quantize(CENT, rounding=ROUND_CEILING)
    return Item(resolved, quantity, charged, cents(price * quantity) - charged, price)


def item_update(item: Item, returned: bool = False) -> dict[str, Any]:
    """The sale item; a `returned` one (on a credit note) has a negative quantity, its price and
    discount as for a sale."""
    r = item.resolved
    quantity = -item.quantity if returned else item.quantity
    update: dict[str, Any] = {
        "modelType": "CreateSalesOrderItemModelUpdate",
        "quantity": float(quantity),
        "manualDiscountAmount": float(item.discount),
        "inventoryItemData": {
            "productId": r.product_id,
            "variantId": r.variant_id,
            "instanceId": r.instance_id,
            "productIdentifier": r.product_identifier,
        },
    }
    if item.price is not None:
        update["price"] = float(item.price)
    return update


def order_command(
    reference: str,
    actor_id: str,
    items: list[Item],
    settings: SaperaSettings,
    credit_text: str | None = None,
) -> dict[str, Any]:
    """CreateSalesOrder; with `credit_text` (naming what is credited) a credit note: a sales
    order of returned items, which Sapera invoices as a negative invoice."""
    customer = {
        "modelType": "SetSalesOrderCustomerDataModelUpdate",
        "actor": wrap({"actorId": int(actor_id)}),
        settings.customer_reference_field: wrap(reference),
    }
    returned = credit_text is not None
    command: dict[str, Any] = {
        "modelType": "CreateSalesOrderCommand",
        "AllowModifyingWhenReady": wrap(settings.allow_modifying_when_ready),
        "modelUpdates": [customer, *[item_update(i, returned) for i in items]],
    }
    if credit_text is not None and settings.subject_field:
        command[settings.subject_field] = wrap(credit_text)
    return command


def credit_text(original: CreditSource) -> str:
    """What a credit note says it credits: the invoice, else the sales order."""
    order = original.order_number or original.order_id
    if original.invoice_number:
        return f"Credit note for invoice {original.invoice_number} (sales order {order})"
    return f"Credit note for sales order {order}"


def check_credit(items: list[Item], original: CreditSource) -> None:
    """A credit note may not give back more than the original was for (both including VAT);
    without the original's amount (its order purged after the retention) Sapera judges."""
    if original.total is None:
        return
    credited = sum((item.shop_amount for item in items), Decimal(0))
    if credited > original.total:
        what = (
            f"invoice {original.invoice_number}"
            if original.invoice_number
            else f"sales order {original.order_number or original.order_id}"
        )
        raise PermanentError(
            f"the credit note is for {credited} {original.currency}, more than "
            f"the {original.total} {original.currency} of {what}"
        )


def lines_to_items(
    order: Order, settings: SaperaSettings
) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    """(where, sku, quantity, amount, rate) of every line Sapera gets an item for; text lines
    have no place on a Sapera sales order."""
    out = []
    for index, line in enumerate(order.lines):
        if isinstance(line, ProductLine):
            out.append((f"lines.{index}", line.sku, line.quantity, line.amount, line.vat_rate))
        elif isinstance(line, ShippingLine):
            out.append(
                (f"lines.{index}", settings.shipping_sku, Decimal(1), line.amount, line.vat_rate)
            )
    return out


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize()} %"
