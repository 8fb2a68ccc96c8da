"""The order's field types against their published JSON schemas: whatever a schema allows, the
validator takes (generated from each pattern), and the whitespace the patterns spell out is the
whitespace pydantic strips, every code point checked."""

from __future__ import annotations

import re
import sys
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from schemas.fields import (
    NOT_BLANK,
    Email,
    Money,
    NonNegativeMoney,
    Quantity,
    RequiredText,
    Timestamp,
    VatRate,
)

DECIMALS: dict[str, Any] = {
    "Money": Money,
    "NonNegativeMoney": NonNegativeMoney,
    "Quantity": Quantity,
    "VatRate": VatRate,
}
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def branches(kind: Any) -> dict[str, dict[str, Any]]:
    schema = TypeAdapter(kind).json_schema()
    return {branch["type"]: branch for branch in schema["anyOf"]}


@pytest.mark.parametrize("name", sorted(DECIMALS))
@FAST
@given(data=st.data())
def test_every_decimal_string_the_pattern_allows_is_accepted(name: str, data: Any) -> None:
    kind = DECIMALS[name]
    pattern = branches(kind)["string"]["pattern"]
    text = data.draw(st.from_regex(re.compile(pattern), fullmatch=True).filter(ok_for_ecma))
    assert isinstance(TypeAdapter(kind).validate_python(text), Decimal)


@pytest.mark.parametrize("name", sorted(DECIMALS))
@FAST
@given(data=st.data())
def test_every_whole_number_the_schema_allows_is_accepted(name: str, data: Any) -> None:
    kind = DECIMALS[name]
    whole = branches(kind)["integer"]
    number = data.draw(st.integers(whole["minimum"], whole["maximum"]))
    assert TypeAdapter(kind).validate_python(number) == number


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("Money", "1234567890123"),  # 13 digits before the point
        ("Money", "1.1234567"),  # 7 after
        ("NonNegativeMoney", "-1"),
        ("Quantity", "0.000000"),
        ("VatRate", "1"),
    ],
)
def test_what_the_validator_refuses_the_pattern_refuses_too(name: str, refused: str) -> None:
    kind = DECIMALS[name]
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(refused)
    assert not re.search(branches(kind)["string"]["pattern"], refused)


def ok_for_ecma(text: str) -> bool:
    """Python's `$` also matches before a final newline, ECMA 262's (and pydantic's) does not."""
    return not text.endswith("\n")


def test_the_whitespace_in_the_patterns_is_what_pydantic_strips() -> None:
    stripped = TypeAdapter(RequiredText)
    not_blank = re.compile(NOT_BLANK)
    disagree = []
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF:  # surrogates: not text
            continue
        char = chr(point)
        try:
            stripped.validate_python(char)
            kept = True
        except ValidationError:
            kept = False
        if kept != bool(not_blank.search(char)):
            disagree.append(hex(point))
    assert disagree == []


@FAST
@given(st.from_regex(re.compile(TypeAdapter(Email).json_schema()["pattern"]), fullmatch=True))
def test_every_address_the_email_pattern_allows_is_accepted(address: str) -> None:
    if ok_for_ecma(address) and len(address) <= 254:
        assert TypeAdapter(Email).validate_python(address) == address


@pytest.mark.parametrize(
    ("text", "taken"),
    [
        ("2026-11-04T09:14:58Z", True),
        ("2026-11-04t09:14:58.5+14:00", True),
        ("0001-01-01T00:00:00Z", True),
        ("2026-12-31T23:59:60Z", False),  # RFC 3339's leap second
        ("0000-01-01T00:00:00Z", False),
    ],
)
def test_the_date_time_pattern_refuses_what_rfc_3339_allows_and_datetime_cannot_hold(
    text: str, taken: bool
) -> None:
    pattern = TypeAdapter(Timestamp).json_schema()["pattern"]
    assert bool(re.search(pattern, text)) is taken
    try:
        TypeAdapter(Timestamp).validate_python(text)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted is taken
