"""`crm/Accounts` and `crm/Contacts`: the customer rules connectors trip over.

An account Code is 18 characters, right-aligned with leading spaces (`"              1001"`), so
`Code eq '1001'` finds nothing and clients filter with `trim(Code)` or the padded value; when the
Code is left out the account gets the highest numeric code plus one. Name is mandatory; Status
is C (customer), P (prospect), S (suspect) or A (none). A contact needs its account and both names.
"""

from __future__ import annotations

from simulators.exact import schema
from simulators.exact.context import (
    Ctx,
    Problems,
    Row,
    Writer,
    blank_row,
    reference,
    stamp,
)
from simulators.exact.errors import ApiError
from simulators.exact.values import new_guid

CODE_LENGTH = 18
STATUSES = ("C", "P", "S", "A")
_DOCUMENT_PARTIES = (
    (schema.SALES_ORDERS, ("OrderedBy", "DeliverTo", "InvoiceTo")),
    (schema.SALES_INVOICES, ("OrderedBy", "DeliverTo", "InvoiceTo")),
    (schema.SALES_ENTRIES, ("Customer",)),
)


def pad_code(code: str) -> str:
    return code.strip().rjust(CODE_LENGTH)


def create_account(ctx: Ctx, values: Row) -> Row:
    row = {
        **blank_row(schema.ACCOUNTS),
        "Status": "C",
        "Type": "A",
        "Blocked": False,
        "IsSupplier": False,
        "IsReseller": False,
        "IsCompetitor": False,
        "IsPilot": False,
        **values,
        "ID": new_guid(),
    }
    if row["IsSales"] is None:
        row["IsSales"] = row["Status"] == "C"
    if row["Code"] is None or not row["Code"].strip():
        row["Code"] = pad_code(str(_highest_code(ctx) + 1))
    _check_account(ctx, row)
    return stamp(ctx, row, created=True)


def update_account(ctx: Ctx, row: Row, values: Row) -> Row:
    updated = {**row, **values}
    _check_account(ctx, updated)
    return stamp(ctx, updated, created=False)


def delete_account(ctx: Ctx, row: Row) -> None:
    for entity_set, fields in _DOCUMENT_PARTIES:
        if any(doc[field] == row["ID"] for doc in ctx.store.rows(entity_set) for field in fields):
            raise ApiError(400, ("in_use",))
    for contact in list(ctx.store.rows(schema.CONTACTS)):
        if contact["Account"] == row["ID"]:
            del ctx.store.tables[schema.CONTACTS.path][contact["ID"]]


def _check_account(ctx: Ctx, row: Row) -> None:
    problems = Problems()
    problems.need(row, "Name")
    problems.raise_any()
    if len(row["Code"].strip()) > CODE_LENGTH:
        raise ApiError(400, ("too_long", "Code", str(CODE_LENGTH)))
    row["Code"] = pad_code(row["Code"])
    if any(
        other["Code"] == row["Code"] and other["ID"] != row["ID"]
        for other in ctx.store.rows(schema.ACCOUNTS)
    ):
        raise ApiError(400, ("duplicate_code", row["Code"].strip()))
    if row["Status"] not in STATUSES:
        raise ApiError(400, ("invalid_value", "Status"))
    if row["Country"]:
        country = row["Country"].strip().upper()
        row["Country"] = country.ljust(3) if ctx.options.pad_country else country
    if row["SalesVATCode"] and ctx.store.vat_code(row["SalesVATCode"]) is None:
        raise ApiError(ctx.options.bad_reference_status, ("reference", "VATCodes"))


def _highest_code(ctx: Ctx) -> int:
    codes = [
        int(row["Code"]) for row in ctx.store.rows(schema.ACCOUNTS) if row["Code"].strip().isdigit()
    ]
    return max(codes, default=0)


def create_contact(ctx: Ctx, values: Row) -> Row:
    row = {**blank_row(schema.CONTACTS), "IsMainContact": False, **values, "ID": new_guid()}
    _check_contact(ctx, row)
    return stamp(ctx, row, created=True)


def update_contact(ctx: Ctx, row: Row, values: Row) -> Row:
    updated = {**row, **values}
    _check_contact(ctx, updated)
    return stamp(ctx, updated, created=False)


def delete_contact(ctx: Ctx, row: Row) -> None:
    return None


def _check_contact(ctx: Ctx, row: Row) -> None:
    problems = Problems()
    problems.need(row, "Account", "FirstName", "LastName")
    problems.raise_any()
    account = reference(ctx, schema.ACCOUNTS, row["Account"])
    row["AccountCode"], row["AccountName"] = account["Code"], account["Name"]
    names = (row["FirstName"], row["MiddleName"], row["LastName"])
    row["FullName"] = " ".join(name.strip() for name in names if name and name.strip())


WRITERS = {
    schema.ACCOUNTS.path: Writer(create_account, update_account, delete_account),
    schema.CONTACTS.path: Writer(create_contact, update_contact, delete_contact),
}
