"""Duett's line arithmetic, predicted to the øre, and the line values that make Duett's amount
equal what the shop charged.

Duett computes every amount itself from the article line: base = salesPrice × count × dimension,
minus the discount (percent of the base, or an amount per unit capped at the price), then VAT in
the company's price mode: a **net** company enters prices without VAT (gross = net + VAT), a
**gross** company with VAT (net = gross / (1 + rate)). Each line is rounded to 0.01, half up.
We never send amounts, only prices and discounts; so before posting we choose them such that
Duett's result equals the shop's line, and check it here, line by line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Literal

PriceMode = Literal["net", "gross"]
CENT = Decimal("0.01")
PERCENT_PLACES = Decimal("0.000001")
HUNDRED = Decimal(100)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    """What Duett shows on an article line."""

    calc: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


def duett_line(
    price: Decimal,
    count: Decimal,
    rate: Decimal,
    mode: PriceMode,
    discount_percent: Decimal = Decimal(0),
    dimension: Decimal = Decimal(1),
) -> LineAmounts:
    """Duett's amounts for an article line with a percent discount."""
    base = price * count * dimension
    calc = cents(base - base * discount_percent / HUNDRED)
    if mode == "net":
        vat = cents(calc * rate)
        return LineAmounts(calc, calc, vat, calc + vat)
    net = cents(calc / (1 + rate))
    return LineAmounts(calc, net, calc - net, calc)


@dataclass(frozen=True)
class LinePlan:
    """The values we send for one article line, and what Duett will make of them."""

    sales_price: Decimal
    discount_percent: Decimal
    expected: LineAmounts


def target_calc(amount: Decimal, rate: Decimal, includes_vat: bool, mode: PriceMode) -> Decimal:
    """The line amount Duett must compute (in the company's mode) for the shop's `amount`."""
    if includes_vat == (mode == "gross"):
        return cents(amount)
    if mode == "gross":  # the shop's net amount, a gross company: add VAT
        return cents(amount * (1 + rate))
    # A net company, the shop's gross amount: the net amount whose net + VAT is that gross.
    net = cents(amount / (1 + rate))
    for candidate in (net, net - CENT, net + CENT):
        if candidate + cents(candidate * rate) == cents(amount):
            return candidate
    return net  # no net amount adds up to it exactly; the amount check reports the cent


def plan_line(
    unit_price: Decimal,
    quantity: Decimal,
    discount: Decimal,
    rate: Decimal,
    includes_vat: bool,
    mode: PriceMode,
) -> LinePlan:
    """Keep the shop's unit price (converted to the company's mode) and express the discount as
    a percent, so the invoice reads like the shop's order; when the price does not convert to
    whole øre, use the line's price per unit instead."""
    target = target_calc(quantity * unit_price - discount, rate, includes_vat, mode)
    price = cents(target_calc(unit_price, rate, includes_vat, mode))
    if price * quantity < target or quantity == 0:
        price = (target / quantity).quantize(CENT, rounding=ROUND_CEILING) if quantity else target
    base = price * quantity
    percent = (
        Decimal(0)
        if base == 0
        else ((base - target) / base * HUNDRED).quantize(PERCENT_PLACES, rounding=ROUND_HALF_UP)
    )
    return LinePlan(price, percent, duett_line(price, quantity, rate, mode, percent))


def shop_side(expected: LineAmounts, includes_vat: bool) -> Decimal:
    """Duett's line amount in the shop's VAT mode, to compare with the shop's line amount."""
    return expected.gross if includes_vat else expected.net
