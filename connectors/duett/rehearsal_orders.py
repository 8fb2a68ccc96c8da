"""An order create as Duett would answer it in a dry run: its checks on the body (an existing
customer, at least one line, lines of existing articles whose line type is the article's, one
serial number per unit of a serial line, a VAT code Duett takes on orders) and its arithmetic
(`amounts`, in the company's price mode), so the connector reads back the amounts Duett would
compute and compares them with the shop's as it does after a real create.

Only what the connector sends is modelled: `discountType` percent (an amount discount is taken
per unit, capped at the price, as erp/duett.md infers), no sum lines of its own making.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from connectors.duett.amounts import PriceMode, cents, duett_line
from connectors.duett.refusals import choice, invalid, required

# Duett's taxSaleId codes and their output VAT rates, in the order its docs list them
# (erp/duett.md, "VAT codes"); the last two are for articles only, never on orders.
TAX_RATES: dict[str, Decimal] = {
    "vat": Decimal("0.25"),
    "food": Decimal("0.15"),
    "low": Decimal("0.12"),
    "noVat": Decimal(0),
    "abroad": Decimal(0),
    "noVat_Abroad": Decimal(0),
    "noVat_Reverse": Decimal(0),
    "vat_Reverse": Decimal(0),
    "nondeductable_Reverse": Decimal(0),
    "nodeductable_Reverse": Decimal(0),
    "vat_Abroad": Decimal(0),
    "food_Abroad": Decimal(0),
}
NOT_ON_ORDERS = ("vat_Abroad", "food_Abroad")
LINE_TYPES = ("normal", "amount", "serial", "text", "sum")
LINE_TYPE_OF_ARTICLE = {
    "normal": "normal",
    "amount": "amount",
    "serial": "serial",
    "hour": "normal",
}
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
INVOICED_STATUS = "invoiceSent"


class Entities(Protocol):
    """The customers and articles an order may name: the ERP's (read) and the dry run's own."""

    def customer(self, customer_id: int) -> dict[str, Any] | None: ...

    def article(self, article_id: int) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Totals:
    calc: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    net: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.calc + other.calc,
            self.discount + other.discount,
            self.net + other.net,
            self.vat + other.vat,
            self.gross + other.gross,
        )

    def wire(self) -> dict[str, float]:
        """The read-only amount fields of a line, as Duett's JSON numbers."""
        return {
            "calcAmount": float(cents(self.calc)),
            "discountAmount": float(cents(self.discount)),
            "netAmount": float(cents(self.net)),
            "vatAmount": float(cents(self.vat)),
            "grossAmount": float(cents(self.gross)),
        }


def order_answer(
    body: dict[str, Any], entities: Entities, mode: PriceMode, new_id: Callable[[], int]
) -> tuple[dict[str, Any], Totals]:
    """The order Duett would create of `body` (with made-up ids), and its totals; `Refused`
    with Duett's reason otherwise."""
    for name in REQUIRED:
        required(body, name)
    customer_id = _integer("customerId", body["customerId"])
    customer = entities.customer(customer_id)
    if customer is None:
        raise invalid("customerId", f"Customer with id {customer_id} does not exist.")
    terms = customer.get("paymentInfo") or {}
    discount_type = (
        choice("discountType", body.get("discountType"), ("percent", "amount"))
        or terms.get("discountType")
        or "percent"
    )
    lines, totals = _lines(body, entities, discount_type, mode, new_id)
    pay_days = body.get("payDays")
    if pay_days is None:
        pay_days = terms.get("payDays")
    days = DEFAULT_PAY_DAYS if pay_days is None else _integer("payDays", pay_days)
    order_date = str(body["orderDate"])
    config = body.get("config") or {}
    direct = isinstance(config, dict) and config.get("directInvoicing") is True
    order = {
        "id": new_id(),
        "number": new_id(),  # numbered per invoice year by Duett; made up here
        "invoiceYear": _integer("invoiceYear", body["invoiceYear"]),
        "customerId": customer_id,
        "orderCategory": body["orderCategory"],
        "orderType": body.get("orderType") or "normal",
        "status": INVOICED_STATUS if direct else body["status"],
        "orderDate": order_date,
        "deliveryDate": body.get("deliveryDate"),
        "dueDate": body.get("dueDate")
        or f"{date.fromisoformat(order_date[:10]) + timedelta(days=days)}T00:00:00",
        "payDays": days,
        "payType": body["payType"],
        "discountType": discount_type,
        "ourReference": body["ourReference"],
        "yourReference": body.get("yourReference"),
        "orderReference": body.get("orderReference"),
        "internalReference": body.get("internalReference"),
        "invoiceNote": body.get("invoiceNote"),
        "deliveryAddress": body.get("deliveryAddress"),
        "invoiceAddress": body.get("invoiceAddress"),
        "currencyCodeReference": body.get("currencyCodeReference") or "NOK",
        "currencyConversionRate": float(body.get("currencyConversionRate") or 1),
        "invoiceNumber": new_id() if direct else None,
        "invoiceDate": datetime.now(UTC).strftime("%Y-%m-%dT00:00:00") if direct else None,
        "netAmount": float(cents(totals.net)),
        "vatAmount": float(cents(totals.vat)),
        "grossAmount": float(cents(totals.gross)),
        "lines": lines,
        "show": True,
        "rowVersion": new_id(),
    }
    if direct:  # Duett attaches the invoice PDF; a dry run has none to give
        order["attachment"] = {"filename": None, "description": None, "type": "PDF", "value": None}
    return order, totals


def _lines(
    body: dict[str, Any],
    entities: Entities,
    discount_type: str,
    mode: PriceMode,
    new_id: Callable[[], int],
) -> tuple[list[dict[str, Any]], Totals]:
    raw = body["lines"] if body.get("lines") is not None else body.get("orderLines")
    if not isinstance(raw, list) or not raw:
        raise invalid("lines", "An order needs at least one line.")
    built: list[dict[str, Any]] = []
    total, subtotal = Totals(), Totals()
    for index, item in enumerate(raw):
        prefix = f"lines[{index}]."
        if not isinstance(item, dict):
            raise invalid(
                f"lines[{index}]",
                f"The JSON value could not be converted to System.Object. Path: $.lines[{index}]",
            )
        kind = choice(f"{prefix}lineType", item.get("lineType"), LINE_TYPES)
        if kind in ("text", "sum"):
            name = required(item, "name", prefix) if kind == "text" else item.get("name") or "Sum"
            amounts = Totals() if kind == "text" else subtotal
            subtotal = subtotal if kind == "text" else Totals()
            built.append({**_plain_line(kind, str(name), item), **amounts.wire(), "id": new_id()})
            continue
        line, amounts = _article_line(item, kind, entities, discount_type, mode, prefix)
        total, subtotal = total + amounts, subtotal + amounts
        built.append({**line, "id": new_id()})
    return built, total


def _article_line(
    item: dict[str, Any],
    kind: str | None,
    entities: Entities,
    discount_type: str,
    mode: PriceMode,
    prefix: str,
) -> tuple[dict[str, Any], Totals]:
    article_id = _integer(f"{prefix}articleId", required(item, "articleId", prefix))
    article = entities.article(article_id)
    if article is None:
        raise invalid(f"{prefix}articleId", f"Article with id {article_id} does not exist.")
    own_type = LINE_TYPE_OF_ARTICLE.get(str(article.get("articleType")), "normal")
    if kind is not None and kind != own_type:
        raise invalid(
            f"{prefix}lineType",
            f"lineType '{kind}' does not match the article's type; article "
            f"{article.get('articleNumber')} makes '{own_type}' lines.",
        )
    count = _decimal(f"{prefix}countAgreed", required(item, "countAgreed", prefix))
    dimension = _decimal(f"{prefix}countDimension", item.get("countDimension") or 1)
    given = item.get("salesPrice")
    price = _decimal(f"{prefix}salesPrice", article.get("salesPrice") if given is None else given)
    discount = _decimal(f"{prefix}discountValue", item.get("discountValue") or 0)
    if discount < 0 or (discount_type == "percent" and discount > 100):
        limit = "0-100 (percent)" if discount_type == "percent" else "0 or more (amount)"
        raise invalid(f"{prefix}discountValue", f"discountValue must be {limit}.")
    tax = choice(
        f"{prefix}taxSaleId", item.get("taxSaleId") or article.get("taxSaleId"), tuple(TAX_RATES)
    )
    if tax is None or tax in NOT_ON_ORDERS:
        raise invalid(f"{prefix}taxSaleId", f"taxSaleId '{tax}' can not be used on orders.")
    serials = (
        _serial_numbers(item.get("serialNumbers"), count, prefix) if own_type == "serial" else None
    )
    amounts = _amounts(price, count, dimension, discount_type, discount, TAX_RATES[tax], mode)
    line = {
        "lineType": own_type,
        "articleId": article_id,
        "key": article.get("articleNumber"),
        "name": item.get("name") or article.get("name"),
        "unit": item.get("unit") or article.get("unit"),
        "countAgreed": _number(count),
        "countDimension": _number(dimension),
        "salesPrice": float(price),
        "discountValue": _number(discount),
        "taxSaleId": tax,
        "serialNumbers": serials,
        "masterLineId": item.get("masterLineId"),
        **amounts.wire(),
        "netCoverage": float(cents(amounts.net)),
        "unitCostPrice": 0.0,
    }
    return line, amounts


def _amounts(
    price: Decimal,
    count: Decimal,
    dimension: Decimal,
    discount_type: str,
    value: Decimal,
    rate: Decimal,
    mode: PriceMode,
) -> Totals:
    """Duett's line arithmetic (`amounts.duett_line`). An amount discount per unit, capped at
    the price, is the same as a percent-free line at the price less that amount."""
    base = price * count * dimension
    if discount_type == "percent":
        line = duett_line(price, count, rate, mode, value, dimension)
        discount = base * value / 100
    else:
        per_unit = min(value, price)
        line = duett_line(price - per_unit, count, rate, mode, Decimal(0), dimension)
        discount = per_unit * count * dimension
    return Totals(line.calc, cents(discount), line.net, line.vat, line.gross)


def _plain_line(kind: str, name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {
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
        "masterLineId": item.get("masterLineId"),
        "netCoverage": None,
        "unitCostPrice": None,
    }


def _serial_numbers(raw: Any, count: Decimal, prefix: str) -> list[dict[str, str]]:
    """Exactly one `{"serialNo": ...}` per unit of a serial line."""
    entries = raw if isinstance(raw, list) else []
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


def _decimal(field: str, value: Any) -> Decimal:
    """A number as Duett's binder reads it (quoted numbers too)."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if isinstance(value, bool) or not number.is_finite():
        raise invalid(
            field, f"The JSON value could not be converted to System.Decimal. Path: $.{field}"
        )
    return number


def _integer(field: str, value: Any) -> int:
    number = _decimal(field, value)
    if number != number.to_integral_value():
        raise invalid(
            field, f"The JSON value could not be converted to System.Int32. Path: $.{field}"
        )
    return int(number)


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)
