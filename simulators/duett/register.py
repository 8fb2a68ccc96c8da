"""Duett's fixed registers: the postcode register customers are validated against (postcodes
cannot be added through the API), the account intervals that number customers, and the EDI
style sheets an invoice may use. They survive `/_sim/reset`: they are Duett's, not the
company's data."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.duett.context import Ctx, Route
from simulators.duett.listing import list_response

# A small slice of Posten's register; deliberately without 9999, which tests use as unknown.
POSTCODES: dict[str, str] = {
    "0150": "OSLO",
    "0155": "OSLO",
    "0158": "OSLO",
    "0250": "OSLO",
    "0464": "OSLO",
    "0560": "OSLO",
    "1337": "SANDVIKA",
    "2000": "LILLESTRØM",
    "3015": "DRAMMEN",
    "4006": "STAVANGER",
    "5003": "BERGEN",
    "5015": "BERGEN",
    "6002": "ÅLESUND",
    "7010": "TRONDHEIM",
    "8006": "BODØ",
    "9008": "TROMSØ",
}
ZIP_CODES: list[dict[str, Any]] = [
    {"id": index + 1, "zipCodeKey": key, "zipCodeName": name}
    for index, (key, name) in enumerate(POSTCODES.items())
]
ZIP_FIELDS = {"id": "int", "zipCodeKey": "str", "zipCodeName": "str"}

# Customer and supplier number series; `autoCustomerNumberFromSerieId` names one by id.
ACCOUNT_INTERVALS: list[dict[str, Any]] = [
    {
        "id": 1,
        "accountType": "customer",
        "name": "Kunder",
        "fromNumber": 10000,
        "toNumber": 19999,
        "isDefault": True,
    },
    {
        "id": 2,
        "accountType": "customer",
        "name": "Bedriftskunder",
        "fromNumber": 50000,
        "toNumber": 59999,
        "isDefault": False,
    },
    {
        "id": 3,
        "accountType": "supplier",
        "name": "Leverandører",
        "fromNumber": 20000,
        "toNumber": 29999,
        "isDefault": True,
    },
]
INTERVAL_FIELDS = {
    "id": "int",
    "accountType": "str",
    "name": "str",
    "fromNumber": "int",
    "toNumber": "int",
    "isDefault": "bool",
}

STYLE_SHEETS: list[dict[str, Any]] = [
    {"id": 1, "name": "Standard faktura", "stylesheetType": "invoice", "isDefault": True},
    {"id": 2, "name": "Faktura med logo", "stylesheetType": "invoice", "isDefault": False},
    {"id": 3, "name": "Standard purring", "stylesheetType": "reminder", "isDefault": False},
]
STYLE_FIELDS = {"id": "int", "name": "str", "stylesheetType": "str", "isDefault": "bool"}


def customer_interval(interval_id: int | None) -> dict[str, Any] | None:
    """The customer number series by id; the default one when no id is given."""
    return next(
        (
            i
            for i in ACCOUNT_INTERVALS
            if i["accountType"] == "customer"
            and (i["id"] == interval_id if interval_id is not None else i["isDefault"])
        ),
        None,
    )


def style_sheet(sheet_id: int) -> dict[str, Any] | None:
    return next((s for s in STYLE_SHEETS if s["id"] == sheet_id), None)


async def zip_codes(ctx: Ctx) -> Response:
    return list_response(ctx, ZIP_CODES, ZIP_FIELDS)


async def account_intervals(ctx: Ctx) -> Response:
    return list_response(ctx, ACCOUNT_INTERVALS, INTERVAL_FIELDS)


async def style_sheets(ctx: Ctx) -> Response:
    return list_response(ctx, STYLE_SHEETS, STYLE_FIELDS)


def routes(zipcodes: str, intervals: str, stylesheets: str) -> list[Route]:
    return [
        ("GET", zipcodes, zip_codes),
        ("GET", intervals, account_intervals),
        ("GET", stylesheets, style_sheets),
    ]
