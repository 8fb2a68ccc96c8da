"""One `CreateSalesOrderItemModelUpdate` resolved the way Sapera resolves a sale item.

- The product comes by `inventoryItemData.productId` or `.productIdentifier` (the product's own
  identifier; both given must agree). A product with variants needs `variantId`, one with
  instances needs `instanceId`, and an instance is sold with quantity 1.
- Price: instance -> variant -> product, the first non-null. A `price` sent along must equal it,
  unless the product has `isUserDefinedPriceAllowed`: deviations go in `manualDiscountAmount`.
- Cost: instance -> variant -> product, else `defaultCostPrice` when the product has
  `isDefaultCostPriceApplicable`.
- VAT: the rate of the product's financial account (or of `financialData.
  saleFinancialAccountNumber`; a `financialData.vatRate` sent along must match it).
- amount = price x quantity - manualDiscountAmount, VAT included; net = amount / (1 + rate);
  both rounded to 0.01 half-up on the line. A negative amount, or discount, is refused.
- A negative quantity (a returned item; only with the `negative_quantities` option, as whether
  the API takes one is unconfirmed) mirrors that: amount = -(price x |quantity| - discount), the
  discount still positive and still lowering what changes hands.
In `strict_wrappers` mode the scalars quantity, manualDiscountAmount and price must come as
`{"value": X}` too, unless `strict_item_wrappers` is off (their wrapping is unconfirmed).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.sapera.envelope import not_exists, validation
from simulators.sapera.fields import Body
from simulators.sapera.money import ZERO, cents, dec, money, rate
from simulators.sapera.store import Store

ITEM_UPDATE = "CreateSalesOrderItemModelUpdate"

Row = dict[str, Any]


def resolve_item(
    store: Store, update: Body, item_id: int, wrapped: bool = True, negative: bool = False
) -> Row:
    """The sale item; `wrapped`: whether strict mode asks for the item scalars wrapped;
    `negative`: whether a returned item (negative quantity) is allowed."""
    quantity = update.number("quantity", wrapped=wrapped, required=True) or ZERO
    if quantity == 0 or (quantity < 0 and not negative):
        raise validation(f"{update.where}quantity must be above 0.")
    discount = update.number("manualDiscountAmount", wrapped=wrapped) or ZERO
    if discount < 0:
        raise validation(f"{update.where}manualDiscountAmount must not be negative.")
    data = update.child("inventoryItemData", required=True)
    assert data is not None
    product = _product(store, data)
    variant = _part(
        store.variants,
        data,
        "variantId",
        product,
        "variants",
        product["isProductVariantsSupported"],
    )
    instance = _part(
        store.instances,
        data,
        "instanceId",
        product,
        "instances",
        product["isProductInstancesSupported"],
    )
    if variant is not None and not variant["isEnabled"]:
        raise validation(f"Variant {variant['identifier']} is disabled and can not be sold.")
    if instance is not None and abs(quantity) != 1:
        raise validation(
            f"{update.where}quantity must be 1 for the product instance {instance['identifier']}."
        )
    chain = [row for row in (instance, variant, product) if row is not None]
    price = _price(update, product, chain, wrapped)
    cost = next((dec(row["costPrice"]) for row in chain if row["costPrice"] is not None), None)
    if cost is None and product["isDefaultCostPriceApplicable"]:
        cost = dec(product["defaultCostPrice"])
    account, vat_rate = _account(store, product, update.child("financialData"))
    size = cents(price * abs(quantity) - discount)
    if size < 0:
        raise validation(
            f"{update.where}: the amount {size} (price {price} x {abs(quantity)} - "
            f"manualDiscountAmount {discount}) is negative."
        )
    amount = size if quantity > 0 else -size
    net = cents(amount / (1 + vat_rate))
    most_specific = chain[0]
    return {
        "id": item_id,
        "productId": product["id"],
        "variantId": variant["id"] if variant else None,
        "instanceId": instance["id"] if instance else None,
        "productIdentifier": product["identifier"],
        "variantIdentifier": variant["identifier"] if variant else None,
        "instanceIdentifier": instance["identifier"] if instance else None,
        "displayName": data.text("displayName")
        or most_specific.get("displayName")
        or product["displayName"],
        "quantity": int(quantity) if quantity == quantity.to_integral_value() else float(quantity),
        "price": money(price),
        "costPrice": money(cost),
        "manualDiscountAmount": money(discount),
        "financialAccountNumber": account,
        "vatRate": rate(vat_rate),
        "amount": money(amount),
        "netAmount": money(net),
        "vatAmount": money(amount - net),
        "invoiceId": None,
    }


def _product(store: Store, data: Body) -> Row:
    product_id = data.integer("productId")
    identifier = data.text("productIdentifier")
    if product_id is None and not identifier:
        raise validation(f"{data.where}productId or productIdentifier is required.")
    product = (
        store.products.get(product_id)
        if product_id is not None
        else store.product_by_identifier(identifier or "")
    )
    if product is None:
        what = f"id {product_id}" if product_id is not None else f"identifier '{identifier}'"
        raise not_exists(f"No product with {what}.")
    if identifier and identifier.lower() != product["identifier"].lower():
        raise validation(
            f"{data.where}productIdentifier '{identifier}' is not the identifier "
            f"of product {product_id} ({product['identifier']})."
        )
    return product


def _part(
    rows: dict[int, Row], data: Body, field: str, product: Row, kind: str, supported: bool
) -> Row | None:
    """The variant or instance the item names; required when the product has them."""
    part_id = data.integer(field)
    if part_id is None:
        if supported:
            raise validation(
                f"Product {product['identifier']} (id {product['id']}) has {kind}: "
                f"{data.where}{field} is required."
            )
        return None
    part = rows.get(part_id)
    if part is None or part["productId"] != product["id"]:
        raise not_exists(f"Product {product['identifier']} has no {kind[:-1]} with id {part_id}.")
    return part


def _price(update: Body, product: Row, chain: list[Row], wrapped: bool) -> Decimal:
    resolved = next(
        (dec(row["salesPrice"]) for row in chain if row["salesPrice"] is not None), None
    )
    given = update.number("price", wrapped=wrapped)
    if given is not None and product["isUserDefinedPriceAllowed"]:
        return cents(given)
    if resolved is None:
        raise validation(f"{chain[0]['identifier']} has no sales price.")
    if given is not None and cents(given) != resolved:
        raise validation(
            f"{update.where}price {given} differs from the sales price {resolved} "
            f"of {chain[0]['identifier']}, and the product does not allow a "
            "user-defined price; use manualDiscountAmount."
        )
    return resolved


def _account(store: Store, product: Row, financial: Body | None) -> tuple[str, Decimal]:
    number = product["financialAccountNumber"]
    if financial is None:
        return number, Decimal(str(store.accounts[number]["vatRate"]))
    if financial.flag("priceIncludesVat") is False:
        raise validation(
            f"{financial.where}priceIncludesVat must be true: Sapera's prices include VAT."
        )
    given_number = financial.get("saleFinancialAccountNumber")
    number = number if given_number is None else str(given_number)
    if number not in store.accounts:
        raise not_exists(f"Financial account {number} does not exist.")
    vat_rate = Decimal(str(store.accounts[number]["vatRate"]))
    given = financial.number("vatRate")
    if given is not None and given != vat_rate:
        raise validation(
            f"{financial.where}vatRate {given} does not match the rate {vat_rate} "
            f"of financial account {number}."
        )
    return number, vat_rate
