"""The canonical order: the one shape every source maps into and every connector maps out of.

Money and quantities are `Decimal` (never float); rates are fractions (0.25 = 25 %). Validation
errors name the field, and an order whose stated total does not match its lines is refused with
both sums in the message, so a shop integrator sees at once which side is wrong.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from schemas.fields import (
    NOT_BLANK,
    CountryCode,
    CurrencyCode,
    Email,
    ExternalId,
    LongRequiredText,
    Money,
    NonNegativeMoney,
    Quantity,
    RequiredText,
    SerialNumber,
    ShortText,
    ShortText20,
    ShortText40,
    Sku,
    Timestamp,
    VatRate,
)

MAX_LINES = 500
CENT = Decimal("0.01")

# Rules of the order that its JSON schema cannot say (they compare fields); the schema's
# description lists them, and so does the test that generates orders from the schema.
CROSS_FIELD_RULES = (
    "`total`, when given, equals the sum of the product and shipping lines' amounts within 0.01 "
    "per line",
    "a product line's `discount` is at most `quantity` × `unit_price`",
)
ORDER_DESCRIPTION = (
    "A canonical order. Beyond this schema the intake checks: "
    + "; ".join(CROSS_FIELD_RULES)
    + "; and what the connection's ERP cannot take (e.g. a Duett serial article without "
    "one serial number per unit of `quantity`), each refused with 422 naming the field."
)
CUSTOMER_NAMED: dict[str, Any] = {
    "anyOf": [
        {"required": [field], "properties": {field: {"type": "string", "pattern": NOT_BLANK}}}
        for field in ("name", "company_name")
    ]
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Address(_Model):
    line1: ShortText | None = None
    line2: ShortText | None = None
    postal_code: ShortText20 | None = None
    city: ShortText | None = None
    country: CountryCode | None = None


class Customer(_Model):
    """Who buys: a `name` or a `company_name` is required (not blank)."""

    model_config = ConfigDict(json_schema_extra=CUSTOMER_NAMED)

    external_id: ShortText | None = None
    kind: Literal["person", "company"] = "person"
    name: ShortText | None = None
    company_name: ShortText | None = None
    org_number: ShortText40 | None = None
    vat_number: ShortText40 | None = None
    email: Email | None = None
    phone: ShortText40 | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None

    @model_validator(mode="after")
    def _needs_a_name(self) -> Customer:
        if not (self.name or self.company_name):
            raise ValueError("customer.name or customer.company_name is required")
        return self

    @property
    def display_name(self) -> str:
        return (
            self.company_name
            if self.kind == "company" and self.company_name
            else (self.name or self.company_name or "")
        )


class ProductLine(_Model):
    type: Literal["product"]
    sku: Sku
    name: RequiredText
    quantity: Quantity
    unit_price: NonNegativeMoney
    discount: NonNegativeMoney = Decimal("0")
    vat_rate: VatRate
    # For articles the ERP tracks by serial number (Duett's serial articles, which need one per
    # unit: that connector checks the count); the other ERPs drop them with a warning.
    serial_numbers: Annotated[list[SerialNumber], Field(max_length=10_000)] | None = None

    @model_validator(mode="after")
    def _discount_within_gross(self) -> ProductLine:
        if self.discount > self.quantity * self.unit_price:
            raise ValueError("discount is larger than quantity × unit_price")
        return self

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price - self.discount


class TextLine(_Model):
    type: Literal["text"]
    text: LongRequiredText

    @property
    def amount(self) -> Decimal:
        return Decimal("0")


class ShippingLine(_Model):
    type: Literal["shipping"]
    name: RequiredText = "Shipping"
    amount: NonNegativeMoney
    vat_rate: VatRate


Line = Annotated[ProductLine | TextLine | ShippingLine, Field(discriminator="type")]


class Order(_Model):
    model_config = ConfigDict(json_schema_extra={"description": ORDER_DESCRIPTION})

    external_id: ExternalId
    number: ShortText | None = None
    source: ShortText | None = None
    placed_at: Timestamp | None = None
    currency: CurrencyCode
    prices_include_vat: bool = True
    customer: Customer
    lines: Annotated[list[Line], Field(min_length=1, max_length=MAX_LINES)]
    total: Money | None = None
    send_invoice: bool | None = None
    # Urgent (e.g. a point-of-sale sale printed at the counter): goes before the connection's
    # backlog, and its ERP calls before the others' on the same budget.
    urgent: bool | None = None
    # The order's life in the source, for producers that report it (shops, the canonical API):
    # paid orders are invoiced when the connection invoices on payment, cancelled ones stopped,
    # and a state older than one we already have is ignored.
    paid: bool | None = None
    cancelled: bool | None = None
    updated_at: Timestamp | None = None
    # A refund: this order is a credit note for the order with this external id (same
    # connection); its lines, with positive quantities, are what is credited.
    credit_for: ExternalId | None = None

    @field_validator("total")
    @classmethod
    def _total_adds_up(cls, total: Decimal | None, info: ValidationInfo) -> Decimal | None:
        lines = info.data.get("lines")
        if total is None or not lines:  # lines failed on their own; that error is reported
            return total
        computed = sum((line.amount for line in lines), Decimal("0"))
        tolerance = CENT * len(lines)
        if abs(computed - total) > tolerance:
            raise ValueError(
                f"total {total} does not match the sum of lines and shipping {computed} "
                f"(allowed difference {tolerance})"
            )
        return total

    @property
    def computed_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0"))

    @property
    def gross_total(self) -> Decimal:
        """What the product and shipping lines come to with VAT, each line in whole cents
        (`gross`): the order's own amounts when its prices include VAT."""
        return sum(
            (
                gross(line.amount, line.vat_rate, self.prices_include_vat)
                for line in self.lines
                if isinstance(line, ProductLine | ShippingLine)
            ),
            Decimal("0"),
        )

    @property
    def product_lines(self) -> list[ProductLine]:
        return [line for line in self.lines if isinstance(line, ProductLine)]


def gross(amount: Decimal, rate: Decimal, includes_vat: bool) -> Decimal:
    """A line amount with VAT, in whole cents (half up): `amount` as it is when it includes VAT,
    else plus `rate`."""
    value = amount if includes_vat else amount * (1 + rate)
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
