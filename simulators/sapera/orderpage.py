"""`POST /api/financial/SalesOrder/GetSalesOrdersPage`: finding sales orders again.

Filters (each `{"value": ...}`, bare accepted): `createdAt` and `updatedAt` `{from, to}` (ISO
date-times, both ends inclusive, either may be null), `numericIdentifier` `{from, to}` on the
order number, `salesOrderStates` `[codes]`. `salesOrderDispatchStates` is accepted and ignored
(the simulator has no dispatch). Whether the customer reference can be filtered on is unknown:
only with the `customer_reference_filterable` option (exact match); otherwise the filter is a
Validation error, and a connector must page by date and match client-side. Items come with the
SalesOrderItems flag (1) of `propertiesToLoad`.
"""

from __future__ import annotations

from typing import Any

from simulators.sapera.context import Ctx, Route
from simulators.sapera.envelope import validation
from simulators.sapera.fields import Body
from simulators.sapera.filters import Row, Test, date_tests, number_test
from simulators.sapera.paging import SALES_ORDER_ITEMS, page, properties

ENTRY = (
    "id",
    "number",
    "state",
    "stateCode",
    "actorId",
    "createdAt",
    "updatedAt",
    "isModifiableWhenReady",
    "invoiceIds",
    "total",
)


def get_page(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body
    tests = [*date_tests(body), *number_test(body), *_state_test(body), *_reference_test(ctx)]
    body.array("salesOrderDispatchStates", wrapped=True)
    rows = [order for order in ctx.store.orders.values() if all(t(order) for t in tests)]
    with_items = bool(properties(body) & SALES_ORDER_ITEMS)
    field = ctx.options.customer_reference_field
    return page(body, rows, lambda order: entry(order, field, with_items))


def entry(order: Row, reference_field: str, with_items: bool) -> Row:
    """A page entry; the reference goes under the field name the API uses for it."""
    found = {name: order[name] for name in ENTRY}
    found[reference_field] = order["customerReference"]
    if with_items:
        found["items"] = [dict(item) for item in order["items"]]
    return found


def _state_test(body: Body) -> list[Test]:
    states = body.array("salesOrderStates", wrapped=True)
    if any(isinstance(s, bool) or not isinstance(s, int) for s in states):
        raise validation("salesOrderStates must be a list of state codes (integers).")
    return [lambda order: order["stateCode"] in states] if states else []


def _reference_test(ctx: Ctx) -> list[Test]:
    field = ctx.options.customer_reference_field
    reference = ctx.body.text(field, wrapped=True)
    if reference is None:
        return []
    if not ctx.options.customer_reference_filterable:
        raise validation(f"'{field}' is not a filter of GetSalesOrdersPage.")
    return [lambda order: order["customerReference"] == reference]


def routes() -> list[Route]:
    return [
        Route("api/financial/SalesOrder/GetSalesOrdersPage", get_page, "PageResult<SalesOrder>")
    ]
