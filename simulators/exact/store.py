"""The simulated Exact Online company (one division): its rows, counters and fixed reference data.

Rows are kept in Exact's own JSON shape (PascalCase properties, `/Date(ms)/` dates, lowercase
GUIDs), lines inside their document under the navigation property, so `/_sim/state` and the API
answer from the same data. Handlers run on the server's single event loop and never await between
checking and writing, which makes uniqueness checks and number sequences race-free.

The reference data has fixed GUIDs, exported so tests and the demo configuration can name them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from simulators.exact import schema
from simulators.exact.options import WAREHOUSE_ID
from simulators.exact.schema import EntitySet
from simulators.exact.values import exact_date

SALES_JOURNAL_CODE = "70"
SALES_JOURNAL_ID = "00000070-0000-4000-8000-000000000070"
GL_ACCOUNT_8000_ID = "00008000-0000-4000-8000-000000008000"
GL_ACCOUNT_8010_ID = "00008010-0000-4000-8000-000000008010"
GL_ACCOUNT_1300_ID = "00001300-0000-4000-8000-000000001300"
USER_ID = "0000d3e0-0000-4000-8000-00000000d3e0"
DIVISION_CUSTOMER_ID = "0000c057-0000-4000-8000-00000000c057"
VAT_CODE_IDS = {
    "0": "00000000-0000-4000-8000-000000000a00",
    "1": "00000000-0000-4000-8000-000000000a01",
    "2": "00000000-0000-4000-8000-000000000a02",
}
SALES_JOURNAL_TYPE = 20
_EPOCH = exact_date(datetime(2020, 1, 1, tzinfo=UTC))

# (ID, Code, Description, Type, TypeDescription)
_JOURNALS = [
    ("00000010-0000-4000-8000-000000000010", "10", "Kas", 10, "Cash"),
    ("00000020-0000-4000-8000-000000000020", "20", "Bank", 12, "Bank"),
    (SALES_JOURNAL_ID, SALES_JOURNAL_CODE, "Verkoopboek", SALES_JOURNAL_TYPE, "Sales entry"),
    ("00000060-0000-4000-8000-000000000060", "60", "Inkoopboek", 22, "Purchase entry"),
    ("00000090-0000-4000-8000-000000000090", "90", "Memoriaal", 90, "General journal"),
]
# (ID, Code, Description, Type, TypeDescription, BalanceType, VATCode)
_GL_ACCOUNTS = [
    (GL_ACCOUNT_1300_ID, "1300", "Debiteuren", 20, "Accounts receivable", "B", None),
    (GL_ACCOUNT_8000_ID, "8000", "Omzet hoog", 110, "Revenue", "W", "2  "),
    (GL_ACCOUNT_8010_ID, "8010", "Omzet laag", 110, "Revenue", "W", "1  "),
]
# (Code, Description, Percentage)
_VAT_CODES = [
    ("0  ", "Geen btw", 0.0),
    ("1  ", "Verkopen laag", 0.09),
    ("2  ", "Verkopen hoog", 0.21),
]


class Store:
    def __init__(self, division: int, warehouse_id: str = WAREHOUSE_ID) -> None:
        self.division, self.warehouse_id = division, warehouse_id
        self.tables: dict[str, dict[Any, dict[str, Any]]] = {
            path: {}
            for path in (
                schema.ACCOUNTS.path,
                schema.CONTACTS.path,
                schema.ITEMS.path,
                schema.SALES_ORDERS.path,
                schema.SALES_INVOICES.path,
                schema.SALES_ENTRIES.path,
                schema.RECEIVABLES.path,
            )
        }
        self.seed_reference()
        self._counters: dict[str, int] = {}

    def table(self, entity_set: EntitySet) -> dict[Any, dict[str, Any]]:
        """The rows of a set; a line set is gathered from its documents on each call."""
        parent = schema.PARENT_SETS.get(entity_set.path)
        if parent is None:
            return self.tables.get(entity_set.path, {})
        assert parent.lines is not None
        return {
            line["ID"]: line
            for doc in self.tables[parent.path].values()
            for line in doc[parent.lines]
        }

    def get(self, entity_set: EntitySet, key: Any) -> dict[str, Any] | None:
        return self.table(entity_set).get(key)

    def put(self, entity_set: EntitySet, row: dict[str, Any]) -> None:
        self.tables[entity_set.path][row[entity_set.key]] = row

    def next_number(self, sequence: str, first: int = 1) -> int:
        self._counters[sequence] = self._counters.get(sequence, first - 1) + 1
        return self._counters[sequence]

    def rows(self, entity_set: EntitySet) -> Iterator[dict[str, Any]]:
        yield from self.table(entity_set).values()

    def journal(self, code: str) -> dict[str, Any] | None:
        return next((j for j in self.rows(schema.JOURNALS) if j["Code"] == code), None)

    def vat_code(self, code: str) -> dict[str, Any] | None:
        return next(
            (v for v in self.rows(schema.VAT_CODES) if v["Code"].strip() == code.strip()), None
        )

    def me(self) -> dict[str, Any]:
        return self.tables[schema.ME.path][USER_ID]

    def seed_reference(self) -> None:
        common = {"Division": self.division}
        self.tables[schema.JOURNALS.path] = {
            id_: {
                "ID": id_,
                "Code": code,
                "Description": description,
                "Type": type_,
                "TypeDescription": type_text,
                "GLAccount": None,
                "GLAccountCode": None,
                "Currency": "EUR",
                **common,
            }
            for id_, code, description, type_, type_text in _JOURNALS
        }
        self.tables[schema.GL_ACCOUNTS.path] = {
            id_: {
                "ID": id_,
                "Code": code,
                "Description": description,
                "Type": type_,
                "TypeDescription": type_text,
                "BalanceSide": "C" if balance == "W" else "D",
                "BalanceType": balance,
                "VATCode": vat,
                "VATDescription": None,
                "Blocked": False,
                **common,
            }
            for id_, code, description, type_, type_text, balance, vat in _GL_ACCOUNTS
        }
        self.tables[schema.VAT_CODES.path] = {
            VAT_CODE_IDS[code.strip()]: {
                "ID": VAT_CODE_IDS[code.strip()],
                "Code": code,
                "Description": description,
                "Percentage": percentage,
                "Type": "E",
                "VATTransactionType": "S",
                "Charged": False,
                "IsBlocked": False,
                "GLToPay": None,
                **common,
            }
            for code, description, percentage in _VAT_CODES
        }
        self.tables[schema.WAREHOUSES.path] = {
            self.warehouse_id: {
                "ID": self.warehouse_id,
                "Code": "1",
                "Description": "Hoofdmagazijn",
                "Main": 1,
                "DefaultStorageLocation": None,
                "UseStorageLocations": 0,
                **common,
            }
        }
        self.tables[schema.DIVISIONS.path] = {
            self.division: {
                "Code": self.division,
                "Description": "Demo Simulatie BV",
                "HID": self.division,
                "Country": "NL",
                "Currency": "EUR",
                "Current": True,
                "Main": True,
                "Customer": DIVISION_CUSTOMER_ID,
                "CustomerCode": "1",
                "CustomerName": "Demo BV",
                "Status": 1,
            }
        }
        self.tables[schema.ME.path] = {
            USER_ID: {
                "UserID": USER_ID,
                "UserName": "demo",
                "FullName": "Demo Gebruiker",
                "FirstName": "Demo",
                "LastName": "Gebruiker",
                "Initials": "D.",
                "Email": "demo@example.com",
                "Language": "EN",
                "LanguageCode": "en-US",
                "Legislation": 1,
                "CurrentDivision": self.division,
                "DivisionCustomer": DIVISION_CUSTOMER_ID,
                "DivisionCustomerCode": "1",
                "DivisionCustomerName": "Demo BV",
                "ServerTime": _EPOCH,
                "ServerUtcOffset": 0,
                "PictureUrl": None,
                "ThumbnailPicture": None,
            }
        }
