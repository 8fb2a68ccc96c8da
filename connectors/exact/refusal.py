"""Exact Online's refusals as a dry run gives them: the ERP's error body and its texts, in the
user's language (validation texts follow it; texts of the OData layer underneath are always
English), so that the message a connector raises on a stand-in's refusal is word for word the
one a real run dead-letters with (erp/exact-online.md, section 5)."""

from __future__ import annotations

from typing import Any

CRLF = "\r\n"
# Exact has answered a bad reference with both 400 and 500; 400 is the documented one.
BAD_REFERENCE_STATUS = 400

# key -> (English, Dutch); "{0}" is the first argument, a field name becomes its label.
_TEXTS: dict[str, tuple[str, str]] = {
    "mandatory": ("Mandatory: {0}", "Verplicht: {0}"),
    "reference": ("Invalid reference: {0}", "Ongeldige referentie: {0}"),
    "invalid_value": ("Invalid value: {0}", "Ongeldige waarde: {0}"),
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
}
_LABELS: dict[str, tuple[str, str]] = {
    "Name": ("Name", "Naam"),
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
    "Type": ("Type", "Type"),
    "SalesOrderLines": ("Sales order lines", "Verkooporderregels"),
    "SalesInvoiceLines": ("Sales invoice lines", "Verkoopfactuurregels"),
    "SalesEntryLines": ("Sales entry lines", "Boekingsregels"),
}
REQUEST_STREAM = (
    "Error processing request stream. The request should be a valid top-level resource object."
)
CLR_GUID = "System.Guid"

Message = tuple[str, ...]  # (key, *arguments), or ("text", literal) for untranslated texts


class Refused(Exception):
    """What Exact would answer instead of writing: a status and its messages."""

    def __init__(self, status: int, *messages: Message) -> None:
        super().__init__(f"{status}: {messages}")
        self.status, self.messages = status, messages

    def text(self, language: str) -> str:
        return CRLF.join(render(message, language) for message in self.messages)


def render(message: Message, language: str) -> str:
    key, *args = message
    if key == "text":
        return args[0]
    index = 1 if language == "nl" else 0
    labels = [_LABELS[arg][index] if arg in _LABELS else arg for arg in args]
    return _TEXTS[key][index].format(*labels)


def needs_language(refusal: Refused) -> bool:
    """Does any of the texts depend on the user's language (worth a read to find out)?"""
    return any(message[0] != "text" for message in refusal.messages)


def error_body(text: str) -> dict[str, Any]:
    return {"error": {"code": "", "message": {"lang": "", "value": text}}}


def mandatory(values: dict[str, Any], *names: str) -> list[Message]:
    """One "Mandatory" message per blank field (Exact names them all in one answer)."""
    return [("mandatory", name) for name in names if blank(values.get(name))]


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def bad_reference(entity_set: str) -> Refused:
    return Refused(BAD_REFERENCE_STATUS, ("reference", entity_set))


def not_a_guid(field: str) -> Refused:
    """WCF's answer to a GUID property whose value does not convert."""
    return Refused(
        400,
        (
            "text",
            f"Error processing request stream. Error encountered in converting the value "
            f"from request payload for property '{field}' to type '{CLR_GUID}', which is the "
            f"property's type. Make sure the payload is convertible to the expected type.",
        ),
    )
