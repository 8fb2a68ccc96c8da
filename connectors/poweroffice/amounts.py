"""How PowerOffice Go computes a sales order's amounts, for a dry run to predict them.

Go takes no VAT from an order line: the rate is the one of the VAT code on the sales account of
the line's article. Each posting line is rounded to øre on its own (net = quantity × price ×
(1 − allowance/100), VAT = net × rate), and the order's totals are the sums of its lines, which
is why Go's total can be an øre or two off the shop's. Text lines post nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
POSTING_LINE_TYPES = ("Normal", "InvoiceFee")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def number(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    return default if value is None else Decimal(str(value))


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    vat: Decimal | None  # None: the article's VAT rate could not be read

    def fields(self, vat_code: str | None, rate: Decimal | None) -> dict[str, Any]:
        """The amount fields Go adds to a line it answers."""
        return {
            "NetAmount": float(self.net),
            "VatAmount": None if self.vat is None else float(self.vat),
            "TotalAmount": None if self.vat is None else float(self.net + self.vat),
            "VatCode": vat_code,
            "VatRate": None if rate is None else float(rate),
        }


def line_amounts(
    quantity: Decimal, price: Decimal, allowance: Decimal, rate: Decimal | None
) -> LineAmounts:
    net = cents(quantity * price * (1 - allowance / 100))
    return LineAmounts(net, None if rate is None else cents(net * rate))


@dataclass(frozen=True)
class Totals:
    net: Decimal
    vat: Decimal | None

    @classmethod
    def of(cls, lines: list[LineAmounts]) -> Totals:
        net = sum((line.net for line in lines), Decimal(0))
        vats = [line.vat for line in lines]
        known = all(vat is not None for vat in vats)
        return cls(net, sum((v for v in vats if v is not None), Decimal(0)) if known else None)

    def __add__(self, other: Totals) -> Totals:
        vat = None if self.vat is None or other.vat is None else self.vat + other.vat
        return Totals(self.net + other.net, vat)

    def as_strings(self) -> dict[str, str]:
        """total_excl_vat, vat and total as decimal strings; without VAT when a rate was
        unknown (an article without a sales account of its own)."""
        out = {"total_excl_vat": str(cents(self.net))}
        if self.vat is not None:
            out.update(vat=str(cents(self.vat)), total=str(cents(self.net + self.vat)))
        return out
