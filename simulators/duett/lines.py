"""Order lines as Duett builds them: article lines take their defaults from the article, text
lines carry a name only, sum lines subtotal the article lines above them, and serial lines name
one serial number per unit. Amounts follow `pricing`; the order's totals are the sums of its
article lines (a sum line only repeats what it sums).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulators.duett.context import Ctx
from simulators.duett.fields import choice, convert, pick, required
from simulators.duett.pricing import NOT_ON_ORDERS, TAX_RATES, ZERO, Amounts, line_amounts
from simulators.duett.problems import invalid

LINE_TYPES = ("normal", "amount", "serial", "text", "sum")
LINE_TYPE_OF_ARTICLE = {
    "normal": "normal",
    "amount": "amount",
    "serial": "serial",
    "hour": "normal",
}
SCHEMA = {
    "id": "int",
    "lineType": "str",
    "articleId": "int",
    "countAgreed": "num",
    "countDimension": "num",
    "discountValue": "num",
    "salesPrice": "num",
    "name": "str",
    "unit": "str",
    "taxSaleId": "str",
    "serialNumbers": "list",
    "masterLineId": "int",
}


def build_lines(
    ctx: Ctx, raw: Any, discount_type: str, previous: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], Amounts]:
    """The order's lines with their amounts, and the order's totals; 400 naming the line field
    at fault otherwise. Lines that keep the `id` of a line of `previous` keep that id."""
    lines = convert("lines", raw, "list")
    if not lines:
        raise invalid("lines", "An order needs at least one line.")
    known_ids = {line["id"] for line in previous}
    built: list[dict[str, Any]] = []
    total, subtotal = Amounts(), Amounts()
    for index, item in enumerate(lines):
        field = f"lines[{index}]"
        fields = pick(convert(field, item, "dict"), SCHEMA, f"{field}.")
        kind = choice(f"{field}.lineType", fields.get("lineType"), LINE_TYPES)
        if kind == "text":
            line = _plain(fields, "text", required(fields, "name", f"{field}."), Amounts())
        elif kind == "sum":
            line, subtotal = _plain(fields, "sum", fields.get("name") or "Sum", subtotal), Amounts()
        else:
            line, amounts = _article_line(ctx, fields, kind, discount_type, f"{field}.")
            total, subtotal = total + amounts, subtotal + amounts
        line_id = fields.get("id")
        line["id"] = line_id if line_id in known_ids else ctx.store.new_id("line")
        built.append(line)
    return built, total


def _plain(fields: dict[str, Any], kind: str, name: str, amounts: Amounts) -> dict[str, Any]:
    return {
        "id": None,
        "lineType": kind,
        "articleId": None,
        "key": None,
        "name": name,
        "unit": None,
        "countAgreed": None,
        "countDimension": None,
        "salesPrice": None,
        "discountValue": None,
        "taxSaleId": None,
        "serialNumbers": None,
        "masterLineId": fields.get("masterLineId"),
        **amounts.wire(),
        "netCoverage": None,
        "unitCostPrice": None,
    }


def _article_line(
    ctx: Ctx, fields: dict[str, Any], kind: str | None, discount_type: str, prefix: str
) -> tuple[dict[str, Any], Amounts]:
    article_id = required(fields, "articleId", prefix)
    article = ctx.store.articles.get(article_id)
    if article is None:
        raise invalid(f"{prefix}articleId", f"Article with id {article_id} does not exist.")
    own_type = LINE_TYPE_OF_ARTICLE[article["articleType"]]
    if kind is not None and kind != own_type:
        raise invalid(
            f"{prefix}lineType",
            f"lineType '{kind}' does not match the article's "
            f"type; article {article['articleNumber']} makes "
            f"'{own_type}' lines.",
        )
    count: Decimal = required(fields, "countAgreed", prefix)
    given_dimension: Decimal | None = fields.get("countDimension")
    dimension = Decimal(1) if given_dimension is None else given_dimension
    given_price: Decimal | None = fields.get("salesPrice")
    price = Decimal(str(article["salesPrice"])) if given_price is None else given_price
    discount: Decimal = fields.get("discountValue") or ZERO
    _check_discount(discount, discount_type, prefix)
    tax = _tax_code(fields.get("taxSaleId") or article["taxSaleId"], prefix)
    serials = (
        _serial_numbers(fields.get("serialNumbers"), count, prefix)
        if own_type == "serial"
        else None
    )
    amounts = line_amounts(
        price,
        count,
        dimension,
        discount_type,
        discount,
        TAX_RATES[tax],
        ctx.options.price_mode,
        ctx.options.amount_discount_cap,
    )
    line = {
        "id": None,
        "lineType": own_type,
        "articleId": article_id,
        "key": article["articleNumber"],
        "name": fields.get("name") or article["name"],
        "unit": fields.get("unit") or article["unit"],
        "countAgreed": _number(count),
        "countDimension": _number(dimension),
        "salesPrice": float(price),
        "discountValue": _number(discount),
        "taxSaleId": tax,
        "serialNumbers": serials,
        "masterLineId": fields.get("masterLineId"),
        **amounts.wire(),
        "netCoverage": float(amounts.net),
        "unitCostPrice": 0.0,
    }
    return line, amounts


def _check_discount(value: Decimal, discount_type: str, prefix: str) -> None:
    if value < 0 or (discount_type == "percent" and value > 100):
        limit = "0-100 (percent)" if discount_type == "percent" else "0 or more (amount)"
        raise invalid(f"{prefix}discountValue", f"discountValue must be {limit}.")


def _tax_code(raw: Any, prefix: str) -> str:
    code = choice(f"{prefix}taxSaleId", raw, tuple(TAX_RATES))
    if code is None or code in NOT_ON_ORDERS:
        raise invalid(f"{prefix}taxSaleId", f"taxSaleId '{code}' can not be used on orders.")
    return code


def _serial_numbers(raw: Any, count: Decimal, prefix: str) -> list[dict[str, str]]:
    """Exactly one `{"serialNo": ...}` per unit of a serial line."""
    entries = convert(f"{prefix}serialNumbers", raw, "list") or []
    serials = [e.get("serialNo") for e in entries if isinstance(e, dict)]
    units = abs(count)
    if (
        units != units.to_integral_value()
        or len(serials) != len(entries)
        or not all(isinstance(s, str) and s.strip() for s in serials)
        or len(serials) != units
    ):
        raise invalid(
            f"{prefix}serialNumbers",
            f"A serial line needs exactly one serialNumbers entry "
            f'({{"serialNo": ...}}) per unit: countAgreed is {_number(count)}, '
            f"{len(entries)} given.",
        )
    return [{"serialNo": str(s)} for s in serials]


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
