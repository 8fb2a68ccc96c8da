"""`salesorder/SalesOrders`: an order is created whole, header and `SalesOrderLines` in one POST.

OrderedBy is mandatory and there is no order without lines, each naming an existing Item. The
server assigns OrderNumber (unless the client gives an unused one) and the open status 12. YourRef
is not unique: Exact accepts the same reference twice, so de-duplication is the client's job.
"""

from __future__ import annotations

from simulators.exact import schema
from simulators.exact.context import Ctx, Problems, Row, Writer, blank_row, reference, stamp
from simulators.exact.errors import ApiError
from simulators.exact.lines import check_item_lines, item_line, party_names, totals
from simulators.exact.values import new_guid, now_date

OPEN = 12
_PARTIES = ("OrderedBy", "DeliverTo", "InvoiceTo")


def create_order(ctx: Ctx, values: Row) -> Row:
    problems = Problems()
    problems.need(values, "OrderedBy")
    lines = check_item_lines(values, "SalesOrderLines", problems)
    problems.raise_any()
    order_id = new_guid()
    row = {
        **blank_row(schema.SALES_ORDERS),
        "Currency": "EUR",
        "WarehouseID": ctx.store.warehouse_id,
        "OrderDate": now_date(),
        **values,
        "OrderID": order_id,
        "Status": OPEN,
        "StatusDescription": "Open",
        "DeliveryStatus": OPEN,
        "DeliveryStatusDescription": "Open",
        "InvoiceStatus": OPEN,
        "InvoiceStatusDescription": "Open",
        "ApprovalStatus": 1,
        "ApprovalStatusDescription": "Approved",
    }
    row["DeliverTo"] = row["DeliverTo"] or row["OrderedBy"]
    row["InvoiceTo"] = row["InvoiceTo"] or row["OrderedBy"]
    _check_header(ctx, row)
    row["OrderNumber"] = _order_number(ctx, row["OrderNumber"])
    row["SalesOrderLines"] = [
        item_line(ctx, schema.SALES_ORDER_LINES, line, index, ("OrderID", order_id))
        for index, line in enumerate(lines, start=1)
    ]
    for line in row["SalesOrderLines"]:
        line["OrderNumber"] = row["OrderNumber"]
    row.update(totals(row["SalesOrderLines"]))
    return stamp(ctx, row, created=True)


def update_order(ctx: Ctx, row: Row, values: Row) -> Row:
    """Header fields only: lines are changed through SalesOrderLines, and ignored here."""
    if row["Status"] == 21:
        raise ApiError(400, ("invalid_value", "Status"))
    updated = {**row, **values}
    _check_header(ctx, updated)
    if updated["OrderNumber"] != row["OrderNumber"]:
        updated["OrderNumber"] = _order_number(ctx, updated["OrderNumber"])
    return stamp(ctx, updated, created=False)


def delete_order(ctx: Ctx, row: Row) -> None:
    return None


def _check_header(ctx: Ctx, row: Row) -> None:
    party_names(ctx, row, _PARTIES)
    warehouse = reference(ctx, schema.WAREHOUSES, row["WarehouseID"] or ctx.store.warehouse_id)
    row["WarehouseID"], row["WarehouseCode"] = warehouse["ID"], warehouse["Code"]


def _order_number(ctx: Ctx, wanted: int | None) -> int:
    used = {order["OrderNumber"] for order in ctx.store.rows(schema.SALES_ORDERS)}
    if wanted is not None:
        if wanted in used:
            raise ApiError(400, ("duplicate_code", str(wanted)))
        return wanted
    number = ctx.store.next_number("salesorder")
    while number in used:
        number = ctx.store.next_number("salesorder")
    return number


WRITERS = {schema.SALES_ORDERS.path: Writer(create_order, update_order, delete_order)}
