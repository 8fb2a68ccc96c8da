"""The sales order Go would make of a `POST /SalesOrders/Complete`, for a dry run: Go's checks in
Go's order (customer, header, lines, line references, credit-note link), each article and its
VAT read from Go unless the run itself "created" it, and the amounts Go would compute.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.poweroffice import rules
from connectors.poweroffice.amounts import POSTING_LINE_TYPES, LineAmounts, Totals, line_amounts
from connectors.poweroffice.amounts import number as decimal
from connectors.poweroffice.lookups import Lookups

DEFAULT_STATUS = "Draft"  # Go's default when none is sent (unconfirmed)
HEADER_FIELDS = (
    "SalesOrderStatus",
    "ExternalImportReference",
    "ImportedOrderNo",
    "SalesOrderDate",
    "DeliveryDate",
    "CustomerReference",
    "PurchaseOrderReference",
    "CurrencyCode",
    "CurrencyExchangeRate",
    "PaymentTermId",
    "DeliveryTermId",
    "ContactDeliveryAddressId",
    "CustomMatchingReference",
    "DepartmentId",
    "ProjectId",
    "ContractNo",
    "BrandingThemeId",
    "SalesPersonEmployeeId",
    "RelatedInvoiceNo",
)


class Made:
    """What the run "created" before the order: customers by Id, articles by Id and code."""

    def __init__(self) -> None:
        self.customers: dict[int, dict[str, Any]] = {}
        self.products: dict[int, dict[str, Any]] = {}

    def product_by_code(self, code: str) -> dict[str, Any] | None:
        return next((p for p in self.products.values() if p.get("Code") == code), None)


def answer_order(
    body: dict[str, Any], made: Made, lookups: Lookups, new_id: Callable[[], str]
) -> tuple[dict[str, Any], Totals]:
    """The order as Go would answer it (201) and its totals; `rules.Refused` as Go refuses."""
    customer = _customer(body, made, lookups)
    status = body.get("SalesOrderStatus") or DEFAULT_STATUS
    rules.check_order_status(status)
    reference = body.get("ExternalImportReference")
    if reference is not None:
        owner = lookups.reference_owner(str(reference))
        if owner is not None:
            raise rules.reference_in_use(str(reference), owner)
    order_id = new_id()
    answered = [
        _line(raw, index, order_id, made, lookups, new_id)
        for index, raw in enumerate(body.get("SalesOrderLines") or [])
    ]
    lines = [line for line, _ in answered]
    rules.check_line_references(lines)
    totals = Totals.of([amounts for _, amounts in answered])
    related = body.get("RelatedInvoiceNo")
    if related is not None:
        rules.check_related_invoice(totals.net + (totals.vat or Decimal(0)))
        if not lookups.outgoing_invoice_numbered(int(related)):
            raise rules.no_such_invoice(related)
    order = {
        "Id": order_id,
        "SalesOrderNo": None,  # Go numbers the order when it really makes it
        "CurrencyCode": customer.get("CurrencyCode") or "NOK",
        "SalesOrderDate": datetime.now(UTC).date().isoformat(),
        **{k: body[k] for k in HEADER_FIELDS if body.get(k) is not None},
        "SalesOrderStatus": status,
        "CustomerId": customer.get("Id"),
        "CustomerNo": customer.get("Number"),
        "IsCreatedByCurrentIntegration": True,
        "NetAmount": float(totals.net),
        "TotalAmount": None if totals.vat is None else float(totals.net + totals.vat),
        "LineCount": len(lines),
        "SalesOrderLines": sorted(lines, key=lambda line: line["SortOrder"]),
    }
    return order, totals


def _customer(body: dict[str, Any], made: Made, lookups: Lookups) -> dict[str, Any]:
    """CustomerId wins over CustomerNo."""
    customer_id, customer_no = body.get("CustomerId"), body.get("CustomerNo")
    if customer_id is not None:
        found = made.customers.get(customer_id) or lookups.customer(customer_id)
        if found is None:
            raise rules.not_found(f"Customer with id = {customer_id} not found.")
        return found
    if customer_no is None:
        raise rules.invalid("SalesOrder", "CustomerId or CustomerNo is required.")
    found = lookups.customer_by_number(int(customer_no))
    if found is None:
        raise rules.not_found(f"Customer with number = {customer_no} not found.")
    return found


def _line(
    raw: Any, index: int, order_id: str, made: Made, lookups: Lookups, new_id: Callable[[], str]
) -> tuple[dict[str, Any], LineAmounts]:
    line_type = rules.check_line(raw, index)
    product = _product(raw, made, lookups)
    rules.check_line_product(raw, line_type, product is not None, index)
    product = product or {}
    price = decimal(_first(raw.get("ProductUnitPrice"), product.get("UnitPrice")))
    quantity = decimal(raw.get("Quantity"), Decimal(1))
    allowance = decimal(raw.get("Allowance"))
    if line_type in POSTING_LINE_TYPES:
        vat_code, rate = _vat(product, lookups)
        amounts = line_amounts(quantity, price, allowance, rate)
        fields = {
            "Quantity": float(quantity),
            "ProductUnitPrice": float(price),
            **amounts.fields(vat_code, rate),
        }
    else:
        amounts = LineAmounts(Decimal(0), Decimal(0))
        fields = amounts.fields(None, None)
    line = {
        "Id": new_id(),
        "SalesOrderId": order_id,
        **raw,
        "LineType": line_type,
        "ProductId": product.get("Id"),
        "ProductCode": product.get("Code"),
        "Description": raw.get("Description") or product.get("Name"),
        "SortOrder": _first(raw.get("SortOrder"), index),
        "Allowance": float(allowance),
        **fields,
    }
    return line, amounts


def _product(raw: dict[str, Any], made: Made, lookups: Lookups) -> dict[str, Any] | None:
    """ProductId wins over ProductCode; an unknown article is a validation error."""
    product_id, code = raw.get("ProductId"), raw.get("ProductCode")
    if product_id is not None:
        found = made.products.get(product_id) or lookups.product(product_id)
        if found is None:
            raise rules.invalid("SalesOrder", f"Product with id = {product_id} not found.")
        return found
    if code is None:
        return None
    found = made.product_by_code(str(code)) or lookups.product_by_code(str(code))
    if found is None:
        raise rules.invalid("SalesOrder", f"Product with code '{code}' not found.")
    return found


def _vat(product: dict[str, Any], lookups: Lookups) -> tuple[str | None, Decimal | None]:
    """The VAT code and rate of the article's sales account. An article without an account of
    its own takes its group's or the client's, which this run does not read: unknown."""
    account_no = product.get("StandardSalesAccount")
    account = lookups.sales_account(int(account_no)) if account_no is not None else None
    code = account.get("VatCode") if account else None
    if code is None:
        return None, None
    return str(code), lookups.vat_rate(str(code))


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)
