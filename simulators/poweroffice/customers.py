"""`/Customers`: the contact rules connectors trip over (unique ExternalImportReference and
ExternalNumber, a name or a person's names, a mail address with city and zip code)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from simulators.poweroffice.context import Ctx, Route
from simulators.poweroffice.fields import (
    apply_patch,
    check_types,
    read_object,
    read_patch,
    writable,
)
from simulators.poweroffice.listing import after, in_ranges, list_response
from simulators.poweroffice.problems import (
    cast_error,
    conflict,
    json_response,
    not_found,
    validation,
)

ENTITY = "Customer"
DELIVERY_TYPES = ("PdfByEmail", "Print", "EHF", "AvtaleGiro", "External", "Efaktura", "Factoring")
SCHEMA = {
    "Name": "str",
    "FirstName": "str",
    "LastName": "str",
    "IsPerson": "bool",
    "Number": "int",
    "LegalName": "str",
    "OrganizationNumber": "str",
    "NationalIdNumber": "str",
    "EmailAddress": "str",
    "InvoiceEmailAddress": "str",
    "InvoiceEmailAddressCC": "str",
    "PaymentReminderEmailAddress": "str",
    "PhoneNumber": "str",
    "WebsiteUrl": "str",
    "MailAddress": "dict",
    "ExternalImportReference": "str",
    "ExternalNumber": "int",
    "InvoiceDeliveryType": "str",
    "CurrencyCode": "str",
    "IsVatFree": "bool",
    "IsArchived": "bool",
    "DateOfBirth": "date",
    "CustomerSince": "date",
    "PaymentTermId": "int",
    "DeliveryTermId": "int",
    "DepartmentId": "int",
    "ContactGroupIds": "list",
    "Allowance": "num",
    "SendPaymentReminders": "bool",
    "UseInvoiceFee": "bool",
}
ADDRESS_SCHEMA = {
    "AddressLine1": "str",
    "AddressLine2": "str",
    "City": "str",
    "ZipCode": "str",
    "CountryCode": "str",
    "ExternalCode": "str",
}


async def create(ctx: Ctx) -> Response:
    body = await read_object(ctx.request, ENTITY)
    check_types(ENTITY, body, SCHEMA)
    fields = writable(body, SCHEMA)
    now = ctx.store.clock.stamp()
    customer: dict[str, Any] = {
        "Id": ctx.store.new_id(),
        **dict.fromkeys(SCHEMA),
        "IsPerson": False,
        "IsArchived": False,
        "IsVatFree": False,
        "CurrencyCode": "NOK",
        **fields,
        "IsActive": True,
        "ContactCreatedDateTimeOffset": now,
        "CustomerCreatedDateTimeOffset": now,
        "LastChangedDateTimeOffset": now,
    }
    if customer["Number"] is None:
        customer["Number"] = ctx.store.next_customer_no()
    _complete(ctx, customer)
    ctx.store.put_customer(customer)
    return json_response(customer, 201)


async def list_all(ctx: Ctx) -> Response:
    q = ctx.query
    numbers, external_nos = q.ranges("customerNos"), q.ranges("externalNos")
    ref = q.get("externalImportReference")
    changed = q.timestamp("lastChangedDateTimeOffsetGreaterThan")
    created = q.timestamp("customerCreatedDateTimeOffsetGreaterThan")
    table = ctx.store.customers
    rows = table.values() if ref is None else table.find("ExternalImportReference", ref)
    items = [
        c
        for c in rows
        if (numbers is None or in_ranges(c["Number"], numbers))
        and (external_nos is None or in_ranges(c["ExternalNumber"], external_nos))
        and after(c["LastChangedDateTimeOffset"], changed)
        and after(c["CustomerCreatedDateTimeOffset"], created)
    ]
    return list_response(ctx.request.url, q, items)


async def get(ctx: Ctx) -> Response:
    return json_response(_find(ctx))


async def patch(ctx: Ctx) -> Response:
    customer = _find(ctx)
    ops = await read_patch(ctx.request, ENTITY)
    patched = apply_patch(ENTITY, customer, ops, SCHEMA, {"MailAddress": ADDRESS_SCHEMA})
    if patched["Number"] is None:
        raise validation(ENTITY, "Number is required.")
    _complete(ctx, patched)
    patched["LastChangedDateTimeOffset"] = ctx.store.clock.stamp()
    ctx.store.put_customer(patched)
    return json_response(patched)


async def delete(ctx: Ctx) -> Response:
    customer = _find(ctx)
    if ctx.store.customer_in_use(customer["Id"]):
        raise conflict(f"Customer with id = {customer['Id']} is in use and can not be deleted.")
    del ctx.store.customers[customer["Id"]]
    return Response(status_code=200)


def _find(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.params["id"]
    if not raw.isdigit():
        raise cast_error(f"The value '{raw}' is not a valid Id.")
    customer = ctx.store.customers.get(int(raw))
    if customer is None:
        raise not_found(f"Customer with id = {raw} not found.")
    return customer


def _complete(ctx: Ctx, customer: dict[str, Any]) -> None:
    """Validate a new or patched customer in place and fill what the ERP derives."""
    if customer["IsPerson"]:
        full = " ".join(p for p in (customer["FirstName"], customer["LastName"]) if p)
        if not full:
            raise validation(ENTITY, "FirstName or LastName is required when IsPerson is true.")
        customer["Name"] = customer["Name"] or full
    elif not (customer["Name"] or "").strip():
        raise validation(ENTITY, "Name is required.")
    delivery = customer["InvoiceDeliveryType"]
    if delivery not in (None, *DELIVERY_TYPES):
        raise validation(ENTITY, f"InvoiceDeliveryType '{delivery}' is not valid.")
    _check_unique(ctx, customer)
    customer["MailAddress"] = _address(ctx, customer["MailAddress"])


def _check_unique(ctx: Ctx, customer: dict[str, Any]) -> None:
    ref = customer["ExternalImportReference"]
    if ref is not None and len(ref) > 50:
        raise validation(ENTITY, "ExternalImportReference can not be longer than 50 characters.")

    def other(key: str) -> dict[str, Any] | None:
        if customer[key] is None:
            return None
        same = ctx.store.customers.find(key, customer[key])
        return next((c for c in same if c["Id"] != customer["Id"]), None)

    for key in ("ExternalImportReference", "ExternalNumber"):
        owner = other(key)
        if owner is not None:
            raise validation(
                ENTITY,
                f"{key} is already in use. '{customer[key]}' is used on "
                f"(contact) Id = {owner['Id']}.",
            )
    if other("Number") is not None:
        raise validation(ENTITY, f"Number {customer['Number']} is already in use.")


def _address(ctx: Ctx, address: dict[str, Any] | None) -> dict[str, Any] | None:
    if address is None:
        return None
    check_types(ENTITY, address, ADDRESS_SCHEMA)
    fields = writable(address, ADDRESS_SCHEMA)
    for key in ("City", "ZipCode"):
        if not (fields.get(key) or "").strip():
            raise validation(ENTITY, f"MailAddress.{key} is required.")
    return {
        "Id": address.get("Id") or ctx.store.new_id(),
        **dict.fromkeys(ADDRESS_SCHEMA),
        "CountryCode": "NO",
        **fields,
        "LastChangedDateTimeOffset": ctx.store.clock.stamp(),
    }


ROUTES: list[Route] = [
    ("GET", "/Customers", list_all),
    ("POST", "/Customers", create),
    ("GET", "/Customers/{id}", get),
    ("PATCH", "/Customers/{id}", patch),
    ("DELETE", "/Customers/{id}", delete),
]
