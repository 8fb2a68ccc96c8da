"""Item lines of sales orders and sales invoices, priced the way Exact does (unconfirmed details:
quantity defaults to 1, price and VAT come from the item, NetPrice = UnitPrice × (1 − Discount)
with Discount a fraction), and the document totals they add up to."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.exact import schema
from simulators.exact.context import Ctx, Problems, Row, blank_row, reference
from simulators.exact.errors import ApiError
from simulators.exact.schema import EntitySet
from simulators.exact.values import decimal, money, new_guid, number


def check_item_lines(values: Row, lines_name: str, problems: Problems) -> list[Row]:
    """The lines of a new document; a missing list or a line without Item is reported."""
    lines = values.get(lines_name) or []
    if not lines:
        problems.add("mandatory", lines_name)
    for line in lines:
        problems.need(line, "Item")
    return lines


def item_line(
    ctx: Ctx, line_set: EntitySet, values: Row, number_: int, parent: tuple[str, str]
) -> Row:
    """A complete line from what the client sent: defaults from the item, amounts computed."""
    item = reference(ctx, schema.ITEMS, values["Item"])
    row = {
        **blank_row(line_set),
        **values,
        "ID": new_guid(),
        "LineNumber": number_,
        parent[0]: parent[1],
        "Division": ctx.store.division,
    }
    row["ItemCode"], row["ItemDescription"] = item["Code"], item["Description"]
    row["Description"] = row["Description"] or item["Description"]
    row["UnitCode"] = row["UnitCode"] or item["Unit"]
    quantity = decimal(row["Quantity"], "1")
    unit_price = decimal(
        row["UnitPrice"] if row["UnitPrice"] is not None else item["StandardSalesPrice"]
    )
    discount = decimal(row["Discount"])
    if row["NetPrice"] is not None:
        net_price = decimal(row["NetPrice"])
        if row["Discount"] is None and unit_price:
            discount = 1 - net_price / unit_price
    else:
        net_price = unit_price * (1 - discount)
    vat = ctx.store.vat_code(row["VATCode"] or item["SalesVatCode"])
    if vat is None:
        raise ApiError(ctx.options.bad_reference_status, ("reference", "VATCodes"))
    amount = Decimal(str(money(net_price * quantity)))
    vat_amount = money(amount * decimal(vat["Percentage"]))
    row.update(
        {
            "Quantity": number(quantity),
            "UnitPrice": number(unit_price),
            "Discount": float(round(discount, 6)),
            "NetPrice": money(net_price),
            "AmountFC": money(amount),
            "AmountDC": money(amount),
            "VATCode": vat["Code"],
            "VATCodeDescription": vat["Description"],
            "VATPercentage": vat["Percentage"],
        }
    )
    row["VATAmount" if "VATAmount" in line_set.props else "VATAmountFC"] = vat_amount
    if "GLAccount" in line_set.props:
        gl = reference(ctx, schema.GL_ACCOUNTS, row["GLAccount"] or item["GLRevenue"])
        row.update(
            {
                "GLAccount": gl["ID"],
                "GLAccountCode": gl["Code"],
                "GLAccountDescription": gl["Description"],
                "VATAmountDC": vat_amount,
            }
        )
    return row


def totals(lines: list[Row]) -> dict[str, Any]:
    """Header amounts: AmountFC includes VAT, AmountFCExclVat does not (the currency is EUR)."""
    excl = sum((decimal(line["AmountFC"]) for line in lines), Decimal(0))
    vat = sum(
        (decimal(line.get("VATAmount", line.get("VATAmountFC"))) for line in lines), Decimal(0)
    )
    gross = sum(
        (decimal(line["UnitPrice"]) * decimal(line["Quantity"]) for line in lines), Decimal(0)
    )
    return {
        "AmountFCExclVat": money(excl),
        "AmountFC": money(excl + vat),
        "AmountDC": money(excl + vat),
        "AmountDiscount": money(gross - excl),
    }


def party_names(ctx: Ctx, row: Row, fields: tuple[str, ...]) -> None:
    """Fill `<Field>Name` for account references, checking that each exists."""
    for field in fields:
        if row.get(field) is not None:
            account = reference(ctx, schema.ACCOUNTS, row[field])
            if f"{field}Name" in row:
                row[f"{field}Name"] = account["Name"]
