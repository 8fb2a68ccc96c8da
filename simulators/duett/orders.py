"""`Order/v2`: orders (and offers) with their lines, the heart of a transfer into Duett.

What a connector must get right is enforced: the required header fields and their enums, an
existing customer, at least one line of existing articles, `saved` or `orderReadyToSend` on
create (offers only `saved`), and numbering per invoice year. POST is not idempotent - the same
body twice makes two orders - and invoiced orders can no longer be changed.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from starlette.responses import Response

from simulators.duett.context import Ctx, Route
from simulators.duett.credit import check_credit_lines, credit_link
from simulators.duett.customers import DISCOUNT_TYPES, SEND_OPTIONS
from simulators.duett.fields import choice, convert, pick, read_object, read_patch, required
from simulators.duett.invoicing import invoice
from simulators.duett.lines import build_lines
from simulators.duett.listing import list_response
from simulators.duett.patch import patch_entity
from simulators.duett.pricing import Amounts, money
from simulators.duett.problems import bad_request, invalid, json_response, not_found
from simulators.duett.register import style_sheet

CATEGORIES = ("order", "offer")
PAY_TYPES = ("cash", "invoice", "autoPay", "payCard", "creditCard", "currency")
ORDER_TYPES = ("normal", "credit", "project", "hour", "offer")
READ_ONLY_TYPES = ("project", "hour")
OPEN_STATUSES = ("saved", "orderReadyToSend")  # the ones a client may set
STATUSES = (
    *OPEN_STATUSES,
    "orderPrepared",
    "invoiceSent",
    "invoicePaymentProposal",
    "invoiceBooked",
    "invoicePreBooked",
    "delivered",
    "toRequest",
)
REQUIRED = (
    "customerId",
    "invoiceYear",
    "orderCategory",
    "orderDate",
    "ourReference",
    "payType",
    "status",
)
DEFAULT_PAY_DAYS = 10
SCHEMA = {
    "customerId": "int",
    "invoiceYear": "int",
    "orderCategory": "str",
    "orderDate": "date",
    "ourReference": "str",
    "payType": "str",
    "status": "str",
    "orderType": "str",
    "discountType": "str",
    "deliveryDate": "date",
    "dueDate": "date",
    "payDays": "int",
    "deliveryAddress": "str",
    "invoiceAddress": "str",
    "invoiceNote": "str",
    "orderReference": "str",
    "internalReference": "str",
    "yourReference": "str",
    "currencyCodeReference": "str",
    "currencyConversionRate": "num",
    "lines": "list",
    "orderLines": "list",
    "config": "dict",
}
CONFIG_SCHEMA = {"directInvoicing": "bool", "styleSheetId": "int", "sendMethod": "str"}
READ_ONLY = (
    "id",
    "number",
    "invoiceNumber",
    "invoiceDate",
    "netAmount",
    "vatAmount",
    "grossAmount",
    "rowVersion",
)
FILTERABLE = {
    "id": "int",
    "number": "int",
    "invoiceYear": "int",
    "customerId": "int",
    "orderCategory": "str",
    "orderType": "str",
    "status": "str",
    "orderDate": "date",
    "ourReference": "str",
    "yourReference": "str",
    "orderReference": "str",
    "internalReference": "str",
    "invoiceNumber": "int",
    "invoiceDate": "date",
    "show": "bool",
    "rowVersion": "int",
}


async def create(ctx: Ctx) -> Response:
    raw = await read_object(ctx.request)
    body = pick(raw, SCHEMA)
    header = _header(ctx, body, None)
    direct = _direct_invoicing(body.get("config"), header)
    lines, totals = build_lines(ctx, _raw_lines(body), header["discountType"], [])
    order = _order(header, lines, totals)
    if header["orderType"] == "credit":
        check_credit_lines(lines, ctx.options.credit_line_sign)
        order.update(credit_link(ctx, raw, header["customerId"]))
    order["id"] = ctx.store.new_id("order")
    order["number"] = ctx.store.order_number(header["invoiceYear"])
    order["rowVersion"] = ctx.store.row_version()
    attachment = (
        invoice(ctx.store, order, ctx.store.customers[header["customerId"]], ctx.options)
        if direct
        else None
    )
    ctx.store.orders[order["id"]] = order
    return json_response({**order, "attachment": attachment} if direct else order, 201)


async def list_all(ctx: Ctx) -> Response:
    refused = () if ctx.options.order_reference_filterable else ("orderReference",)
    return list_response(ctx, ctx.store.orders.values(), FILTERABLE, unfilterable=refused)


async def get(ctx: Ctx) -> Response:
    return json_response(_find(ctx))


async def put(ctx: Ctx) -> Response:
    """The whole model; `lines` sent as null keep the order's lines. `config` is create-only."""
    order = _open(_find(ctx))
    body = pick(await read_object(ctx.request), SCHEMA)
    raw = _raw_lines(body)
    _update(ctx, order, body, order["lines"] if raw is None else raw)
    return Response(status_code=204)


async def patch(ctx: Ctx) -> Response:
    """JSON Patch over the order as GET shows it, e.g. `replace /status` to orderReadyToSend."""
    order = _open(_find(ctx))
    patched = patch_entity(order, await read_patch(ctx.request), READ_ONLY)
    body = pick(patched, SCHEMA)
    _update(ctx, order, body, _raw_lines(body))
    return Response(status_code=204)


def _update(ctx: Ctx, order: dict[str, Any], body: dict[str, Any], raw_lines: Any) -> None:
    header = _header(ctx, body, order)
    lines, totals = build_lines(ctx, raw_lines, header["discountType"], order["lines"])
    if header["orderType"] == "credit":
        check_credit_lines(lines, ctx.options.credit_line_sign)
    updated = _order(header, lines, totals)
    kept = ("id", "number", "invoiceNumber", "invoiceDate", "show", ctx.options.credit_link_field)
    updated.update({key: order[key] for key in kept if key in order})
    updated["rowVersion"] = ctx.store.row_version()
    ctx.store.orders[order["id"]] = updated


def _find(ctx: Ctx) -> dict[str, Any]:
    order = ctx.store.orders.get(ctx.entity_id("Order"))
    if order is None:
        raise not_found(f"Order with id {ctx.params['id']} was not found.")
    return order


def _open(order: dict[str, Any]) -> dict[str, Any]:
    if order["status"] not in OPEN_STATUSES:
        raise bad_request(
            f"Order {order['number']}/{order['invoiceYear']} has status "
            f"{order['status']} and can not be changed."
        )
    return order


def _raw_lines(body: dict[str, Any]) -> Any:
    return body["lines"] if body.get("lines") is not None else body.get("orderLines")


def _order(header: dict[str, Any], lines: list[dict[str, Any]], totals: Amounts) -> dict[str, Any]:
    return {
        "id": None,
        "number": None,
        **header,
        "invoiceNumber": None,
        "invoiceDate": None,
        "netAmount": money(totals.net),
        "vatAmount": money(totals.vat),
        "grossAmount": money(totals.gross),
        "lines": lines,
        "show": True,
        "rowVersion": None,
    }


def _header(ctx: Ctx, body: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """The validated header of a new order (previous None) or of a change to `previous`."""
    for name in REQUIRED:
        required(body, name)
    customer = ctx.store.customers.get(body["customerId"])
    if customer is None:
        raise invalid("customerId", f"Customer with id {body['customerId']} does not exist.")
    year = body["invoiceYear"]
    if not 2000 <= year <= 2099 or (previous is not None and year != previous["invoiceYear"]):
        raise invalid(
            "invoiceYear",
            f"invoiceYear {year} is not valid" + (" (it can not be changed)." if previous else "."),
        )
    category = choice("orderCategory", body["orderCategory"], CATEGORIES)
    status = choice("status", body["status"], STATUSES)
    if status not in OPEN_STATUSES:
        raise invalid(
            "status", f"status must be {' or '.join(OPEN_STATUSES)}; {status} is set by Duett."
        )
    if category == "offer" and status != "saved":
        raise invalid("status", "An offer can only have the status saved.")
    order_type = choice("orderType", body.get("orderType"), ORDER_TYPES) or (
        "offer" if category == "offer" else "normal"
    )
    if order_type in READ_ONLY_TYPES and (previous is None or previous["orderType"] != order_type):
        raise invalid("orderType", f"orderType {order_type} is read-only.")
    terms = customer["paymentInfo"] or {}
    pay_days = body.get("payDays")
    if pay_days is None:
        pay_days = DEFAULT_PAY_DAYS if terms.get("payDays") is None else terms["payDays"]
    if pay_days < 0:
        raise invalid("payDays", "payDays can not be negative.")
    rate = body.get("currencyConversionRate")
    if rate is not None and rate <= 0:
        raise invalid("currencyConversionRate", "currencyConversionRate must be above 0.")
    order_date = body["orderDate"]
    due = body.get("dueDate") or (
        f"{date.fromisoformat(order_date[:10]) + timedelta(days=pay_days)}T00:00:00"
    )
    return {
        "invoiceYear": year,
        "customerId": customer["id"],
        "orderCategory": category,
        "orderType": order_type,
        "status": status,
        "orderDate": order_date,
        "deliveryDate": body.get("deliveryDate"),
        "dueDate": due,
        "payDays": pay_days,
        "payType": choice("payType", body["payType"], PAY_TYPES),
        "discountType": choice("discountType", body.get("discountType"), DISCOUNT_TYPES)
        or terms.get("discountType")
        or "percent",
        "ourReference": body["ourReference"],
        "yourReference": body.get("yourReference"),
        "orderReference": body.get("orderReference"),
        "internalReference": body.get("internalReference"),
        "invoiceNote": body.get("invoiceNote"),
        "deliveryAddress": body.get("deliveryAddress"),
        "invoiceAddress": body.get("invoiceAddress"),
        "currencyCodeReference": body.get("currencyCodeReference") or "NOK",
        "currencyConversionRate": float(rate if rate is not None else Decimal(1)),
    }


def _direct_invoicing(raw: Any, header: dict[str, Any]) -> bool:
    """Whether `config` asks to invoice at once; its style sheet and send method are checked."""
    config = pick(convert("config", raw, "dict") or {}, CONFIG_SCHEMA, "config.")
    choice("config.sendMethod", config.get("sendMethod"), SEND_OPTIONS)
    sheet_id = config.get("styleSheetId")
    sheet = style_sheet(sheet_id) if sheet_id is not None else None
    if sheet_id is not None and (sheet is None or sheet["stylesheetType"] != "invoice"):
        raise invalid("config.styleSheetId", f"No invoice style sheet with id {sheet_id}.")
    direct = config.get("directInvoicing") is True
    if direct and header["orderCategory"] == "offer":
        raise invalid("config.directInvoicing", "An offer can not be invoiced.")
    return direct


def routes(path: str) -> list[Route]:
    return [
        ("GET", path, list_all),
        ("POST", path, create),
        ("GET", f"{path}/{{id}}", get),
        ("PUT", f"{path}/{{id}}", put),
        ("PATCH", f"{path}/{{id}}", patch),
    ]
