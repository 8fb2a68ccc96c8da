"""The canonical order's field types, each carrying the JSON schema of exactly what it accepts.

`/openapi.json` is generated from these types, so a client built from it must produce orders the
intake takes. Where pydantic's own schema says less than its validator enforces, the type says it
here, next to the rule:
- text that is stripped before `min_length` is checked needs a character that is not stripped
  (`NOT_BLANK`; `"  "` is not a name);
- decimals are a string of plain digits (`"12.50"`, at most `WHOLE_DIGITS` before the point and
  `DECIMAL_PLACES` after) or a whole JSON number. The intake also takes a JSON number with a
  fraction, but a binary float cannot promise its decimals, so the schema does not offer it;
- a date-time is RFC 3339 without what Python's `datetime` cannot hold (a leap second, year 0);
- patterns spell whitespace as the characters pydantic strips (`STRIPPED`): JSON Schema's `\\s`
  (ECMA 262) is another set than Python's and Rust's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, StringConstraints, WithJsonSchema

# What `strip_whitespace` removes (Unicode White_Space), as a character class body.
STRIPPED = r"\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = f"[^{STRIPPED}]"  # searched, not anchored: one character that stays after stripping

WHOLE_DIGITS = 12
DECIMAL_PLACES = 6
MAX_DIGITS = WHOLE_DIGITS + DECIMAL_PLACES
LARGEST_WHOLE = 10**WHOLE_DIGITS - 1


def decimal_pattern(
    *, signed: bool = False, positive: bool = False, below_one: bool = False
) -> str:
    """Plain digits, no exponent, no leading zeros, at most `DECIMAL_PLACES` decimals."""
    sign = "-?" if signed else ""
    nonzero = "(?=[^1-9]*[1-9])" if positive else ""  # a lookahead: some digit is not 0
    whole = "0" if below_one else f"(0|[1-9][0-9]{{0,{WHOLE_DIGITS - 1}}})"
    return f"^{sign}{nonzero}{whole}(\\.[0-9]{{1,{DECIMAL_PLACES}}})?$"


def decimal_schema(description: str, pattern: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "string", "pattern": pattern},
            {"type": "integer", "minimum": minimum, "maximum": maximum},
        ],
        "description": description,
    }


def _decimal(**limits: Any) -> Any:
    return Field(
        max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, allow_inf_nan=False, **limits
    )


Money = Annotated[
    Decimal,
    _decimal(),
    WithJsonSchema(
        decimal_schema(
            'an amount: a decimal string such as "-12.50" or a whole number',
            decimal_pattern(signed=True),
            -LARGEST_WHOLE,
            LARGEST_WHOLE,
        )
    ),
]
NonNegativeMoney = Annotated[
    Decimal,
    _decimal(ge=0),
    WithJsonSchema(
        decimal_schema(
            'an amount, not negative: a decimal string such as "12.50" or a whole number',
            decimal_pattern(),
            0,
            LARGEST_WHOLE,
        )
    ),
]
Quantity = Annotated[
    Decimal,
    _decimal(gt=0),
    WithJsonSchema(
        decimal_schema(
            'more than 0: a decimal string such as "2" or "0.5", or a whole number',
            decimal_pattern(positive=True),
            1,
            LARGEST_WHOLE,
        )
    ),
]
VatRate = Annotated[
    Decimal,
    Field(ge=0, lt=1, max_digits=8, decimal_places=DECIMAL_PLACES, allow_inf_nan=False),
    WithJsonSchema(
        decimal_schema(
            'a fraction from 0 up to (not including) 1: "0.25" is 25 %',
            decimal_pattern(below_one=True),
            0,
            0,
        )
    ),
]


def text(max_length: int, *, required: bool = False) -> StringConstraints:
    """Stripped text of at most `max_length` characters; `required`: not blank either."""
    if required:
        return StringConstraints(
            strip_whitespace=True, min_length=1, max_length=max_length, pattern=NOT_BLANK
        )
    return StringConstraints(strip_whitespace=True, max_length=max_length)


ShortText = Annotated[str, text(200)]
ShortText20 = Annotated[str, text(20)]
ShortText40 = Annotated[str, text(40)]
RequiredText = Annotated[str, text(200, required=True)]
LongRequiredText = Annotated[str, text(500, required=True)]
Sku = Annotated[str, text(100, required=True)]
SerialNumber = Annotated[str, text(100, required=True)]
ExternalId = Annotated[str, text(64, required=True)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=f"^[^@{STRIPPED}]+@[^@{STRIPPED}]+$"
    ),
]

# RFC 3339 (`format: date-time`) allows second 60 and year 0000; `datetime` refuses both.
TIMESTAMP_PATTERN = r"^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-5][0-9]"
Timestamp = Annotated[
    datetime,
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "description": "RFC 3339, e.g. 2026-11-04T09:14:58Z (no leap second, no year 0000)",
        }
    ),
]
