"""Duett's address rules (address-v2): the part of a customer connectors most often get wrong.

A Norwegian address needs a `zipCodeKey` from Duett's postcode register (postcodes cannot be
added), and Duett fills in `zipCodeName` from it. An address abroad has `isForeign` true or a
country other than Norway, must name that country (a name, not a code) and carries no
`zipCodeKey`: the register only knows Norwegian postcodes.
"""

from __future__ import annotations

from typing import Any

from simulators.duett.fields import convert, pick, required
from simulators.duett.options import DuettSimOptions
from simulators.duett.problems import invalid
from simulators.duett.register import POSTCODES

SCHEMA = {
    "address1": "str",
    "address2": "str",
    "address3": "str",
    "zipCodeKey": "str",
    "zipCodeName": "str",
    "isForeign": "bool",
    "country": "str",
}
NORWAY = "Norge"
NORWAY_NAMES = ("norge", "norway", "noreg")


def unknown_postcode(postcode: str) -> str:
    """Duett's own wording (quoted by Opter's manual), with its `{0}` filled in."""
    return f"The postcode {postcode} is not in Duett"


def address(field: str, raw: Any, options: DuettSimOptions) -> dict[str, Any]:
    """A validated address in Duett's shape; `field` names it in errors (e.g. `address`)."""
    fields = pick(convert(field, raw, "dict"), SCHEMA, f"{field}.")
    prefix = f"{field}."
    required(fields, "address1", prefix)
    country = (fields.get("country") or "").strip() or None
    if country is not None and len(country) <= 3 and country.isupper():
        raise invalid(
            f"{prefix}country",
            f"{prefix}country must be a country name such as 'Sverige', not the code '{country}'.",
        )
    foreign = fields.get("isForeign") is True or (
        country is not None and country.lower() not in NORWAY_NAMES
    )
    postcode = (fields.get("zipCodeKey") or "").strip() or None
    if foreign:
        if country is None or country.lower() in NORWAY_NAMES:
            raise invalid(
                f"{prefix}country",
                f"The {prefix}country field is required for an address abroad (a country name).",
            )
        if postcode is not None and not options.foreign_postcode_dropped:
            raise invalid(
                f"{prefix}zipCodeKey", f"{prefix}zipCodeKey must be null for an address abroad."
            )
        postcode, place = None, None
    else:
        required({"zipCodeKey": postcode}, "zipCodeKey", prefix)
        place = POSTCODES.get(str(postcode))
        if place is None:
            raise invalid(f"{prefix}zipCodeKey", unknown_postcode(str(postcode)))
        country = country or NORWAY
    return {
        "address1": fields["address1"],
        "address2": fields.get("address2"),
        "address3": fields.get("address3"),
        "zipCodeKey": postcode,
        "zipCodeName": place,
        "isForeign": foreign,
        "country": country,
    }
