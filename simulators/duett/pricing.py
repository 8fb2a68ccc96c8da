"""Duett's VAT codes and line arithmetic (erp/duett.md, "Line arithmetic").

base = price × count × dimension; a percent discount takes discountValue % of it, an amount
discount takes discountValue per unit capped at the price (or, as an option, once per line capped
at the base). In net price mode the rest is net and VAT comes on top; in gross mode it is the
gross and net is backed out. Every amount is rounded to 0.01 half-up on its own line, and an
order's totals are the sums of its lines, so they match what Duett prints to the øre.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
HUNDRED = Decimal(100)
ONE = Decimal(1)

# taxSaleId -> output VAT rate. Both spellings of the reverse-charge code exist in Duett's docs.
TAX_RATES: dict[str, Decimal] = {
    "vat": Decimal("0.25"),
    "food": Decimal("0.15"),
    "low": Decimal("0.12"),
    "noVat": ZERO,
    "abroad": ZERO,
    "noVat_Abroad": ZERO,
    "noVat_Reverse": ZERO,
    "vat_Reverse": ZERO,
    "nondeductable_Reverse": ZERO,
    "nodeductable_Reverse": ZERO,
    "vat_Abroad": ZERO,
    "food_Abroad": ZERO,
}
NOT_ON_ORDERS = ("vat_Abroad", "food_Abroad")
ORDER_TAX_CODES = tuple(code for code in TAX_RATES if code not in NOT_ON_ORDERS)
ARTICLE_TAX_CODES = tuple(TAX_RATES)


@dataclass(frozen=True)
class Amounts:
    calc: Decimal = ZERO
    discount: Decimal = ZERO
    net: Decimal = ZERO
    vat: Decimal = ZERO
    gross: Decimal = ZERO

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(
            self.calc + other.calc,
            self.discount + other.discount,
            self.net + other.net,
            self.vat + other.vat,
            self.gross + other.gross,
        )

    def wire(self) -> dict[str, float]:
        """The read-only amount fields of a line or an order, as JSON numbers."""
        return {
            "calcAmount": money(self.calc),
            "discountAmount": money(self.discount),
            "netAmount": money(self.net),
            "vatAmount": money(self.vat),
            "grossAmount": money(self.gross),
        }


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> float:
    return float(cents(value))


def line_amounts(
    price: Decimal,
    count: Decimal,
    dimension: Decimal,
    discount_type: str,
    discount_value: Decimal,
    rate: Decimal,
    price_mode: str,
    amount_cap: str,
) -> Amounts:
    base = price * count * dimension
    if discount_type == "percent":
        discount = base * discount_value / HUNDRED
    elif amount_cap == "unit":
        discount = min(discount_value, price) * count * dimension
    else:
        discount = min(discount_value, abs(base)) * (ONE if base >= 0 else -ONE)
    calc = cents(base - discount)
    if price_mode == "gross":
        gross = calc
        net = cents(calc / (ONE + rate))
        vat = gross - net
    else:
        net = calc
        vat = cents(calc * rate)
        gross = net + vat
    return Amounts(calc, cents(discount), net, vat, gross)
