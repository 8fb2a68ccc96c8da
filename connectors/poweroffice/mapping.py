"""Canonical order → PowerOffice Go wire shapes (PascalCase), as plain functions without I/O.

Go has no VAT code on order lines: VAT follows the product's sales account, so products are
created on the account for their VAT rate and shipping becomes an article per VAT rate. Unit
prices are sent without VAT (Go's prices are VAT-exclusive; unconfirmed, so we never send
VAT-inclusive prices); discounts become Go's `Allowance` percentage.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.base import CreditSource, ProductSpec
from connectors.errors import PermanentError
from connectors.poweroffice.settings import PowerOfficeSettings
from schemas.order import Address, Customer, Order, ProductLine, ShippingLine, TextLine

TWO = Decimal("0.01")
FOUR = Decimal("0.0001")


def money(value: Decimal, places: Decimal = TWO) -> float:
    return float(value.quantize(places, rounding=ROUND_HALF_UP))


def net_of_vat(amount: Decimal, vat_rate: Decimal, prices_include_vat: bool) -> Decimal:
    return amount / (1 + vat_rate) if prices_include_vat else amount


def rate_key(rate: Decimal) -> str:
    """0.250 → "0.25", 0 → "0": the keys of the vat_accounts table."""
    text = format(rate.normalize(), "f")
    return text


def sales_account(settings: PowerOfficeSettings, rate: Decimal) -> int:
    try:
        return settings.vat_accounts[rate_key(rate)]
    except KeyError:
        raise PermanentError(
            f"no sales account configured for VAT rate {rate_key(rate)} "
            f"(connection setting vat_accounts)"
        ) from None


def shipping_code(settings: PowerOfficeSettings, rate: Decimal) -> str:
    return f"{settings.shipping_product_code}-{int(rate * 100)}"


def product_specs(order: Order, settings: PowerOfficeSettings) -> list[ProductSpec]:
    specs: dict[str, ProductSpec] = {}
    for line in order.lines:
        if isinstance(line, ProductLine):
            specs.setdefault(line.sku, ProductSpec(line.sku, line.name, line.vat_rate))
        elif isinstance(line, ShippingLine):
            code = shipping_code(settings, line.vat_rate)
            specs.setdefault(code, ProductSpec(code, line.name, line.vat_rate))
    return list(specs.values())


def product_payload(spec: ProductSpec, settings: PowerOfficeSettings) -> dict[str, Any]:
    return {
        "Code": spec.sku,
        "Name": spec.name[:400],
        "StandardSalesAccount": sales_account(settings, spec.vat_rate),
    }


def check_vat_account(
    product: dict[str, Any], spec: ProductSpec, settings: PowerOfficeSettings
) -> None:
    """Refuse to sell an existing article whose sales account carries another VAT rate than the
    order line: Go would silently invoice the account's rate. An article without its own
    account (it inherits from its group) cannot be checked here and is accepted."""
    expected = sales_account(settings, spec.vat_rate)
    actual = product.get("StandardSalesAccount")
    if actual and int(actual) != expected:
        raise PermanentError(
            f"article {spec.sku} is on sales account {actual} in PowerOffice, but the order line "
            f"has VAT {rate_key(spec.vat_rate)} (account {expected}); fix the article or the "
            f"connection's vat_accounts"
        )


def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last or first


def mail_address(address: Address | None) -> dict[str, Any] | None:
    if not address or not (address.city and address.postal_code):
        return None  # Go requires City and ZipCode on an address
    return {
        "AddressLine1": address.line1,
        "AddressLine2": address.line2,
        "City": address.city,
        "ZipCode": address.postal_code,
        "CountryCode": address.country or "NO",
    }


def customer_payload(customer: Customer, key: str) -> dict[str, Any]:
    payload: dict[str, Any] = {"ExternalImportReference": key}
    if customer.kind == "company" or (customer.company_name and not customer.name):
        payload.update(
            Name=customer.company_name or customer.name,
            IsPerson=False,
            OrganizationNumber=customer.org_number,
        )
    else:
        first, last = split_name(customer.name or "")
        payload.update(IsPerson=True, FirstName=first, LastName=last)
    payload.update(
        EmailAddress=customer.email,
        InvoiceEmailAddress=customer.email,
        PhoneNumber=customer.phone,
        MailAddress=mail_address(customer.billing_address),
    )
    return {k: v for k, v in payload.items() if v is not None}


def customer_patch(existing: dict[str, Any], desired: dict[str, Any]) -> list[dict[str, Any]]:
    """RFC 6902 operations that bring `existing` to `desired` (only the fields we manage)."""
    ops: list[dict[str, Any]] = []
    for field, value in desired.items():
        if field == "MailAddress":
            current = existing.get("MailAddress") or {}
            for sub, sub_value in value.items():
                if sub_value is not None and current.get(sub) != sub_value:
                    ops.append({"op": "replace", "path": f"/MailAddress/{sub}", "value": sub_value})
        elif existing.get(field) != value:
            ops.append({"op": "replace", "path": f"/{field}", "value": value})
    return ops


def order_lines(order: Order, settings: PowerOfficeSettings) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for line in order.lines:
        base: dict[str, Any] = {"SortOrder": len(lines)}
        if isinstance(line, ProductLine):
            lines.append({**base, **_product_line(line, order.prices_include_vat)})
        elif isinstance(line, ShippingLine):
            net = net_of_vat(line.amount, line.vat_rate, order.prices_include_vat)
            lines.append(
                {
                    **base,
                    "LineType": "Normal",
                    "ProductCode": shipping_code(settings, line.vat_rate),
                    "Description": line.name,
                    "Quantity": 1.0,
                    "ProductUnitPrice": money(net),
                }
            )
        elif isinstance(line, TextLine):
            lines.append({**base, "LineType": "Text", "Description": line.text})
    return lines


def _product_line(line: ProductLine, prices_include_vat: bool) -> dict[str, Any]:
    gross = line.quantity * line.unit_price
    allowance = (line.discount / gross * 100) if gross and line.discount else Decimal(0)
    return {
        "LineType": "Normal",
        "ProductCode": line.sku,
        "Description": line.name,
        "Quantity": float(line.quantity),
        "ProductUnitPrice": money(net_of_vat(line.unit_price, line.vat_rate, prices_include_vat)),
        "Allowance": money(allowance, FOUR),
    }


def sales_order_payload(
    order: Order, reference: str, customer_id: str, settings: PowerOfficeSettings
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "CustomerId": int(customer_id),
        "SalesOrderStatus": settings.order_status,
        "ExternalImportReference": reference,
        "CurrencyCode": order.currency,
        "CustomerReference": order.number,
        "SalesOrderDate": order.placed_at.date().isoformat() if order.placed_at else None,
        "SalesOrderLines": order_lines(order, settings),
    }
    return {k: v for k, v in payload.items() if v is not None}


def credit_note_payload(
    order: Order,
    reference: str,
    customer_id: str,
    settings: PowerOfficeSettings,
    original: CreditSource,
) -> dict[str, Any]:
    """The sales order of `sales_order_payload` with its quantities negated: Go reads negative
    quantities as credited and a negative total as a credit-note draft. It is tied to the
    original by `RelatedInvoiceNo` (Go's own link, only for credit-note drafts and only when the
    original was invoiced) and, for whoever reads it, by a first text line naming the original."""
    payload = sales_order_payload(order, reference, customer_id, settings)
    lines = [
        {"LineType": "Text", "Description": credit_text(original)},
        *(_credited(line) for line in payload["SalesOrderLines"]),
    ]
    payload["SalesOrderLines"] = [{**line, "SortOrder": n} for n, line in enumerate(lines)]
    invoice_no = original.invoice_number
    if invoice_no and invoice_no.isdigit() and order.computed_total > 0:
        payload["RelatedInvoiceNo"] = int(invoice_no)
    return payload


def credit_text(original: CreditSource) -> str:
    if original.invoice_number:
        return f"Credit note for invoice {original.invoice_number}"
    return f"Credit note for order {original.order_number or original.order_id}"


def _credited(line: dict[str, Any]) -> dict[str, Any]:
    return {**line, "Quantity": -line["Quantity"]} if "Quantity" in line else line
