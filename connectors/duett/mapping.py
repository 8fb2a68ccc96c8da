"""The canonical order in Duett's shapes: customers with Duett's address rules, articles, and the
order whose lines make Duett compute what the shop charged (see `amounts`). Plain functions,
testable without HTTP."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.base import ProductSpec
from connectors.duett.amounts import LinePlan, plan_line, shop_side
from connectors.duett.settings import DuettSettings
from connectors.errors import PermanentError
from schemas.order import Address, Customer, Order, ProductLine, ShippingLine, TextLine

NORWAY = "NO"
POSTCODE = re.compile(r"^\d{4}$")
# Duett wants the country's name for foreign customers (Norwegian names, as in its registers).
COUNTRY_NAMES = {
    "SE": "Sverige",
    "DK": "Danmark",
    "FI": "Finland",
    "IS": "Island",
    "DE": "Tyskland",
    "NL": "Nederland",
    "BE": "Belgia",
    "GB": "Storbritannia",
    "FR": "Frankrike",
    "ES": "Spania",
    "IT": "Italia",
    "PL": "Polen",
    "US": "USA",
    "AT": "Østerrike",
    "CH": "Sveits",
    "IE": "Irland",
    "EE": "Estland",
    "LV": "Latvia",
    "LT": "Litauen",
}


def tax_code(rate: Decimal, settings: DuettSettings, where: str) -> str:
    code = settings.tax_codes.get(str(rate.normalize()))
    if code is None:
        known = ", ".join(f"{r} → {c}" for r, c in settings.tax_codes.items())
        raise PermanentError(
            f"{where}: VAT rate {rate.normalize()} has no Duett tax code "
            f"(taxSaleId); known: {known} (settings.tax_codes)"
        )
    return code


def address_body(address: Address | None, where: str) -> dict[str, Any]:
    """Duett's address rules: a Norwegian postcode is required (Duett checks it against its
    register); abroad the postcode is null and the country is given by name."""
    if address is None:
        raise PermanentError(f"{where}: an address is required by Duett")
    country = (address.country or NORWAY).upper()
    body: dict[str, Any] = {"address1": address.line1, "address2": address.line2}
    if country == NORWAY:
        postcode = (address.postal_code or "").replace(" ", "")
        if not POSTCODE.match(postcode):
            raise PermanentError(
                f"{where}.postal_code: a Norwegian address needs a four-digit "
                f"postcode, got {address.postal_code!r}"
            )
        return {**body, "zipCodeKey": postcode, "isForeign": False, "country": None}
    name = COUNTRY_NAMES.get(country, country)
    return {**body, "zipCodeKey": None, "isForeign": True, "country": name, "city": address.city}


def customer_body(customer: Customer, key: str, settings: DuettSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "externalId": key,
        "name": customer.display_name,
        "invoiceEmail": customer.email,
        "address": address_body(customer.billing_address, "customer.billing_address"),
        "contactInfo": {
            "name": customer.name or customer.display_name,
            "email": customer.email,
            "mobile": customer.phone,
        },
    }
    if customer.kind == "company" and customer.org_number:
        body[settings.org_number_field] = org_number(customer.org_number)
    if settings.customer_number_series_id is not None:
        body["autoCustomerNumberFromSerieId"] = settings.customer_number_series_id
    return body


def org_number(raw: str) -> str:
    return re.sub(r"\D", "", raw)


def serial_skus(order: Order, settings: DuettSettings) -> set[str]:
    """The SKUs that are serial articles for this order: those the connection lists
    (`serial_skus`) and those whose lines carry serial numbers, so that no serial number the
    shop sent is left behind because a SKU was not listed."""
    carried = {line.sku for line in order.product_lines if line.serial_numbers}
    return carried | (set(settings.serial_skus) & {line.sku for line in order.product_lines})


def article_specs(order: Order, settings: DuettSettings) -> list[ProductSpec]:
    serial = serial_skus(order, settings)
    specs: dict[str, ProductSpec] = {}
    for line in order.lines:
        if isinstance(line, ProductLine):
            spec = ProductSpec(line.sku, line.name, line.vat_rate, serial=line.sku in serial)
            specs.setdefault(line.sku, spec)
        elif isinstance(line, ShippingLine):
            sku = settings.shipping_article
            specs.setdefault(sku, ProductSpec(sku, line.name, line.vat_rate))
    return list(specs.values())


def article_body(spec: ProductSpec, settings: DuettSettings) -> dict[str, Any]:
    serial = spec.serial or spec.sku in settings.serial_skus
    return {
        "articleNumber": spec.sku,
        "name": spec.name,
        "articleType": "serial" if serial else "normal",
        "taxSaleId": tax_code(spec.vat_rate, settings, f"article {spec.sku}"),
    }


def check_article_type(row: dict[str, Any], spec: ProductSpec) -> None:
    """Refuse an existing article whose type does not fit the order: serial numbers on a normal
    article would be lost (Duett takes them only on serial lines), and a serial article needs
    them. We never change an article's type: it is the company's bookkeeping, not ours."""
    kind = row.get("articleType")
    if kind is None or (kind == "serial") == spec.serial:
        return
    if spec.serial:
        raise PermanentError(
            f"article {spec.sku} exists in Duett as a {kind} article, but the order gives "
            f"serial numbers for it: Duett keeps serial numbers only on serial articles. Make "
            f"{spec.sku} a serial article in Duett (and list it in the connection's "
            f"serial_skus), or send the order without serial numbers"
        )
    raise PermanentError(
        f"article {spec.sku} is a serial article in Duett, but the order gives no serial "
        f"numbers for it: give one per unit (and list {spec.sku} in the connection's "
        f"serial_skus, so that such orders are refused at the door)"
    )


@dataclass(frozen=True)
class PlannedLine:
    """One of our lines as Duett will compute it, with the shop's amount beside it."""

    position: int  # index in the canonical order's lines
    label: str
    shop_amount: Decimal
    plan: LinePlan
    includes_vat: bool  # the shop's prices (and so its amounts) include VAT

    @property
    def duett_amount(self) -> Decimal:
        """Duett's amount in the shop's VAT mode."""
        return shop_side(self.plan.expected, self.includes_vat)


@dataclass(frozen=True)
class OrderPayload:
    body: dict[str, Any]
    planned: list[PlannedLine]


def order_payload(
    order: Order,
    reference: str,
    customer_id: str,
    article_ids: dict[str, str],
    settings: DuettSettings,
) -> OrderPayload:
    """The order create body, and the amounts Duett will compute for its article lines."""
    lines: list[dict[str, Any]] = []
    planned: list[PlannedLine] = []
    serial = serial_skus(order, settings)
    for index, line in enumerate(order.lines):
        where = f"lines.{index}"
        if isinstance(line, TextLine):
            lines.append({"lineType": "text", "name": line.text})
            continue
        if isinstance(line, ProductLine):
            sku, name, qty, price, disc = (
                line.sku,
                line.name,
                line.quantity,
                line.unit_price,
                line.discount,
            )
        else:
            sku, name, qty, price, disc = (
                settings.shipping_article,
                line.name,
                Decimal(1),
                line.amount,
                Decimal(0),
            )
        plan = plan_line(
            price, qty, disc, line.vat_rate, order.prices_include_vat, settings.price_mode
        )
        body: dict[str, Any] = {
            "lineType": "serial" if isinstance(line, ProductLine) and sku in serial else "normal",
            "articleId": int(article_ids[sku]),
            "name": name,
            "countAgreed": str(qty),
            "countDimension": "1",
            "salesPrice": str(plan.sales_price),
            "discountValue": str(plan.discount_percent.normalize()),
            "taxSaleId": tax_code(line.vat_rate, settings, where),
        }
        if isinstance(line, ProductLine) and line.serial_numbers:
            body["serialNumbers"] = [{"serialNo": s} for s in line.serial_numbers]
        lines.append(body)
        planned.append(
            PlannedLine(index, f"{where} ({sku})", line.amount, plan, order.prices_include_vat)
        )
    placed = order.placed_at or datetime.now(UTC)
    body = {
        "customerId": int(customer_id),
        "orderCategory": "order",
        "status": settings.order_status,
        "payType": settings.pay_type,
        "invoiceYear": placed.year,
        "orderDate": placed.strftime("%Y-%m-%dT00:00:00"),
        "ourReference": settings.our_reference,
        "orderReference": reference,
        "yourReference": order.number,
        "discountType": "percent",
        "currencyCodeReference": order.currency,
        "lines": lines,
    }
    if order.send_invoice:
        body["config"] = {
            "directInvoicing": True,
            "styleSheetId": settings.style_sheet_id,
            "sendMethod": settings.send_method,
        }
    return OrderPayload(body, planned)


def check_before_posting(order: Order, planned: list[PlannedLine], mode: str) -> None:
    """Refuse an order whose Duett amounts would differ from the shop's by more than 0.01."""
    for line in planned:
        if abs(line.duett_amount - line.shop_amount) > Decimal("0.01"):
            raise PermanentError(
                f"{line.label}: Duett would compute {line.duett_amount}, the shop charged "
                f"{line.shop_amount} (price mode {mode}; likely cause: rounding of a price "
                f"converted between net and gross)"
            )
    if order.total is not None:
        ours = sum((p.duett_amount for p in planned), Decimal(0))
        if abs(ours - order.total) > Decimal("0.01") * max(1, len(planned)):
            raise PermanentError(
                f"order total: Duett would compute {ours}, the shop's total "
                f"is {order.total} (price mode {mode})"
            )


def check_after_posting(
    answer: dict[str, Any], planned: list[PlannedLine], order_id: str, sign: int = 1
) -> None:
    """Compare what Duett computed with what we planned, line by line (`sign` -1: the lines
    were sent with negative counts, as credit notes may be)."""
    article_lines = [
        ln for ln in answer.get("lines") or [] if ln.get("lineType") not in ("text", "sum")
    ]
    for line, got in zip(planned, article_lines, strict=False):
        duett = sign * Decimal(
            str(got.get("grossAmount" if line.includes_vat else "netAmount", "0"))
        )
        if abs(duett - line.duett_amount) > Decimal("0.01"):
            raise PermanentError(
                f"{line.label}: Duett computed {duett}, the shop charged {line.shop_amount} "
                f"(Duett order {order_id} was created; check the company's price mode and "
                f"the discount cap, correct the order in Duett, then replay)"
            )
