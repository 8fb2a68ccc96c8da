"""The part of Shopify's GraphQL Admin schema the simulator serves, read off its REST-shaped orders.

The store keeps one copy of each order, in the REST shape its webhooks carry; GraphQL is a second
view of the same data, as it is at Shopify. Each type maps field names to a `Spec`: what kind of
value it returns (scalar, object, list of objects, connection) and how to read it from the REST
dict. Names and shapes follow the Admin API reference (shopify.dev/docs/api/admin-graphql):
ids are `gid://shopify/<Type>/<n>`, `legacyResourceId` the number as a string, money a `MoneyBag`
of `shopMoney`/`presentmentMoney` `MoneyV2 {amount, currencyCode}` with `amount` a Decimal string
("1000.0": Shopify drops trailing zeros), enums in upper case, times ISO 8601 in UTC with `Z`.
Fields we do not model are unknown here, so a query asking for them fails as a typo would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.shops.common import parse_time
from simulators.shops.shopify_refunds import refunded_quantity


@dataclass(frozen=True)
class Ref:
    """A value being resolved: its REST dict and the order it belongs to (for the currency)."""

    raw: Any
    order: dict[str, Any]


Getter = Callable[[Ref, dict[str, Any]], Any]


@dataclass(frozen=True)
class Spec:
    kind: str  # scalar | object | list | connection
    type: str
    get: Getter


def scalar(get: Callable[[Ref], Any]) -> Spec:
    return Spec("scalar", "", lambda ref, args: get(ref))


def raw(key: str) -> Spec:
    return scalar(lambda ref: ref.raw.get(key))


def obj(type_name: str, get: Callable[[Ref], Any]) -> Spec:
    def child(ref: Ref, args: dict[str, Any]) -> Ref | None:
        value = get(ref)
        return None if value is None else Ref(value, ref.order)

    return Spec("object", type_name, child)


def many(kind: str, type_name: str, get: Callable[[Ref], Any]) -> Spec:
    """A list or connection of objects; paging and `first` are the executor's business."""
    return Spec(
        kind,
        type_name,
        lambda ref, args: [
            Ref(item, ref.order) for item in (get(ref) or []) if isinstance(item, dict)
        ],
    )


def gid(kind: str) -> Spec:
    return scalar(lambda ref: f"gid://shopify/{kind}/{ref.raw['id']}")


def legacy() -> Spec:
    return scalar(lambda ref: str(ref.raw["id"]))


def utc(key: str) -> Spec:
    def read(ref: Ref) -> str | None:
        moment = parse_time(str(ref.raw.get(key) or ""))
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

    return scalar(read)


def money_bag(get: Callable[[Ref], Any]) -> Spec:
    return obj("MoneyBag", lambda ref: {"amount": get(ref)})


def decimal_text(value: Any) -> str:
    """Shopify's Decimal scalar: no trailing zeros beyond one decimal place."""
    try:
        number = Decimal(str(value if value not in (None, "") else "0"))
    except InvalidOperation:
        number = Decimal("0")
    text = f"{number:f}"
    if "." not in text:
        return f"{text}.0"
    text = text.rstrip("0")
    return f"{text}0" if text.endswith(".") else text


def money(ref: Ref) -> dict[str, Any]:
    currency = ref.raw.get("currency") or ref.order.get("currency") or "USD"
    return {"amount": decimal_text(ref.raw.get("amount")), "currency": currency}


def current_quantity(ref: Ref) -> int:
    if ref.raw.get("current_quantity") is not None:
        return int(ref.raw["current_quantity"])
    return int(ref.raw.get("quantity") or 0) - refunded_quantity(ref.order, ref.raw.get("id"))


def shipping_current(ref: Ref) -> Any:
    current = (ref.raw.get("current_discounted_price_set") or {}).get("shop_money") or {}
    return current.get("amount", ref.raw.get("discounted_price", ref.raw.get("price")))


def current_total(key: str, fallback: str) -> Callable[[Ref], Any]:
    return lambda ref: ref.raw.get(key, ref.raw.get(fallback))


def financial_status(ref: Ref) -> str | None:
    status = ref.raw.get("financial_status")
    return str(status).upper() if status else None


def fulfillment_status(ref: Ref) -> str:
    return str(ref.raw.get("fulfillment_status") or "unfulfilled").upper()


def total_refunded(ref: Ref) -> Decimal:
    return sum(
        (
            Decimal(str(t.get("amount") or "0"))
            for refund in ref.raw.get("refunds") or []
            for t in refund.get("transactions") or []
            if t.get("kind") == "refund"
        ),
        Decimal("0"),
    )


def refund_total(ref: Ref) -> Decimal:
    return sum(
        (Decimal(str(t.get("amount") or "0")) for t in ref.raw.get("transactions") or []),
        Decimal("0"),
    )


def line_discount_total(ref: Ref) -> Decimal:
    return sum(
        (Decimal(str(a.get("amount") or "0")) for a in ref.raw.get("discount_allocations") or []),
        Decimal("0"),
    )


def original_total(ref: Ref) -> Decimal:
    return Decimal(str(ref.raw.get("price") or "0")) * int(ref.raw.get("quantity") or 0)


def address_name(ref: Ref) -> str | None:
    given = ref.raw.get("name")
    joined = " ".join(p for p in (ref.raw.get("first_name"), ref.raw.get("last_name")) if p)
    return given or joined or None


TAX_LINE = {
    "title": raw("title"),
    "rate": scalar(lambda ref: _float(ref.raw.get("rate"))),
    "ratePercentage": scalar(lambda ref: round(_float(ref.raw.get("rate")) * 100, 4)),
    "priceSet": money_bag(lambda ref: ref.raw.get("price")),
    "channelLiable": scalar(lambda ref: bool(ref.raw.get("channel_liable"))),
}

DISCOUNT_ALLOCATION = {"allocatedAmountSet": money_bag(lambda ref: ref.raw.get("amount"))}

LINE_ITEM = {
    "id": gid("LineItem"),
    "name": raw("name"),
    "title": raw("title"),
    "variantTitle": raw("variant_title"),
    "sku": raw("sku"),
    "vendor": raw("vendor"),
    "quantity": raw("quantity"),
    "currentQuantity": scalar(current_quantity),
    "refundableQuantity": scalar(current_quantity),
    "taxable": scalar(lambda ref: ref.raw.get("taxable", True) is not False),
    "requiresShipping": scalar(lambda ref: ref.raw.get("requires_shipping", True) is not False),
    "originalUnitPriceSet": money_bag(lambda ref: ref.raw.get("price")),
    "originalTotalSet": money_bag(original_total),
    "totalDiscountSet": money_bag(line_discount_total),
    "taxLines": many("list", "TaxLine", lambda ref: ref.raw.get("tax_lines")),
    "discountAllocations": many(
        "list", "DiscountAllocation", lambda ref: ref.raw.get("discount_allocations")
    ),
}

SHIPPING_LINE = {
    "id": gid("ShippingLine"),
    "title": raw("title"),
    "code": raw("code"),
    "source": raw("source"),
    "originalPriceSet": money_bag(lambda ref: ref.raw.get("price")),
    "discountedPriceSet": money_bag(
        lambda ref: ref.raw.get("discounted_price", ref.raw.get("price"))
    ),
    "currentDiscountedPriceSet": money_bag(shipping_current),
    "taxLines": many("list", "TaxLine", lambda ref: ref.raw.get("tax_lines")),
    "discountAllocations": many(
        "list", "DiscountAllocation", lambda ref: ref.raw.get("discount_allocations")
    ),
}

CUSTOMER = {
    "id": gid("Customer"),
    "legacyResourceId": legacy(),
    "firstName": raw("first_name"),
    "lastName": raw("last_name"),
    "email": raw("email"),
    "phone": raw("phone"),
    "displayName": scalar(lambda ref: address_name(ref) or ref.raw.get("email") or ""),
}

MAILING_ADDRESS = {
    "name": scalar(address_name),
    "firstName": raw("first_name"),
    "lastName": raw("last_name"),
    "company": raw("company"),
    "address1": raw("address1"),
    "address2": raw("address2"),
    "city": raw("city"),
    "zip": raw("zip"),
    "province": raw("province"),
    "provinceCode": raw("province_code"),
    "country": raw("country"),
    "countryCodeV2": raw("country_code"),
    "phone": raw("phone"),
}

REFUND_LINE_ITEM = {
    "id": gid("RefundLineItem"),
    "lineItem": obj("LineItem", lambda ref: ref.raw.get("line_item")),
    "quantity": raw("quantity"),
    "restocked": scalar(lambda ref: ref.raw.get("restock_type") in ("return", "cancel")),
    "restockType": scalar(lambda ref: str(ref.raw.get("restock_type") or "no_restock").upper()),
    "priceSet": money_bag(lambda ref: (ref.raw.get("line_item") or {}).get("price")),
    "subtotalSet": money_bag(lambda ref: ref.raw.get("subtotal")),
    "totalTaxSet": money_bag(lambda ref: ref.raw.get("total_tax")),
}

TRANSACTION = {
    "id": gid("OrderTransaction"),
    "kind": scalar(lambda ref: str(ref.raw["kind"]).upper()),
    "status": scalar(lambda ref: str(ref.raw["status"]).upper()),
    "gateway": raw("gateway"),
    "createdAt": utc("created_at"),
    "processedAt": utc("processed_at"),
    "amountSet": money_bag(lambda ref: ref.raw.get("amount")),
}

REFUND = {
    "id": gid("Refund"),
    "legacyResourceId": legacy(),
    "note": raw("note"),
    "createdAt": utc("created_at"),
    "updatedAt": utc("created_at"),
    "totalRefundedSet": money_bag(refund_total),
    "refundLineItems": many(
        "connection", "RefundLineItem", lambda ref: ref.raw.get("refund_line_items")
    ),
    "transactions": many("connection", "OrderTransaction", lambda ref: ref.raw.get("transactions")),
}

ORDER = {
    "id": gid("Order"),
    "legacyResourceId": legacy(),
    "name": raw("name"),
    "email": raw("email"),
    "phone": raw("phone"),
    "note": raw("note"),
    "test": raw("test"),
    "createdAt": utc("created_at"),
    "updatedAt": utc("updated_at"),
    "processedAt": utc("processed_at"),
    "cancelledAt": utc("cancelled_at"),
    "closedAt": utc("closed_at"),
    "closed": scalar(lambda ref: bool(ref.raw.get("closed_at"))),
    "cancelReason": scalar(
        lambda ref: str(ref.raw["cancel_reason"]).upper() if ref.raw.get("cancel_reason") else None
    ),
    "currencyCode": raw("currency"),
    "presentmentCurrencyCode": scalar(
        lambda ref: ref.raw.get("presentment_currency") or ref.raw.get("currency")
    ),
    "taxesIncluded": scalar(lambda ref: bool(ref.raw.get("taxes_included"))),
    "displayFinancialStatus": scalar(financial_status),
    "displayFulfillmentStatus": scalar(fulfillment_status),
    "customer": obj("Customer", lambda ref: ref.raw.get("customer")),
    "billingAddress": obj("MailingAddress", lambda ref: ref.raw.get("billing_address")),
    "shippingAddress": obj("MailingAddress", lambda ref: ref.raw.get("shipping_address")),
    "lineItems": many("connection", "LineItem", lambda ref: ref.raw.get("line_items")),
    "shippingLines": many("connection", "ShippingLine", lambda ref: ref.raw.get("shipping_lines")),
    "totalPriceSet": money_bag(lambda ref: ref.raw.get("total_price")),
    "currentTotalPriceSet": money_bag(current_total("current_total_price", "total_price")),
    "subtotalPriceSet": money_bag(lambda ref: ref.raw.get("subtotal_price")),
    "currentSubtotalPriceSet": money_bag(current_total("current_subtotal_price", "subtotal_price")),
    "totalTaxSet": money_bag(lambda ref: ref.raw.get("total_tax")),
    "currentTotalTaxSet": money_bag(current_total("current_total_tax", "total_tax")),
    "totalDiscountsSet": money_bag(lambda ref: ref.raw.get("total_discounts")),
    "totalRefundedSet": money_bag(total_refunded),
    "refunds": many("list", "Refund", lambda ref: ref.raw.get("refunds")),
}

SHOP = {
    "name": raw("name"),
    "myshopifyDomain": raw("domain"),
    "currencyCode": raw("currency"),
    "ianaTimezone": raw("timezone"),
}

MONEY_BAG = {"shopMoney": obj("MoneyV2", money), "presentmentMoney": obj("MoneyV2", money)}
MONEY_V2 = {"amount": raw("amount"), "currencyCode": raw("currency")}

TYPES: dict[str, dict[str, Spec]] = {
    "Order": ORDER,
    "LineItem": LINE_ITEM,
    "ShippingLine": SHIPPING_LINE,
    "TaxLine": TAX_LINE,
    "DiscountAllocation": DISCOUNT_ALLOCATION,
    "Customer": CUSTOMER,
    "MailingAddress": MAILING_ADDRESS,
    "Refund": REFUND,
    "RefundLineItem": REFUND_LINE_ITEM,
    "OrderTransaction": TRANSACTION,
    "MoneyBag": MONEY_BAG,
    "MoneyV2": MONEY_V2,
    "Shop": SHOP,
}

ORDER_SORT_KEYS = {
    "ID": "id",
    "CREATED_AT": "created_at",
    "UPDATED_AT": "updated_at",
    "PROCESSED_AT": "processed_at",
}


def _float(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
