"""Money as Sapera keeps it: VAT-inclusive decimals, rounded to 0.01 half-up on each line.

Amounts are computed as Decimal and stored JSON-ready as floats of two decimals, so the API and
`/_sim/state` answer from the same data and `Decimal(str(x))` gets the exact value back.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal | None) -> float | None:
    return None if value is None else float(cents(value))


def dec(value: float | int | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def rate(value: Decimal) -> float:
    """A VAT rate as JSON (0.25), without rounding it to cents."""
    return float(value)
