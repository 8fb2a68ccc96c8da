"""`logistics/Items`: Code and Description are mandatory and the Code is unique, but unlike an
account code it is not padded. An item's revenue account and VAT code price the lines that use
it; they default to G/L account 8000 and VAT code "2  " (21%)."""

from __future__ import annotations

from simulators.exact import schema
from simulators.exact.context import Ctx, Problems, Row, Writer, blank_row, reference, stamp
from simulators.exact.errors import ApiError
from simulators.exact.store import GL_ACCOUNT_8000_ID
from simulators.exact.values import new_guid

DEFAULT_VAT_CODE = "2  "
_LINE_SETS = (schema.SALES_ORDERS, schema.SALES_INVOICES)


def create_item(ctx: Ctx, values: Row) -> Row:
    row = {
        **blank_row(schema.ITEMS),
        "IsSalesItem": True,
        "IsStockItem": False,
        "IsPurchaseItem": False,
        "IsSerialItem": False,
        "IsBatchItem": False,
        "IsWebshopItem": 0,
        "Unit": "pc",
        "StandardSalesPrice": 0,
        "CostPriceStandard": 0,
        "CostPriceCurrency": "EUR",
        "GLRevenue": GL_ACCOUNT_8000_ID,
        "SalesVatCode": DEFAULT_VAT_CODE,
        "Stock": 0,
        **values,
        "ID": new_guid(),
    }
    _check_item(ctx, row)
    return stamp(ctx, row, created=True)


def update_item(ctx: Ctx, row: Row, values: Row) -> Row:
    updated = {**row, **values}
    _check_item(ctx, updated)
    return stamp(ctx, updated, created=False)


def delete_item(ctx: Ctx, row: Row) -> None:
    for entity_set in _LINE_SETS:
        lines = entity_set.lines or ""
        if any(
            line["Item"] == row["ID"] for doc in ctx.store.rows(entity_set) for line in doc[lines]
        ):
            raise ApiError(400, ("in_use",))


def _check_item(ctx: Ctx, row: Row) -> None:
    problems = Problems()
    problems.need(row, "Code", "Description")
    problems.raise_any()
    if any(
        other["Code"] == row["Code"] and other["ID"] != row["ID"]
        for other in ctx.store.rows(schema.ITEMS)
    ):
        raise ApiError(400, ("duplicate_code", row["Code"]))
    revenue = reference(ctx, schema.GL_ACCOUNTS, row["GLRevenue"] or GL_ACCOUNT_8000_ID)
    row["GLRevenue"], row["GLRevenueCode"] = revenue["ID"], revenue["Code"]
    vat = ctx.store.vat_code(row["SalesVatCode"] or DEFAULT_VAT_CODE)
    if vat is None:
        raise ApiError(ctx.options.bad_reference_status, ("reference", "VATCodes"))
    row["SalesVatCode"], row["SalesVatCodeDescription"] = vat["Code"], vat["Description"]


WRITERS = {schema.ITEMS.path: Writer(create_item, update_item, delete_item)}
