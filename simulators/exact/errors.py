"""Exact Online's error answers: one body shape, messages in the user's language.

Every API error is `{"error":{"code":"","message":{"lang":"","value":"<text>"}}}`; several
messages are joined with CRLF. Validation texts follow the user's language (Dutch: "Verplicht:
Besteld door"), while texts from the OData layer underneath (WCF Data Services) are always
English. Handlers raise `ApiError` with message keys; the app renders it in the configured
language, so no handler needs to know the language.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

CRLF = "\r\n"
GENERIC_500 = (
    "A problem has occurred. The cause of this issue will be investigated as soon as possible."
)
REQUEST_STREAM = (
    "Error processing request stream. The request should be a valid top-level resource object."
)

# key -> (English, Dutch); "{0}" is the first argument, field names become labels.
_TEXTS: dict[str, tuple[str, str]] = {
    "mandatory": ("Mandatory: {0}", "Verplicht: {0}"),
    "reference": ("Invalid reference: {0}", "Ongeldige referentie: {0}"),
    "invalid_value": ("Invalid value: {0}", "Ongeldige waarde: {0}"),
    "duplicate_code": ("Code {0} already exists", "Code {0} bestaat al"),
    "too_long": ("{0} is longer than {1} characters", "{0} is langer dan {1} tekens"),
    "not_sales_journal": (
        "Invalid journal: {0} is not a sales journal",
        "Ongeldig dagboek: {0} is geen verkoopboek",
    ),
    "warehouse_not_allowed": (
        "Warehouse is only allowed on a direct invoice",
        "Magazijn is alleen toegestaan bij een directe factuur",
    ),
    "processed": (
        "The invoice has been processed and can not be changed",
        "De factuur is verwerkt en kan niet meer worden gewijzigd",
    ),
    "in_use": (
        "The record is in use and can not be deleted",
        "Het record is in gebruik en kan niet worden verwijderd",
    ),
}
_LABELS: dict[str, tuple[str, str]] = {
    "Name": ("Name", "Naam"),
    "Code": ("Code", "Code"),
    "Description": ("Description", "Omschrijving"),
    "Account": ("Account", "Relatie"),
    "FirstName": ("First name", "Voornaam"),
    "LastName": ("Last name", "Achternaam"),
    "OrderedBy": ("Ordered by", "Besteld door"),
    "InvoiceTo": ("Invoice to", "Factuur voor"),
    "Item": ("Item", "Artikel"),
    "Journal": ("Journal", "Dagboek"),
    "Customer": ("Customer", "Klant"),
    "Warehouse": ("Warehouse", "Magazijn"),
    "GLAccount": ("G/L account", "Grootboekrekening"),
    "AmountFC": ("Amount", "Bedrag"),
    "InvoiceID": ("Invoice", "Factuur"),
    "Status": ("Status", "Status"),
    "Type": ("Type", "Type"),
    "VATCode": ("VAT code", "Btw-code"),
    "SalesOrderLines": ("Sales order lines", "Verkooporderregels"),
    "SalesInvoiceLines": ("Sales invoice lines", "Verkoopfactuurregels"),
    "SalesEntryLines": ("Sales entry lines", "Boekingsregels"),
}

Message = tuple[str, ...]  # (key, *arguments), or ("text", literal) for untranslated texts


class ApiError(Exception):
    """Raised by handlers; the app renders it as the Exact error body."""

    def __init__(
        self, status: int, *messages: Message, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {messages}")
        self.status, self.messages, self.headers = status, messages, headers or {}

    def response(self, language: str) -> Response:
        texts = [render_message(message, language) for message in self.messages]
        return error_response(self.status, CRLF.join(texts), self.headers)


def text_error(status: int, text: str) -> ApiError:
    """An error whose text is not translated (it comes from the OData layer)."""
    return ApiError(status, ("text", text))


def render_message(message: Message, language: str) -> str:
    key, *args = message
    if key == "text":
        return args[0]
    index = 1 if language == "nl" else 0
    labels = [_LABELS[arg][index] if arg in _LABELS else arg for arg in args]
    return _TEXTS[key][index].format(*labels)


def json_response(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(
        body, status_code=status, headers=headers, media_type="application/json; charset=utf-8"
    )


def error_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"code": "", "message": {"lang": "", "value": text}}}
    return json_response(body, status, headers)


def unauthorized() -> Response:
    """A missing, unknown or expired bearer token (the real body is unconfirmed)."""
    return error_response(
        401,
        "Unauthorized: the access token is missing, invalid or expired.",
        {"WWW-Authenticate": "Bearer"},
    )


_USUAL_TEXTS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Resource not found for the segment.",
    405: "Method Not Allowed",
    409: "Conflict",
    500: GENERIC_500,
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def usual_error(status: int, headers: dict[str, str] | None = None) -> Response:
    """What the real service answers for `status` when nothing more specific is known."""
    if status == 401:
        return unauthorized()
    return error_response(status, _USUAL_TEXTS.get(status, f"Error {status}"), headers)
