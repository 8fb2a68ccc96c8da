"""Careful readers for untrusted shop JSON, each raising `MappingError` with the field's path.

Shop payloads are hostile input: nulls where objects belong, numbers as strings or floats,
strings of a megabyte, integers of four thousand digits, lone surrogates. Every value the mappings
use passes through one of these readers first, so the mapping code itself can assume the types it
asked for. The readers never repr a raw value (a deeply nested list would blow the stack) and
bound every number before doing arithmetic with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.shops.errors import MappingError

MAX_MONEY = Decimal("1e11")  # well inside the canonical 12 integer digits
MAX_QUANTITY = Decimal("1e9")
MAX_NUMBER_TEXT = 50
MAX_TEXT_IN = 10_000  # longer strings are refused before any work is done on them
MICRO = Decimal("0.000001")
CENT = Decimal("0.01")
ZERO = Decimal("0")
MAX_ID = 10**19

M = TypeVar("M", bound=BaseModel)


def kind(value: Any) -> str:
    """What a value is, for messages; never its content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        int: "an integer",
        float: "a number",
    }
    return names.get(type(value), type(value).__name__)


def obj(value: Any, field: str, *, required: bool = False) -> dict[str, Any]:
    """An object; null (or absent) reads as empty unless required."""
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise MappingError(field, f"must be an object, not {kind(value)}")
    return value


def objects(value: Any, field: str, *, limit: int) -> list[dict[str, Any]]:
    """A list of objects; null reads as empty. More than `limit` items is refused up front."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise MappingError(field, f"must be a list, not {kind(value)}")
    if len(value) > limit:
        raise MappingError(field, f"has {len(value)} entries; at most {limit} are supported")
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise MappingError(f"{field}.{index}", f"must be an object, not {kind(item)}")
    return value


def text(value: Any, field: str, *, limit: int = 200, truncate: bool = False) -> str | None:
    """A stripped string, None when absent or blank. Integers are accepted as their digits.

    `truncate` is for display texts (names, address lines) where a shop allows more than the
    canonical order keeps; identifiers are refused instead, since a cut SKU names another article.
    """
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < MAX_ID:
        value = str(value)
    if not isinstance(value, str):
        raise MappingError(field, f"must be a string, not {kind(value)}")
    if len(value) > MAX_TEXT_IN:
        raise MappingError(field, f"is {len(value)} characters long")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MappingError(field, "is not valid Unicode (lone surrogate)") from None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        if not truncate:
            raise MappingError(field, f"is {len(value)} characters long; at most {limit} allowed")
        value = value[: limit - 1].rstrip() + "…"
    return str(value)


def identifier(value: Any, field: str) -> str:
    """A shop object id: a positive integer or a non-empty string, as a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 < value < MAX_ID:
            raise MappingError(field, "must be a positive id")
        return str(value)
    found = text(value, field, limit=64)
    if found is None:
        raise MappingError(field, "is required")
    return found


def number(value: Any, field: str) -> Decimal:
    """Any finite decimal within ±MAX_MONEY, from a string, an integer or a float."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MappingError(field, f"must be a decimal number, not {kind(value)}")
    if isinstance(value, int):
        if abs(value) >= MAX_MONEY:
            raise MappingError(field, "is too large")
        return Decimal(value)
    raw = value if isinstance(value, str) else repr(value)
    if len(raw) > MAX_NUMBER_TEXT:
        raise MappingError(field, "is not a decimal number (too long)")
    try:
        result = Decimal(raw.strip())
    except InvalidOperation:
        raise MappingError(field, "is not a decimal number") from None
    if not result.is_finite():
        raise MappingError(field, "must be a finite number")
    if abs(result) >= MAX_MONEY:
        raise MappingError(field, "is too large")
    if result.as_tuple().exponent < -6:  # type: ignore[operator]
        result = result.quantize(MICRO, rounding=ROUND_HALF_EVEN)
    return result


def money(value: Any, field: str, *, default: Decimal | None = None) -> Decimal:
    """A non-negative amount; `default` stands in for an absent (null) value."""
    if value is None or value == "":
        if default is not None:
            return default
        raise MappingError(field, "is required")
    amount = number(value, field)
    if amount < 0:
        raise MappingError(field, "must not be negative")
    return amount


def quantity(value: Any, field: str, *, allow_zero: bool = False) -> Decimal:
    if value is None:
        raise MappingError(field, "is required")
    amount = number(value, field)
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MappingError(field, "must be greater than zero")
    if amount >= MAX_QUANTITY:
        raise MappingError(field, "is too large")
    return amount


def rate_sum(rates: list[Decimal], field: str) -> Decimal:
    """Several stacked tax rates as one fraction, checked to be a usable VAT rate."""
    total = sum(rates, ZERO)
    if not ZERO <= total < 1:
        raise MappingError(field, "tax rate must be a fraction from 0 up to (not including) 1")
    return total.quantize(MICRO, rounding=ROUND_HALF_EVEN).normalize()


def derived_rate(tax: Decimal, base: Decimal, field: str) -> Decimal:
    """The VAT rate behind a tax amount rounded to cents: the roundest rate (whole percent, then
    tenths, then hundredths of a percent) that reproduces `tax` from `base`."""
    if base <= 0 or tax <= 0:
        return ZERO
    low, high = (tax - CENT / 2) / base, (tax + CENT / 2) / base
    for places in (Decimal("0.01"), Decimal("0.001"), Decimal("0.0001")):
        candidate = (tax / base).quantize(places, rounding=ROUND_HALF_UP)
        if low <= candidate <= high:
            return rate_sum([candidate], field)
    return rate_sum([(tax / base).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)], field)


def timestamp(value: Any, field: str) -> datetime | None:
    """An ISO 8601 time as aware UTC; a time without offset is taken as UTC (WooCommerce's
    `*_gmt` fields). None when absent."""
    found = text(value, field, limit=64)
    if found is None:
        return None
    try:
        moment = datetime.fromisoformat(found)
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise MappingError(field, "is not an ISO 8601 date and time") from None


def country(value: Any, field: str) -> str | None:
    code = text(value, field, limit=10)
    if code is None:
        return None
    code = code.upper()
    if len(code) != 2 or not ("A" <= code[0] <= "Z" and "A" <= code[1] <= "Z"):
        raise MappingError(field, "must be a two-letter country code")
    return code


def currency(value: Any, field: str) -> str:
    code = text(value, field, limit=10)
    if code is None:
        raise MappingError(field, "is required")
    code = code.upper()
    if len(code) != 3 or not all("A" <= char <= "Z" for char in code):
        raise MappingError(field, "must be a three-letter currency code")
    return code


def flag(value: Any, field: str, *, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise MappingError(field, f"must be true or false, not {kind(value)}")
    return value


def joined(*parts: str | None) -> str | None:
    found = " ".join(part for part in parts if part)
    return found or None


def build(model: type[M], field: str, paths: Mapping[str, str], **data: Any) -> M:
    """Construct a canonical model, turning its validation error into a MappingError on the shop
    field the failing canonical field came from (`paths`: canonical name → shop path)."""
    try:
        return model(**data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        loc = [str(part) for part in first["loc"]]
        where = paths.get(loc[0], field) if loc else field
        label = ".".join(loc) or model.__name__
        raise MappingError(where, f"{label}: {first['msg']}") from None
