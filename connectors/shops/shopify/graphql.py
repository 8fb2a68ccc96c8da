"""Reading orders and refunds through Shopify's GraphQL Admin API (the REST Admin API has been
legacy since October 2024).

Calls go through `ShopifyGraphQL.run`, which knows Shopify's rules for a well-behaved client:
- Calculated query cost: every answer reports `extensions.cost.throttleStatus`; before the next
  query we wait until the bucket holds what the last one asked for, and an answer with the
  `THROTTLED` error (status 200 or 429: the docs do not say which) is retried after the time the
  missing points take to restore at `restoreRate`.
- A 401 drops the cached token and asks for a new one, once per call.
- Any other GraphQL error is a PermanentError naming Shopify's message.

Orders are then turned into the REST-shaped dict `mapping.shopify_order` reads,
so webhooks and reconciliation share one mapper: gids become numbers, `*Set.shopMoney.amount`
becomes the plain amount string, enums lower case. Lines beyond the first page of an order are
fetched with follow-up queries for that order, so query cost stays under the 1000-point limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from connectors.base import TokenStore
from connectors.errors import PermanentError, RateLimited, check
from connectors.http import BearerAuth, digits
from connectors.shops.settings import ShopSettings
from connectors.shops.shopify.auth import shopify_tokens

ORDERS_PER_PAGE, LINES_PER_PAGE, SHIPPING_PER_PAGE, REFUNDS_MAX = 3, 20, 5, 20
PAGES_MAX, LINE_PAGES_MAX, THROTTLE_RETRIES = 2000, 50, 8
Sleep = Callable[[float], None]

MONEY = "shopMoney { amount currencyCode }"
TAX_LINES = f"taxLines {{ title rate priceSet {{ {MONEY} }} }}"
DISCOUNTS = f"discountAllocations {{ allocatedAmountSet {{ {MONEY} }} }}"
LINE_FIELDS = (
    f"id sku title variantTitle name quantity currentQuantity taxable "
    f"originalUnitPriceSet {{ {MONEY} }} {TAX_LINES} {DISCOUNTS}"
)
ADDRESS = (
    "name firstName lastName company address1 address2 city zip province provinceCode "
    "country countryCodeV2 phone"
)
ORDER_FIELDS = f"""
  id legacyResourceId name email phone test createdAt updatedAt processedAt cancelledAt
  closedAt currencyCode taxesIncluded displayFinancialStatus
  customer {{ legacyResourceId firstName lastName email phone }}
  billingAddress {{ {ADDRESS} }}
  shippingAddress {{ {ADDRESS} }}
  totalPriceSet {{ {MONEY} }} currentTotalPriceSet {{ {MONEY} }}
  totalTaxSet {{ {MONEY} }} currentTotalTaxSet {{ {MONEY} }}
  lineItems(first: {LINES_PER_PAGE}) {{
    pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_FIELDS} }} }}
  shippingLines(first: {SHIPPING_PER_PAGE}) {{ nodes {{
    id title code originalPriceSet {{ {MONEY} }} discountedPriceSet {{ {MONEY} }}
    currentDiscountedPriceSet {{ {MONEY} }} {TAX_LINES} {DISCOUNTS} }} }}
"""
ORDERS_QUERY = f"""query Orders(
  $query: String!, $sortKey: OrderSortKeys = UPDATED_AT, $after: String
) {{
  orders(first: {ORDERS_PER_PAGE}, after: $after, query: $query, sortKey: $sortKey) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {ORDER_FIELDS} }}
  }}
}}"""
MORE_LINES_QUERY = f"""query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{ lineItems(first: 50, after: $after) {{
    pageInfo {{ hasNextPage endCursor }} nodes {{ {LINE_FIELDS} }} }} }}
}}"""
REFUNDS_QUERY = f"""query OrderRefunds($id: ID!) {{
  order(id: $id) {{ legacyResourceId refunds(first: {REFUNDS_MAX}) {{
    id legacyResourceId createdAt note
    refundLineItems(first: 50) {{ nodes {{
      quantity restockType subtotalSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }}
      lineItem {{ {LINE_FIELDS} }} }} }}
    transactions(first: 10) {{ nodes {{
      id kind status gateway createdAt amountSet {{ {MONEY} }} }} }}
  }} }}
}}"""


class ShopifyGraphQL:
    """One shop's GraphQL endpoint with its token and its share of the cost bucket."""

    def __init__(
        self,
        shop: ShopSettings,
        client: httpx.Client,
        store: TokenStore | None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.tokens = shopify_tokens(shop, client, store)
        self.auth = BearerAuth(self.tokens, header="X-Shopify-Access-Token", prefix="")
        self.client, self.sleep = client, sleep
        assert shop.api_url
        self.url = f"{shop.api_url.rstrip('/')}/admin/api/{shop.api_version}/graphql.json"
        self.last_requested = 0.0
        self.status: dict[str, Any] | None = None
        self.status_at = 0.0

    def run(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The `data` of a query, after waiting out the throttle as Shopify asks."""
        for _ in range(THROTTLE_RETRIES + 1):
            self._wait_for_points(self.last_requested)
            body = self._post(query, variables)
            cost = (body.get("extensions") or {}).get("cost") or {}
            if cost.get("throttleStatus"):
                self.status, self.status_at = cost["throttleStatus"], time.monotonic()
            errors = body.get("errors") or []
            if any(_code(error) == "THROTTLED" for error in errors):
                self.last_requested = float(cost.get("requestedQueryCost") or 0)
                if not self._wait_for_points(self.last_requested):
                    self.sleep(1.0)  # no status to compute from: a second is 50-100 points
                continue
            if errors:
                raise PermanentError(
                    "Shopify GraphQL error: "
                    + "; ".join(
                        str(error.get("message")) for error in errors if isinstance(error, dict)
                    ),
                    erp_status=200,
                    erp_response=body,
                )
            self.last_requested = float(cost.get("requestedQueryCost") or 0)
            data = body.get("data")
            if not isinstance(data, dict):
                raise PermanentError("Shopify GraphQL answer without data", erp_response=body)
            return data
        raise RateLimited("Shopify kept throttling the GraphQL query", retry_after=10.0)

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        payload = {"query": query, "variables": variables}
        response = self.client.post(self.url, json=payload, auth=self.auth)
        if response.status_code == 429:
            try:
                return dict(response.json())  # a THROTTLED body, handled by the caller
            except ValueError:
                pass
        body = check(response).json()
        if not isinstance(body, dict):
            raise PermanentError("Shopify GraphQL answer is not an object", erp_response=body)
        return body

    def _wait_for_points(self, needed: float) -> bool:
        """Sleep until the bucket (as last reported, restoring since) holds `needed` points.
        False when there is no report to go by."""
        if self.status is None:
            return False
        size = float(self.status.get("maximumAvailable") or 0)
        rate = float(self.status.get("restoreRate") or 0)
        if rate <= 0:
            return False
        needed = min(needed, size) if size else needed
        now_available = (
            float(self.status.get("currentlyAvailable") or 0)
            + (time.monotonic() - self.status_at) * rate
        )
        if now_available < needed:
            self.sleep((needed - now_available) / rate)
            # what the bucket holds now; counting from here, not from the stale report, keeps
            # one wait from being waited twice
            self.status = {**self.status, "currentlyAvailable": needed}
            self.status_at = time.monotonic()
        return True


def orders_since(
    shop: ShopSettings,
    since: datetime,
    client: httpx.Client,
    store: TokenStore | None = None,
    sleep: Sleep = time.sleep,
) -> Iterator[dict[str, Any]]:
    """Every order updated at or after `since`, oldest change first, as REST-shaped dicts.
    `>=` rather than `>`: two changes may share a second, and a repeat is harmless."""
    api = ShopifyGraphQL(shop, client, store, sleep)
    search = f"updated_at:>='{search_time(since)}'"
    after: str | None = None
    for _ in range(PAGES_MAX):
        orders, after = orders_page(api, search, "UPDATED_AT", after)
        yield from orders
        if after is None:
            return


def orders_page(
    api: ShopifyGraphQL, search: str, sort_key: str, after: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the orders matching Shopify's search syntax `search`, in `sort_key` order
    (`UPDATED_AT`, `CREATED_AT`), after the cursor `after`: the orders as REST-shaped dicts,
    and the cursor to ask for the next page with (None: this was the last)."""
    variables = {"query": search, "sortKey": sort_key, "after": after}
    page = api.run(ORDERS_QUERY, variables)["orders"]
    orders = [rest_order(node, _more_lines(api, node)) for node in page["nodes"]]
    info = page["pageInfo"]
    return orders, (info["endCursor"] if info["hasNextPage"] else None)


def search_time(moment: datetime) -> str:
    """A time as Shopify's search syntax takes it (UTC, whole seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def order_refunds(
    shop: ShopSettings,
    order_id: str | int,
    client: httpx.Client,
    store: TokenStore | None = None,
    sleep: Sleep = time.sleep,
) -> list[dict[str, Any]]:
    """An order's refunds in the REST shape of the `refunds/create` webhook."""
    api = ShopifyGraphQL(shop, client, store, sleep)
    data = api.run(REFUNDS_QUERY, {"id": f"gid://shopify/Order/{digits(order_id)}"})
    order = data.get("order")
    if order is None:
        raise PermanentError(f"Shopify has no order {order_id}")
    return [
        rest_refund(refund, int(order["legacyResourceId"])) for refund in order.get("refunds") or []
    ]


def _more_lines(api: ShopifyGraphQL, node: dict[str, Any]) -> list[dict[str, Any]]:
    lines = node["lineItems"]
    found = list(lines["nodes"])
    info = lines["pageInfo"]
    for _ in range(LINE_PAGES_MAX):
        if not info["hasNextPage"]:
            break
        more = api.run(MORE_LINES_QUERY, {"id": node["id"], "after": info["endCursor"]})
        found.extend(more["order"]["lineItems"]["nodes"])
        info = more["order"]["lineItems"]["pageInfo"]
    return found


# --- GraphQL shapes to the REST shapes our mapper reads -----------------------------------------


def rest_order(node: dict[str, Any], lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A GraphQL `Order` node as the REST order dict `shopify_order()` accepts."""
    status = node.get("displayFinancialStatus")
    order: dict[str, Any] = {
        "id": number_of(node.get("legacyResourceId") or node["id"]),
        "admin_graphql_api_id": node["id"],
        "name": node.get("name"),
        "email": node.get("email"),
        "phone": node.get("phone"),
        "test": node.get("test", False),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "closed_at": node.get("closedAt"),
        "currency": node.get("currencyCode"),
        "taxes_included": node.get("taxesIncluded"),
        "financial_status": status.lower() if isinstance(status, str) else None,
        "customer": rest_customer(node.get("customer")),
        "billing_address": rest_address(node.get("billingAddress")),
        "shipping_address": rest_address(node.get("shippingAddress")),
        "line_items": [
            rest_line(line)
            for line in (lines if lines is not None else _nodes(node.get("lineItems")))
        ],
        "shipping_lines": [rest_shipping(line) for line in _nodes(node.get("shippingLines"))],
    }
    for rest_key, set_key in (
        ("total_price", "totalPriceSet"),
        ("current_total_price", "currentTotalPriceSet"),
        ("total_tax", "totalTaxSet"),
        ("current_total_tax", "currentTotalTaxSet"),
    ):
        if node.get(set_key) is not None:
            order[rest_key] = amount(node[set_key])
    return order


def rest_line(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": number_of(node["id"]),
        "admin_graphql_api_id": node["id"],
        "sku": node.get("sku"),
        "title": node.get("title"),
        "variant_title": node.get("variantTitle"),
        "name": node.get("name"),
        "quantity": node.get("quantity"),
        "current_quantity": node.get("currentQuantity"),
        "taxable": node.get("taxable", True),
        "price": amount(node.get("originalUnitPriceSet")),
        "tax_lines": [rest_tax(tax) for tax in node.get("taxLines") or []],
        "discount_allocations": [
            {"amount": amount(d.get("allocatedAmountSet"))}
            for d in node.get("discountAllocations") or []
        ],
    }


def rest_shipping(node: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {
        "id": number_of(node["id"]),
        "title": node.get("title"),
        "code": node.get("code"),
        "price": amount(node.get("originalPriceSet")),
        "discounted_price": amount(node.get("discountedPriceSet") or node.get("originalPriceSet")),
        "tax_lines": [rest_tax(tax) for tax in node.get("taxLines") or []],
        "discount_allocations": [
            {"amount": amount(d.get("allocatedAmountSet"))}
            for d in node.get("discountAllocations") or []
        ],
    }
    current = node.get("currentDiscountedPriceSet")
    if current is not None:
        line["current_discounted_price_set"] = rest_money_set(current)
    return line


def rest_tax(node: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": node.get("title"),
        "rate": node.get("rate"),
        "price": amount(node.get("priceSet")),
    }


def rest_customer(node: dict[str, Any] | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {
        "id": number_of(node.get("legacyResourceId") or node.get("id")),
        "first_name": node.get("firstName"),
        "last_name": node.get("lastName"),
        "email": node.get("email"),
        "phone": node.get("phone"),
    }


def rest_address(node: dict[str, Any] | None) -> dict[str, Any] | None:
    if node is None:
        return None
    keys = {
        "name": "name",
        "first_name": "firstName",
        "last_name": "lastName",
        "company": "company",
        "address1": "address1",
        "address2": "address2",
        "city": "city",
        "zip": "zip",
        "province": "province",
        "province_code": "provinceCode",
        "country": "country",
        "country_code": "countryCodeV2",
        "phone": "phone",
    }
    return {rest: node.get(graph) for rest, graph in keys.items()}


def rest_refund(node: dict[str, Any], order_id: int) -> dict[str, Any]:
    """A GraphQL `Refund` as the REST refund (the `refunds/create` webhook body)."""
    items = []
    for item in _nodes(node.get("refundLineItems")):
        line = rest_line(item["lineItem"])
        restock = item.get("restockType")
        items.append(
            {
                "line_item_id": line["id"],
                "quantity": item.get("quantity"),
                "restock_type": restock.lower() if isinstance(restock, str) else None,
                "subtotal": float(amount(item.get("subtotalSet"))),
                "subtotal_set": rest_money_set(item.get("subtotalSet")),
                "total_tax": float(amount(item.get("totalTaxSet"))),
                "total_tax_set": rest_money_set(item.get("totalTaxSet")),
                "line_item": line,
            }
        )
    transactions = [
        {
            "id": number_of(t["id"]),
            "order_id": order_id,
            "kind": str(t.get("kind") or "").lower(),
            "status": str(t.get("status") or "").lower(),
            "gateway": t.get("gateway"),
            "created_at": t.get("createdAt"),
            "amount": amount(t.get("amountSet")),
            "currency": ((t.get("amountSet") or {}).get("shopMoney") or {}).get("currencyCode"),
        }
        for t in _nodes(node.get("transactions"))
    ]
    return {
        "id": number_of(node.get("legacyResourceId") or node["id"]),
        "admin_graphql_api_id": node["id"],
        "order_id": order_id,
        "created_at": node.get("createdAt"),
        "note": node.get("note"),
        "refund_line_items": items,
        "transactions": transactions,
    }


def rest_money_set(bag: dict[str, Any] | None) -> dict[str, Any]:
    money = (bag or {}).get("shopMoney") or {}
    return {"shop_money": {"amount": amount(bag), "currency_code": money.get("currencyCode")}}


def amount(bag: dict[str, Any] | None) -> str:
    """`shopMoney.amount` of a MoneyBag as REST writes money: a string with two decimals."""
    raw = ((bag or {}).get("shopMoney") or {}).get("amount")
    try:
        return f"{Decimal(str(raw)):.2f}" if raw is not None else "0.00"
    except InvalidOperation:
        return str(raw)


def number_of(gid: Any) -> int:
    """`gid://shopify/Order/5900000000001` (or a legacy id string) as the number."""
    text = str(gid).rsplit("/", 1)[-1].split("?", 1)[0]
    if not text.isdigit():
        raise PermanentError(f"Shopify id {gid!r} is not a global id with a number")
    return int(text)


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, dict):
        return []
    if isinstance(connection.get("nodes"), list):
        return [n for n in connection["nodes"] if isinstance(n, dict)]
    return [
        e["node"]
        for e in connection.get("edges") or []
        if isinstance(e, dict) and isinstance(e.get("node"), dict)
    ]


def _code(error: Any) -> str | None:
    return ((error.get("extensions") or {}).get("code")) if isinstance(error, dict) else None
