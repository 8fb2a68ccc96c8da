"""`/SalesOrders`: invoice drafts created complete with their lines, the heart of a transfer.

The rules enforced here are the ones a connector gets wrong: the customer and products by Id or
code (Id wins), quantity required on product lines, price from the product, VAT from the
product's sales account (never from the line), allowance as a percentage, and the order's
ExternalImportReference as the dedupe key across drafts and the invoices they became.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import uuid4

from starlette.responses import Response

from simulators.poweroffice.context import Ctx, Route
from simulators.poweroffice.fields import (
    apply_patch,
    check_types,
    read_object,
    read_patch,
    writable,
)
from simulators.poweroffice.listing import after, in_ranges, list_response, parse_uuid
from simulators.poweroffice.options import SALES_ORDER_STATUSES
from simulators.poweroffice.problems import (
    ApiError,
    cast_error,
    json_response,
    not_found,
    validation,
)
from simulators.poweroffice.products import sales_account
from simulators.poweroffice.store import (
    DEFAULT_SALES_ACCOUNT,
    SALES_ACCOUNTS,
    cents,
    decimal,
    money,
)

ENTITY = "SalesOrder"
LINE_TYPES = ("Normal", "Text", "Summary", "InvoiceFee", "TotalHours")
POSTING_LINE_TYPES = ("Normal", "InvoiceFee")
HEADER_SCHEMA = {
    "CustomerId": "int",
    "CustomerNo": "int",
    "SalesOrderStatus": "str",
    "ExternalImportReference": "str",
    "ImportedOrderNo": "int",
    "SalesOrderDate": "date",
    "DeliveryDate": "date",
    "CustomerReference": "str",
    "PurchaseOrderReference": "str",
    "CurrencyCode": "str",
    "CurrencyExchangeRate": "num",
    "PaymentTermId": "int",
    "DeliveryTermId": "int",
    "ContactDeliveryAddressId": "int",
    "CustomMatchingReference": "str",
    "DepartmentId": "int",
    "ProjectId": "int",
    "ContractNo": "str",
    "BrandingThemeId": "int",
    "SalesPersonEmployeeId": "int",
    "RelatedInvoiceNo": "int",
}
PATCH_SCHEMA = {k: v for k, v in HEADER_SCHEMA.items() if k != "CustomerNo"}  # patches take Ids
LINE_SCHEMA = {
    "LineType": "str",
    "ProductId": "int",
    "ProductCode": "str",
    "Description": "str",
    "Quantity": "num",
    "ProductUnitPrice": "num",
    "ProductUnitCost": "num",
    "Allowance": "num",
    "SortOrder": "int",
    "UnitOfMeasureCode": "str",
    "ExternalImportReference": "str",
    "UseStandardSalesAccount": "bool",
    "DepartmentId": "int",
    "ProjectId": "int",
}


async def create(ctx: Ctx) -> Response:
    body = await read_object(ctx.request, ENTITY)
    check_types(ENTITY, body, {**HEADER_SCHEMA, "SalesOrderLines": "list"})
    fields = {k: v for k, v in writable(body, HEADER_SCHEMA).items() if v is not None}
    order_id = str(uuid4())
    customer = _customer(ctx, fields.get("CustomerId"), fields.get("CustomerNo"))
    fields.setdefault("SalesOrderStatus", ctx.options.default_order_status)
    _check_header(ctx, fields, order_id)
    raw_lines = next((v for k, v in body.items() if k.lower() == "salesorderlines"), None) or []
    lines = [_line(ctx, raw, index, order_id) for index, raw in enumerate(raw_lines)]
    _check_line_refs(lines)
    now = ctx.store.clock.stamp()
    order: dict[str, Any] = {
        "Id": order_id,
        "SalesOrderNo": None,
        **dict.fromkeys(HEADER_SCHEMA),
        "CurrencyCode": customer["CurrencyCode"] or "NOK",
        "SalesOrderDate": ctx.store.clock.today().isoformat(),
        **fields,
        "CustomerId": customer["Id"],
        "CustomerNo": customer["Number"],
        "IsCreatedByCurrentIntegration": True,
        "CreatedDateTimeOffset": now,
        "LastChangedDateTimeOffset": now,
        "SalesOrderLines": sorted(lines, key=lambda line: line["SortOrder"]),
    }
    _add_totals(order)
    _check_related_invoice(ctx, order)
    order["SalesOrderNo"] = ctx.store.new_order_no()  # only once valid: no gaps in numbers
    ctx.store.orders[order_id] = order
    return json_response(order, 201)


async def list_all(ctx: Ctx) -> Response:
    q = ctx.query
    numbers, status = q.ranges("customerNos"), q.get("orderStatus")
    if status is not None and status.lower() not in [s.lower() for s in SALES_ORDER_STATUSES]:
        raise cast_error(f"The value '{status}' is not valid for orderStatus.")
    changed, mine = (
        q.timestamp("lastChangedDateTimeOffsetGreaterThan"),
        q.boolean("onlyCreatedByCurrentIntegration"),
    )
    items = [
        header(o)
        for o in ctx.store.orders.values()
        if (numbers is None or in_ranges(o["CustomerNo"], numbers))
        and (status is None or o["SalesOrderStatus"].lower() == status.lower())
        and after(o["LastChangedDateTimeOffset"], changed)
        and (not mine or o["IsCreatedByCurrentIntegration"])
    ]
    return list_response(ctx.request.url, q, items)


async def get(ctx: Ctx) -> Response:
    return json_response(header(find(ctx)))


async def get_complete(ctx: Ctx) -> Response:
    return json_response(find(ctx))


async def get_lines(ctx: Ctx) -> Response:
    return list_response(ctx.request.url, ctx.query, find(ctx)["SalesOrderLines"])


async def patch(ctx: Ctx) -> Response:
    order = find(ctx)
    _check_not_sending(ctx, order)
    patched = order
    for op in await read_patch(ctx.request, ENTITY):
        is_status = str(op.get("path", "")).strip("/").lower() == "salesorderstatus"
        if patched["SalesOrderStatus"] == "Confirmed" and not is_status:
            raise validation(
                ENTITY,
                "The sales order is confirmed and can not be edited. "
                "Set SalesOrderStatus to Draft first.",
            )
        patched = apply_patch(ENTITY, patched, [op], PATCH_SCHEMA)
    if patched["CustomerId"] != order["CustomerId"]:
        patched["CustomerNo"] = _customer(ctx, patched["CustomerId"], None)["Number"]
    _check_header(ctx, patched, order["Id"])
    _check_related_invoice(ctx, patched)
    patched["LastChangedDateTimeOffset"] = ctx.store.clock.stamp()
    ctx.store.orders[order["Id"]] = patched
    return json_response(header(patched))


async def delete(ctx: Ctx) -> Response:
    order = find(ctx)
    _check_not_sending(ctx, order)
    if order["SalesOrderStatus"] == "Confirmed":
        raise validation(
            ENTITY,
            "The sales order is confirmed and can not be deleted. "
            "Set SalesOrderStatus to Draft first.",
        )
    del ctx.store.orders[order["Id"]]
    ctx.store.sends.pop(order["Id"], None)
    return Response(status_code=200)


def header(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k != "SalesOrderLines"}


def find(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.params["id"]
    try:
        order_id = parse_uuid(raw, "id")
    except ApiError:
        order_id = raw  # ASP.NET's guid route constraint answers 404 for a malformed id
    order = ctx.store.orders.get(order_id)
    if order is None:
        raise not_found(f"SalesOrder with id = {raw} not found.")
    return order


def _check_not_sending(ctx: Ctx, order: dict[str, Any]) -> None:
    send = ctx.store.sends.get(order["Id"])
    if send is not None and send.state == "processing":
        raise validation(
            ENTITY, f"The sales order with id = {order['Id']} is being sent and can not be changed."
        )


def _customer(ctx: Ctx, customer_id: int | None, customer_no: int | None) -> dict[str, Any]:
    """CustomerId wins over CustomerNo."""
    if customer_id is not None:
        found = ctx.store.customers.get(customer_id)
        if found is None:
            raise not_found(f"Customer with id = {customer_id} not found.")
        return found
    if customer_no is None:
        raise validation(ENTITY, "CustomerId or CustomerNo is required.")
    found = next(iter(ctx.store.customers.find("Number", customer_no)), None)
    if found is None:
        raise not_found(f"Customer with number = {customer_no} not found.")
    return found


def _check_header(ctx: Ctx, fields: dict[str, Any], order_id: str) -> None:
    if fields.get("SalesOrderStatus") not in SALES_ORDER_STATUSES:
        raise validation(
            ENTITY,
            f"SalesOrderStatus '{fields.get('SalesOrderStatus')}' is not "
            f"valid; use {' or '.join(SALES_ORDER_STATUSES)}.",
        )
    ref = fields.get("ExternalImportReference")
    owner = ctx.store.ref_owner(ref) if ref is not None and ctx.options.order_ref_unique else None
    if owner is not None and owner != order_id:
        raise validation(
            ENTITY,
            f"ExternalImportReference is already in use. '{ref}' is used "
            f"on (sales order) Id = {owner}.",
        )


def _check_related_invoice(ctx: Ctx, order: dict[str, Any]) -> None:
    """RelatedInvoiceNo "can only be set for sales orders that are credit note drafts" (a
    negative total); that it must name an existing invoice is unconfirmed (an option)."""
    number = order.get("RelatedInvoiceNo")
    if number is None:
        return
    if order["TotalAmount"] >= 0:
        raise validation(
            ENTITY,
            "RelatedInvoiceNo can only be set on credit note drafts (a "
            "sales order with a negative total).",
        )
    invoices = ctx.store.invoices.find("InvoiceNo", number)
    if ctx.options.related_invoice_checked and not any(
        i["VoucherType"] == "OutgoingInvoice" for i in invoices
    ):
        raise validation(
            ENTITY, f"RelatedInvoiceNo {number}: no outgoing invoice with that number."
        )


def _line(ctx: Ctx, raw: Any, index: int, order_id: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise validation(ENTITY, f"SalesOrderLines[{index}] must be a JSON object.")
    check_types(ENTITY, raw, LINE_SCHEMA)
    fields = writable(raw, LINE_SCHEMA)
    line_type = fields.get("LineType") or "Normal"
    if line_type not in LINE_TYPES:
        raise validation(ENTITY, f"LineType '{line_type}' is not valid (line {index}).")
    product = _product(ctx, fields)
    if line_type == "Normal" and product is None:
        raise validation(
            ENTITY, f"ProductId or ProductCode is required on Normal lines (line {index})."
        )
    if product is not None and fields.get("Quantity") is None:
        raise validation(ENTITY, f"Quantity is required on lines with a product (line {index}).")
    allowance = decimal(fields.get("Allowance"))
    if not Decimal(-1000) <= allowance <= Decimal(100):
        raise validation(ENTITY, f"Allowance must be between -1000 and 100 (line {index}).")
    product = product or {}
    line = {
        "Id": str(uuid4()),
        "SalesOrderId": order_id,
        **dict.fromkeys(LINE_SCHEMA),
        **fields,
        "LineType": line_type,
        "ProductId": product.get("Id"),
        "ProductCode": product.get("Code"),
        "Description": fields.get("Description") or product.get("Name"),
        "UnitOfMeasureCode": fields.get("UnitOfMeasureCode") or product.get("UnitOfMeasureCode"),
        "ProductUnitCost": _first(fields.get("ProductUnitCost"), product.get("UnitCost")),
        "SortOrder": _first(fields.get("SortOrder"), index),
        "Allowance": float(allowance),
    }
    _add_amounts(line, product, posting=line_type in POSTING_LINE_TYPES)
    return line


def _product(ctx: Ctx, fields: dict[str, Any]) -> dict[str, Any] | None:
    """ProductId wins over ProductCode; an unknown product is a validation error."""
    product_id, code = fields.get("ProductId"), fields.get("ProductCode")
    if product_id is not None:
        found = ctx.store.products.get(product_id)
        if found is None:
            raise validation(ENTITY, f"Product with id = {product_id} not found.")
        return found
    if code is None:
        return None
    found = next(iter(ctx.store.products.find("Code", code)), None)
    if found is None:
        raise validation(ENTITY, f"Product with code '{code}' not found.")
    return found


def _add_amounts(line: dict[str, Any], product: dict[str, Any], posting: bool) -> None:
    """net = quantity × price × (1 − allowance/100); VAT from the product's sales account."""
    if not posting:
        line.update(NetAmount=0.0, VatAmount=0.0, TotalAmount=0.0, VatCode=None, VatRate=None)
        return
    account = sales_account(product) if product else SALES_ACCOUNTS[DEFAULT_SALES_ACCOUNT]
    price = decimal(_first(line["ProductUnitPrice"], product.get("UnitPrice")))
    quantity = decimal(_first(line["Quantity"], 1))
    net = cents(quantity * price * (1 - decimal(line["Allowance"]) / 100))
    vat = cents(net * account.vat_rate)
    line.update(
        Quantity=float(quantity),
        ProductUnitPrice=float(price),
        NetAmount=money(net),
        VatAmount=money(vat),
        TotalAmount=money(net + vat),
        VatCode=account.vat_code,
        VatRate=float(account.vat_rate),
    )


def _add_totals(order: dict[str, Any]) -> None:
    lines = order["SalesOrderLines"]
    order["NetAmount"] = money(sum((decimal(line["NetAmount"]) for line in lines), Decimal(0)))
    order["TotalAmount"] = money(sum((decimal(line["TotalAmount"]) for line in lines), Decimal(0)))
    order["LineCount"] = len(lines)


def _check_line_refs(lines: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for line in lines:
        ref = line["ExternalImportReference"]
        if ref is not None and ref in seen:
            raise validation(
                ENTITY,
                f"ExternalImportReference '{ref}' is used on more than one "
                "line of the sales order.",
            )
        if ref is not None:
            seen.add(ref)


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


ROUTES: list[Route] = [
    ("GET", "/SalesOrders", list_all),
    ("POST", "/SalesOrders/Complete", create),
    ("GET", "/SalesOrders/{id}", get),
    ("PATCH", "/SalesOrders/{id}", patch),
    ("DELETE", "/SalesOrders/{id}", delete),
    ("GET", "/SalesOrders/{id}/Complete", get_complete),
    ("GET", "/SalesOrders/{id}/Lines", get_lines),
]
