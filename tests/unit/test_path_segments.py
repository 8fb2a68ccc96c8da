"""Caller-supplied ids become exactly one URL path segment, or nothing is sent (issue 17)."""

from __future__ import annotations

import httpx
import pytest

from connectors.errors import InvalidId, classify
from connectors.http import digits, guid, segment


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("123", "123"),
        ("A-1_b.c~", "A-1_b.c~"),
        ("1?PageSize=1", "1%3FPageSize%3D1"),
        ("../x", "..%2Fx"),
        ("a/b", "a%2Fb"),
        ("%18", "%2518"),
        ("\x18", "%18"),
        ("1#frag", "1%23frag"),
        ("æ ø", "%C3%A6%20%C3%B8"),
    ],
)
def test_one_segment_whatever_the_characters(value: str, encoded: str) -> None:
    assert segment(value) == encoded
    url = httpx.URL(f"http://erp.invalid/v2/OutgoingInvoices/{segment(value)}/Lines")
    assert url.path.startswith("/v2/OutgoingInvoices/") and url.path.endswith("/Lines")
    assert url.raw_path.decode().count("/") == 4 and not url.query  # still one segment


@pytest.mark.parametrize("value", ["", ".", "..", "x" * 201])
def test_values_that_name_no_resource_are_refused(value: str) -> None:
    with pytest.raises(InvalidId):
        segment(value)


def test_guids_and_digits() -> None:
    assert guid("7F1C1D6A-0B8A-4B1C-9C4A-3C7E2F1B0A11") == "7f1c1d6a-0b8a-4b1c-9c4a-3c7e2f1b0a11"
    assert digits("12345") == "12345"
    for bad in ("1?x", "x", "0x1", "", "1" * 21, "١٢"):
        with pytest.raises(InvalidId):
            digits(bad)
    with pytest.raises(InvalidId):
        guid("') or 1 eq 1 or ('")
    assert classify(InvalidId("not an id")).kind == "permanent"
