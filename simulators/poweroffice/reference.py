"""Fixed reference data of the simulated client: its privileges, its sales accounts and VAT codes.

A connector may read the sales accounts to learn which VAT a product's account implies; the
values come from the table in `store.SALES_ACCOUNTS`, the same one that prices order lines.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.poweroffice.context import Ctx, Route
from simulators.poweroffice.listing import in_ranges, list_response
from simulators.poweroffice.problems import json_response
from simulators.poweroffice.store import SALES_ACCOUNTS

CLIENT_ID = "6f1d2c44-0e1b-4c51-9a41-5e0d3f1c2b7a"
CLIENT_NAME = "Demo Simulert AS"
PRIVILEGES = [
    "Customer_Full",
    "Product_Full",
    "SalesOrders_Full",
    "SalesOrderAttachment_Full",
    "OutgoingInvoice_Full",
]
SEND_PRIVILEGE = "SalesOrders_SendInvoice"  # the real name of this privilege is unconfirmed


async def client_information(ctx: Ctx) -> Response:
    valid, invalid = list(PRIVILEGES), list[str]()
    (valid if ctx.options.send_privilege else invalid).append(SEND_PRIVILEGE)
    return json_response(
        {
            "ClientId": CLIENT_ID,
            "ClientName": CLIENT_NAME,
            "ValidPrivileges": valid,
            "InvalidPrivileges": invalid,
            "ActiveClientSubscriptions": ["Invoicing", "Accounting"],
        }
    )


async def ledger_accounts(ctx: Ctx) -> Response:
    numbers = ctx.query.ranges("accountNos")
    items = [_account_dto(no) for no in SALES_ACCOUNTS if numbers is None or in_ranges(no, numbers)]
    return list_response(ctx.request.url, ctx.query, items)


async def vat_codes(ctx: Ctx) -> Response:
    codes = {a.vat_code: a for a in SALES_ACCOUNTS.values()}
    items = [
        {
            "Id": index + 1,
            "Code": code,
            "Name": f"Utgående mva {account.vat_rate:.0%}",
            "Rate": float(account.vat_rate),
            "IsActive": True,
            "ValidFrom": "2017-01-01",
            "ValidTo": None,
        }
        for index, (code, account) in enumerate(codes.items())
    ]
    return list_response(ctx.request.url, ctx.query, items)


def _account_dto(account_no: int) -> dict[str, Any]:
    account = SALES_ACCOUNTS[account_no]
    return {
        "Id": account.id,
        "AccountNo": account.account_no,
        "Name": account.name,
        "GeneralLedgerAccountType": "Income",
        "VatCode": account.vat_code,
        "IsActive": True,
        "CurrencyCode": "NOK",
        "IsVatCodeLocked": False,
        "LastChangedDateTimeOffset": "2024-01-01T00:00:00.0000000+00:00",
    }


ROUTES: list[Route] = [
    ("GET", "/ClientIntegrationInformation", client_information),
    ("GET", "/GeneralLedgerAccounts", ledger_accounts),
    ("GET", "/VatCodes", vat_codes),
]
