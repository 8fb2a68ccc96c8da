"""`/Products`: products carry no VAT field; their standard sales account decides the VAT of
every order line that uses them, which is why the account is resolved and checked here."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.poweroffice.context import Ctx, Route
from simulators.poweroffice.fields import (
    apply_patch,
    check_types,
    read_object,
    read_patch,
    writable,
)
from simulators.poweroffice.listing import after, list_response
from simulators.poweroffice.problems import (
    cast_error,
    conflict,
    json_response,
    not_found,
    validation,
)
from simulators.poweroffice.store import (
    DEFAULT_SALES_ACCOUNT,
    SALES_ACCOUNTS,
    SalesAccount,
    sales_account_by_id,
)

ENTITY = "Product"
PRODUCT_TYPES = ("Product", "Service")
SCHEMA = {
    "Code": "str",
    "Name": "str",
    "Description": "str",
    "UnitPrice": "num",
    "UnitCost": "num",
    "UnitOfMeasureCode": "str",
    "ProductType": "str",
    "ProductGroupId": "int",
    "StandardSalesAccountId": "int",
    "StandardSalesAccount": "int",
    "OptionalSalesAccountId": "int",
    "IsArchived": "bool",
    "Gtin": "str",
    "IsStockItem": "bool",
    "StockOnHand": "num",
}


def sales_account(product: dict[str, Any]) -> SalesAccount:
    return SALES_ACCOUNTS[product["StandardSalesAccount"] or DEFAULT_SALES_ACCOUNT]


async def create(ctx: Ctx) -> Response:
    body = await read_object(ctx.request, ENTITY)
    check_types(ENTITY, body, SCHEMA)
    now = ctx.store.clock.stamp()
    product: dict[str, Any] = {
        "Id": ctx.store.new_id(),
        **dict.fromkeys(SCHEMA),
        "ProductType": "Product",
        "IsArchived": False,
        **writable(body, SCHEMA),
        "CreatedDateTimeOffset": now,
        "LastChangedDateTimeOffset": now,
    }
    _complete(ctx, product, previous=None)
    ctx.store.products[product["Id"]] = product
    return json_response(product, ctx.options.product_create_status)


async def list_all(ctx: Ctx) -> Response:
    q = ctx.query
    codes, names, archived = q.strings("codes"), q.strings("names"), q.boolean("isArchived")
    kind = q.get("type")
    changed = q.timestamp("lastChangedDateTimeOffsetGreaterThan")
    created = q.timestamp("createdDateTimeOffsetGreaterThan")
    table = ctx.store.products
    rows = (
        table.values()
        if codes is None
        else sorted(
            {p["Id"]: p for code in codes for p in table.find("Code", code)}.values(),
            key=lambda p: p["Id"],
        )
    )
    items = [
        p
        for p in rows
        if (names is None or p["Name"] in names)
        and (archived is None or p["IsArchived"] == archived)
        and (kind is None or (p["ProductType"] or "").lower() == kind.lower())
        and after(p["LastChangedDateTimeOffset"], changed)
        and after(p["CreatedDateTimeOffset"], created)
    ]
    return list_response(ctx.request.url, q, items)


async def get(ctx: Ctx) -> Response:
    return json_response(_find(ctx))


async def patch(ctx: Ctx) -> Response:
    product = _find(ctx)
    patched = apply_patch(ENTITY, product, await read_patch(ctx.request, ENTITY), SCHEMA)
    _complete(ctx, patched, previous=product)
    patched["LastChangedDateTimeOffset"] = ctx.store.clock.stamp()
    ctx.store.products[product["Id"]] = patched
    return json_response(patched)


async def delete(ctx: Ctx) -> Response:
    product = _find(ctx)
    if ctx.store.product_in_use(product["Id"]):
        raise conflict(f"Product with id = {product['Id']} is in use and can not be deleted.")
    del ctx.store.products[product["Id"]]
    return Response(status_code=200)


def _find(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.params["id"]
    if not raw.isdigit():
        raise cast_error(f"The value '{raw}' is not a valid Id.")
    product = ctx.store.products.get(int(raw))
    if product is None:
        raise not_found(f"Product with id = {raw} not found.")
    return product


def _complete(ctx: Ctx, product: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Validate a new or patched product in place and resolve its sales account."""
    name, code = product["Name"], product["Code"]
    if not (name or "").strip():
        raise validation(ENTITY, "Name is required.")
    if len(name) > 400:
        raise validation(ENTITY, "Name can not be longer than 400 characters.")
    if code is not None and len(code) > 100:
        raise validation(ENTITY, "Code can not be longer than 100 characters.")
    if product["ProductType"] not in PRODUCT_TYPES:
        raise validation(ENTITY, f"ProductType '{product['ProductType']}' is not valid.")
    same_code = ctx.store.products.find("Code", code) if code is not None else []
    owner = next((p for p in same_code if p["Id"] != product["Id"]), None)
    if owner is not None and ctx.options.product_code_unique:
        raise validation(
            ENTITY, f"Code is already in use. '{code}' is used on (product) Id = {owner['Id']}."
        )
    account = _account(product, previous)
    product["StandardSalesAccountId"] = account.id
    product["StandardSalesAccount"] = account.account_no


def _account(product: dict[str, Any], previous: dict[str, Any] | None) -> SalesAccount:
    """The Id wins over the account number, unless only the number changed in a patch."""
    account_id, account_no = product["StandardSalesAccountId"], product["StandardSalesAccount"]
    if (
        previous is not None
        and account_no != previous["StandardSalesAccount"]
        and account_id == previous["StandardSalesAccountId"]
    ):
        account_id = None
    if account_id is not None:
        found = sales_account_by_id(account_id)
        if found is None:
            raise validation(ENTITY, f"General ledger account with id = {account_id} not found.")
        return found
    if account_no is not None and account_no not in SALES_ACCOUNTS:
        raise validation(ENTITY, f"General ledger account {account_no} is not a sales account.")
    return SALES_ACCOUNTS[account_no or DEFAULT_SALES_ACCOUNT]


ROUTES: list[Route] = [
    ("GET", "/Products", list_all),
    ("POST", "/Products", create),
    ("GET", "/Products/{id}", get),
    ("PATCH", "/Products/{id}", patch),
    ("DELETE", "/Products/{id}", delete),
]
