"""What both shop mappings share: addresses, the customer, and the check of the shop's total.

The total check is the one place where a shop's arithmetic meets ours. Canonical line amounts are
in the order's VAT mode (gross when `prices_include_vat`, else net), and the canonical validator
compares `total` with the sum of those amounts. A shop's own total always includes tax. So:

- prices include VAT: canonical `total` = the shop's total; compare Σ gross amounts with it;
- prices exclude VAT: canonical `total` = shop total − shop tax; comparing Σ net amounts with
  that is the same as comparing Σ net + shop tax with the shop's total.

Either way the tolerance is the canonical one (0.01 per canonical line), the refusal shows both
sums, and the canonical validator, run afterwards, compares like with like and agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schemas.order import CENT, Address, Customer, ProductLine, ShippingLine, TextLine
from schemas.shops import read
from schemas.shops.errors import MappingError

CanonicalLine = ProductLine | TextLine | ShippingLine


@dataclass(frozen=True)
class AddressKeys:
    """A shop's names for the canonical address fields."""

    line1: str
    line2: str
    postal_code: str
    city: str
    country: str


SHOPIFY_ADDRESS = AddressKeys("address1", "address2", "zip", "city", "country_code")
WOOCOMMERCE_ADDRESS = AddressKeys("address_1", "address_2", "postcode", "city", "country")


def address(raw: dict[str, Any], field: str, keys: AddressKeys) -> Address | None:
    """The canonical address, or None when the shop's address is empty."""
    paths = {
        name: f"{field}.{getattr(keys, name)}"
        for name in ("line1", "line2", "postal_code", "city", "country")
    }
    values = {
        "line1": read.text(raw.get(keys.line1), paths["line1"], truncate=True),
        "line2": read.text(raw.get(keys.line2), paths["line2"], truncate=True),
        "postal_code": read.text(raw.get(keys.postal_code), paths["postal_code"], limit=20),
        "city": read.text(raw.get(keys.city), paths["city"], truncate=True),
        "country": read.country(raw.get(keys.country), paths["country"]),
    }
    if not any(values.values()):
        return None
    return read.build(Address, field, paths, **values)


@dataclass(frozen=True)
class Party:
    """The buyer as read from a shop payload, with where each contact detail came from."""

    external_id: str | None
    person: str | None
    company: str | None
    email: str | None
    email_field: str
    phone: str | None
    phone_field: str
    billing: Address | None
    shipping: Address | None


def customer(party: Party, field: str) -> Customer:
    """Company when the shop names a company (the person then is its contact); otherwise a
    person named by the shop, or, failing any name, by the email address."""
    name = party.person or (None if party.company else party.email)
    if not (name or party.company):
        raise MappingError(field, "the order names no customer: no name, company or email")
    paths = {
        "email": party.email_field,
        "phone": party.phone_field,
        "name": field,
        "company_name": field,
        "external_id": field,
    }
    return read.build(
        Customer,
        field,
        paths,
        external_id=party.external_id,
        kind="company" if party.company else "person",
        name=name,
        company_name=party.company,
        email=party.email,
        phone=party.phone,
        billing_address=party.billing,
        shipping_address=party.shipping,
    )


def checked_total(
    lines: list[CanonicalLine], shop_total: Decimal, total_field: str, tax: Decimal | None
) -> Decimal:
    """The canonical `total` for `lines`, or MappingError when the shop's total disagrees.

    `tax` is None when the line amounts include VAT, else the shop's tax on top of them.
    """
    computed = sum((line.amount for line in lines), Decimal("0"))
    tolerance = CENT * len(lines)
    expected = shop_total - (tax or Decimal("0"))
    if abs(computed - expected) <= tolerance:
        return expected
    if tax is None:
        ours = f"the sum of lines, shipping and fees {computed}"
    else:
        ours = (
            f"the sum of lines, shipping and fees {computed} (net) plus tax {tax} "
            f"= {computed + tax}"
        )
    raise MappingError(
        total_field,
        f"the shop's total {shop_total} ({total_field}) does not "
        f"match {ours} (allowed difference {tolerance})",
    )
