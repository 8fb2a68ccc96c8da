"""What Exact Online checks when an account, contact or sales document is created, in the order
Exact checks it (so the first refusal is the one a real run meets), and the amounts it computes
for a document's lines (erp/exact-online.md, sections 6 to 8).

Item lines are priced as Exact does: price and VAT code from the item unless the line gives
them, NetPrice = UnitPrice x (1 - Discount), each line's amount and VAT rounded to cents before
they add up. A sales entry's line is an amount on a G/L account, with that account's VAT code
unless the line names one. A credit invoice's quantities come out negative either way (whether
Exact wants them sent negative is unconfirmed, so neither form is refused here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

from connectors.exact.lookups import Lookups
from connectors.exact.refusal import (
    REQUEST_STREAM,
    Message,
    Refused,
    bad_reference,
    mandatory,
    not_a_guid,
)

Row = dict[str, Any]
AccountOf = Callable[[str, str], Row | None]  # (account id, the field naming it) -> the account
CENT = Decimal("0.01")
NO_VAT = "0  "
ACCOUNT_STATUSES = ("C", "P", "S", "A")
INVOICE_TYPES = (8020, 8021, 8023, 8024)
DIRECT_TYPES = (8023, 8024)
CREDIT_TYPES = (8021, 8024)
ENTRY, CREDIT_ENTRY = 20, 21
GUID_FIELDS = frozenset(
    {"OrderedBy", "InvoiceTo", "DeliverTo", "Customer", "Warehouse", "WarehouseID", "Account"}
    | {"InvoiceID", "Item", "GLAccount"}
)
PARTIES = ("OrderedBy", "DeliverTo", "InvoiceTo")


@dataclass
class Booked:
    """A document as Exact would complete it: its priced lines and totals."""

    lines: list[Row] = field(default_factory=list)
    excl: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)  # price x quantity before discounts (item lines)

    @property
    def total(self) -> Decimal:
        return money(self.excl + self.vat)


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def decimal(value: Any, default: str = "0") -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(default)


class Checks:
    def __init__(self, lookups: Lookups, account_of: AccountOf) -> None:
        self.lookups, self.account_of = lookups, account_of

    # --- crm ----------------------------------------------------------------------------------
    def account(self, values: Row) -> None:
        convertible(values, None)
        refuse_any(mandatory(values, "Name"))
        if values.get("Status", "C") not in ACCOUNT_STATUSES:
            raise Refused(400, ("invalid_value", "Status"))
        code = values.get("SalesVATCode")
        if code and self.lookups.vat_percentage(str(code)) is None:
            raise bad_reference("VATCodes")

    def contact(self, values: Row) -> Row:
        """The contact's account (Exact copies its code and name onto the contact)."""
        convertible(values, None)
        refuse_any(mandatory(values, "Account", "FirstName", "LastName"))
        return self._account(values["Account"], "Account")

    # --- documents ----------------------------------------------------------------------------
    def order(self, values: Row) -> Booked:
        lines = convertible(values, "SalesOrderLines")
        refuse_any([*mandatory(values, "OrderedBy"), *lines_missing(values, "SalesOrderLines")])
        self._parties(values)
        if values.get("WarehouseID") and not self.lookups.warehouse_exists(values["WarehouseID"]):
            raise bad_reference("Warehouses")
        return self._item_lines(lines, credit=False)

    def invoice(self, values: Row) -> Booked:
        lines = convertible(values, "SalesInvoiceLines")
        problems = mandatory(values, "Journal")
        if values.get("OrderedBy") is None and values.get("InvoiceTo") is None:
            problems.append(("mandatory", "InvoiceTo"))
        refuse_any(
            [
                *problems,
                *mandatory(values, "OrderedBy"),
                *lines_missing(values, "SalesInvoiceLines"),
            ]
        )
        kind = values.get("Type", 8020)
        if kind not in INVOICE_TYPES:
            raise Refused(400, ("invalid_value", "Type"))
        self._journal(str(values["Journal"]))
        self._parties(values)
        warehouse = values.get("Warehouse")
        if kind in DIRECT_TYPES:
            if warehouse is None:
                raise Refused(400, ("mandatory", "Warehouse"))
            if not self.lookups.warehouse_exists(warehouse):
                raise bad_reference("Warehouses")
        elif warehouse is not None:
            raise Refused(400, ("warehouse_not_allowed",))
        return self._item_lines(lines, credit=kind in CREDIT_TYPES)

    def entry(self, values: Row) -> tuple[Booked, int]:
        """The entry's lines and totals, and the type Exact gives it (21 when negative)."""
        lines = convertible(values, "SalesEntryLines")
        problems = [*mandatory(values, "Customer", "Journal")]
        problems += lines_missing(values, "SalesEntryLines", "AmountFC", "GLAccount")
        refuse_any(problems)
        sent_type = values.get("Type")
        if sent_type is not None and sent_type not in (ENTRY, CREDIT_ENTRY):
            raise Refused(400, ("invalid_value", "Type"))
        self._journal(str(values["Journal"]))
        self._account(values["Customer"], "Customer")
        booked = Booked()
        for line in lines:
            booked.lines.append(self._entry_line(line, booked))
        if values.get("AmountFC") is not None:  # a total the client gives is kept as given
            booked.vat = decimal(values["AmountFC"]) - booked.excl
        if values.get("VATAmountFC") is not None:
            booked.vat = decimal(values["VATAmountFC"])
        derived = CREDIT_ENTRY if booked.total < 0 else ENTRY
        if sent_type is not None and sent_type != derived:
            raise Refused(400, ("invalid_value", "Type"))
        return booked, derived

    # --- parts --------------------------------------------------------------------------------
    def _account(self, account_id: str, sent_as: str) -> Row:
        account = self.account_of(account_id, sent_as)
        if account is None:
            raise bad_reference("Accounts")
        return account

    def _parties(self, values: Row) -> None:
        for party in PARTIES:
            if values.get(party) is not None:
                self._account(values[party], party)

    def _journal(self, code: str) -> None:
        journal = self.lookups.journal(code)
        if journal is None:
            raise bad_reference("Journals")
        if journal.get("Type") != 20:  # a sales journal
            raise Refused(400, ("not_sales_journal", code))

    def _vat(self, code: str | None) -> Decimal:
        percentage = self.lookups.vat_percentage(code) if code else None
        if percentage is None:
            raise bad_reference("VATCodes")
        return percentage

    def _item_lines(self, lines: list[Row], credit: bool) -> Booked:
        items = self.lookups.items([str(line["Item"]) for line in lines])
        booked = Booked()
        for line in lines:
            item = items.get(str(line["Item"]))
            if item is None:
                raise bad_reference("Items")
            quantity = decimal(line.get("Quantity"), "1")
            if credit:
                quantity = -abs(quantity)
            price = line.get("UnitPrice")
            unit_price = decimal(price if price is not None else item.get("StandardSalesPrice"))
            discount = decimal(line.get("Discount"))
            if line.get("NetPrice") is not None:
                net_price = decimal(line["NetPrice"])
                if line.get("Discount") is None and unit_price:
                    discount = 1 - net_price / unit_price
            else:
                net_price = unit_price * (1 - discount)
            code = line.get("VATCode") or item.get("SalesVatCode")
            percentage = self._vat(code)
            amount = money(net_price * quantity)
            vat = money(amount * percentage)
            booked.lines.append(
                {
                    **line,
                    "Quantity": number(quantity),
                    "UnitPrice": number(unit_price),
                    "Discount": float(round(discount, 6)),
                    "NetPrice": float(money(net_price)),
                    "AmountFC": float(amount),
                    "AmountDC": float(amount),
                    "VATCode": code,
                    "VATPercentage": float(percentage),
                    "VATAmount": float(vat),
                }
            )
            booked.excl += amount
            booked.vat += vat
            booked.gross += unit_price * quantity
        return booked

    def _entry_line(self, line: Row, booked: Booked) -> Row:
        account = self.lookups.gl_account(str(line["GLAccount"]))
        if account is None:
            raise bad_reference("GLAccounts")
        code = line.get("VATCode") or account.get("VATCode") or NO_VAT
        percentage = self._vat(code)
        amount = decimal(line["AmountFC"])
        sent_vat = line.get("VATAmountFC")
        vat = decimal(sent_vat) if sent_vat is not None else amount * percentage
        booked.excl += money(amount)
        booked.vat += money(vat)
        return {
            **line,
            "VATCode": code,
            "VATPercentage": float(percentage),
            "AmountFC": float(money(amount)),
            "AmountDC": float(money(amount)),
            "VATBaseAmountFC": float(money(amount)),
            "VATAmountFC": float(money(vat)),
            "VATAmountDC": float(money(vat)),
        }


def convertible(values: Row, lines_name: str | None) -> list[Row]:
    """The document's lines, after the checks of Exact's request reader: lines come as an
    array of objects, and GUID properties hold GUIDs (the first property that does not is named).
    """
    lines: list[Row] = []
    for name, value in values.items():
        if name == lines_name:
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
                raise Refused(400, ("text", REQUEST_STREAM))
            for line in value:
                convertible(line, None)
            lines = value
        elif name in GUID_FIELDS and value is not None and not is_guid(value):
            raise not_a_guid(name)
    return lines


def is_guid(value: Any) -> bool:
    try:
        UUID(str(value).strip().strip("{}"))
    except ValueError:
        return False
    return isinstance(value, str)


def lines_missing(values: Row, lines_name: str, *line_fields: str) -> list[Message]:
    """The "Mandatory" messages of a document without lines, and of its lines' blank fields
    (`Item` for item lines unless `line_fields` are named)."""
    lines = values.get(lines_name) or []
    found: list[Message] = [] if lines else [("mandatory", lines_name)]
    for line in lines:
        found += mandatory(line, *(line_fields or ("Item",)))
    return found


def refuse_any(messages: list[Message]) -> None:
    unique = list(dict.fromkeys(messages))
    if unique:
        raise Refused(400, *unique)


def number(value: Decimal) -> float | int:
    """A JSON number without a needless fraction: 2 rather than 2.0."""
    return int(value) if value == value.to_integral_value() else float(value)
