"""A sale item as Sapera resolves it, for a dry run: from the item update the connector would
send and the tenant's products, the price and cost Sapera would take, the amount, VAT and net,
or the refusal Sapera would give (erp/sapera.md, "Sale item resolution rules").

- The product comes by `inventoryItemData.productId` or `.productIdentifier`; a product with
  variants needs `variantId`, one with instances `instanceId`, and an instance is sold one at a
  time. A disabled variant is not sold.
- Price: instance, then variant, then product (the first that has one); a `price` sent along
  must be that one unless the product allows a user-defined price. Cost likewise, else the
  product's `defaultCostPrice` when it applies.
- VAT: the rate of the product's account (or of `financialData.saleFinancialAccountNumber`);
  a `financialData.vatRate` sent along must be that rate.
- amount = price x quantity - manualDiscountAmount, VAT included, rounded half-up to the cent
  per line, as is the net; a returned item (negative quantity) mirrors it.
The messages are those of our model of Sapera (`simulators/sapera`), which is what a real run's
dead letter carries in every test and demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.sapera.mapping import cents
from connectors.sapera.tenant import Row, TenantReads
from connectors.values import decimal_or_none

VALIDATION, NOT_EXISTS, ALREADY_EXISTS, METHOD_NOT_FOUND = 1, 5, 6, 4


class Refusal(Exception):
    """Sapera's refusal of a command: its error code and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def invalid(message: str) -> Refusal:
    return Refusal(VALIDATION, message)


@dataclass(frozen=True)
class SaleItem:
    """One sale item as Sapera would store it (money including VAT, except `net`)."""

    sku: str  # the identifier of the instance, variant or product sold
    quantity: Decimal
    price: Decimal
    cost: Decimal | None  # per unit
    discount: Decimal
    amount: Decimal
    net: Decimal
    vat_rate: Decimal

    @property
    def vat(self) -> Decimal:
        return self.amount - self.net


def field(data: Row, name: str) -> Any:
    """`data[name]`, the name matched case-insensitively and a `{"value": X}` unwrapped (Sapera
    takes both); None when absent."""
    found = data.get(name)
    if found is None:
        lowered = name.lower()
        found = next((v for k, v in data.items() if k.lower() == lowered), None)
    if isinstance(found, dict) and len(found) == 1:
        ((key, inner),) = found.items()
        if key.lower() == "value":
            return inner
    return found


def number(data: Row, name: str, where: str, required: bool = False) -> Decimal | None:
    value = field(data, name)
    if value is None:
        if required:
            raise invalid(f"{where}{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"{where}{name} must be a number.")
    return Decimal(str(value))


def resolve(reads: TenantReads, update: Row, where: str) -> SaleItem:
    """The item update at `where` (e.g. `modelUpdates[1].`) as Sapera would store it."""
    quantity = number(update, "quantity", where, required=True) or Decimal(0)
    if quantity == 0:
        raise invalid(f"{where}quantity must be above 0.")
    discount = number(update, "manualDiscountAmount", where) or Decimal(0)
    if discount < 0:
        raise invalid(f"{where}manualDiscountAmount must not be negative.")
    data = field(update, "inventoryItemData")
    if not isinstance(data, dict):
        raise invalid(f"{where}inventoryItemData is required.")
    inner = f"{where}inventoryItemData."
    product = _product(reads, data, inner)
    variant = _part(data, inner, "variantId", product, "variants", reads.variants)
    instance = _part(data, inner, "instanceId", product, "instances", reads.instances)
    if variant is not None and variant.get("isEnabled") is False:
        raise invalid(f"Variant {variant['identifier']} is disabled and can not be sold.")
    if instance is not None and abs(quantity) != 1:
        raise invalid(
            f"{where}quantity must be 1 for the product instance {instance['identifier']}."
        )
    chain = [row for row in (instance, variant, product) if row is not None]
    price = _price(update, where, product, chain)
    cost = _first(chain, "costPrice")
    if cost is None and product.get("isDefaultCostPriceApplicable"):
        cost = decimal_or_none(product.get("defaultCostPrice"))
    rate = _vat_rate(reads, product, field(update, "financialData"), f"{where}financialData.")
    size = cents(price * abs(quantity) - discount)
    if size < 0:
        raise invalid(
            f"{where}: the amount {size} (price {price} x {abs(quantity)} - "
            f"manualDiscountAmount {discount}) is negative."
        )
    amount = size if quantity > 0 else -size
    return SaleItem(
        sku=str(chain[0]["identifier"]),
        quantity=quantity,
        price=cents(price),
        cost=None if cost is None else cents(cost),
        discount=cents(discount),
        amount=amount,
        net=cents(amount / (1 + rate)),
        vat_rate=rate,
    )


def _product(reads: TenantReads, data: Row, where: str) -> Row:
    product_id, identifier = field(data, "productId"), field(data, "productIdentifier")
    if product_id is None and not identifier:
        raise invalid(f"{where}productId or productIdentifier is required.")
    product = reads.product(product_id, identifier)
    if product is None:
        what = f"id {product_id}" if product_id is not None else f"identifier '{identifier}'"
        raise Refusal(NOT_EXISTS, f"No product with {what}.")
    if identifier and str(identifier).lower() != str(product["identifier"]).lower():
        raise invalid(
            f"{where}productIdentifier '{identifier}' is not the identifier "
            f"of product {product_id} ({product['identifier']})."
        )
    return product


def _part(data: Row, where: str, name: str, product: Row, kind: str, rows_of: Any) -> Row | None:
    """The variant or instance the item names; required when the product has them."""
    supported = bool(product.get(f"isProduct{kind.capitalize()}Supported"))
    part_id = field(data, name)
    if part_id is None:
        if supported:
            raise invalid(
                f"Product {product['identifier']} (id {product['id']}) has {kind}: "
                f"{where}{name} is required."
            )
        return None
    found = next((row for row in rows_of(product["id"]) if row.get("id") == part_id), None)
    if found is None:
        raise Refusal(
            NOT_EXISTS, f"Product {product['identifier']} has no {kind[:-1]} with id {part_id}."
        )
    return dict(found)


def _first(chain: list[Row], name: str) -> Decimal | None:
    return next(
        (decimal_or_none(row.get(name)) for row in chain if row.get(name) is not None), None
    )


def _price(update: Row, where: str, product: Row, chain: list[Row]) -> Decimal:
    resolved = _first(chain, "salesPrice")
    given = number(update, "price", where)
    if given is not None and product.get("isUserDefinedPriceAllowed"):
        return cents(given)
    if resolved is None:
        raise invalid(f"{chain[0]['identifier']} has no sales price.")
    if given is not None and cents(given) != resolved:
        raise invalid(
            f"{where}price {given} differs from the sales price {resolved} "
            f"of {chain[0]['identifier']}, and the product does not allow a "
            "user-defined price; use manualDiscountAmount."
        )
    return resolved


def _vat_rate(reads: TenantReads, product: Row, financial: Any, where: str) -> Decimal:
    account = str(product.get("financialAccountNumber"))
    if not isinstance(financial, dict):
        rate = reads.vat_rate(account)
        if rate is None:
            raise Refusal(NOT_EXISTS, f"Financial account {account} does not exist.")
        return rate
    if field(financial, "priceIncludesVat") is False:
        raise invalid(f"{where}priceIncludesVat must be true: Sapera's prices include VAT.")
    chosen = field(financial, "saleFinancialAccountNumber")
    account = account if chosen is None else str(chosen)
    rate = reads.vat_rate(account)
    if rate is None:
        raise Refusal(NOT_EXISTS, f"Financial account {account} does not exist.")
    given = number(financial, "vatRate", where)
    if given is not None and given != rate:
        raise invalid(
            f"{where}vatRate {given} does not match the rate {rate} of financial account {account}."
        )
    return rate
