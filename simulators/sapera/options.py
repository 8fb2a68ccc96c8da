"""Runtime options of the Sapera (CRS) simulator.

Much of the CRS platform API is unconfirmed (see erp/sapera.md): the URLs of every sales-order
and invoice action, the name of the customer-reference field and whether it can be filtered, the
refresh body, two fieldset names, what invoice reads say about payments, how a credit note is
made. Each open point is an option here, so a test can pin the
reading it depends on and a connector can be checked against another one. Paths are kept
without the leading slash and with their `api/` prefix, as the call log shows them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulators.admin import ConfigError, check_type, merged_options

PATHS = (
    "create_order_path",
    "update_order_path",
    "set_ready_path",
    "create_invoice_path",
    "book_invoice_path",
    "blank_invoice_path",
    "get_invoice_path",
    "invoices_page_path",
    "credit_invoice_path",
    "instances_path",
    "accounts_path",
)
_FIELD_NAMES = (
    "customer_reference_field",
    "refresh_token_field",
    "refresh_token_id_field",
    "contact_fieldset",
    "customer_identifier_fieldset",
)


@dataclass(frozen=True)
class SaperaSimOptions:
    tenant: str = "demo"  # tenantDomainName
    username: str = "webshop@demo.example"  # userNameOrEMail
    password: str = "demo-sapera-password"
    token_seconds: int = 3600  # access-token lifetime
    refresh_token_seconds: int = 30 * 24 * 3600
    # 1: logins answer normally. 2-7 force that resultCode on logins and refreshes, for the
    # next `login_result_count` of them (0: until set back to 1).
    login_result_code: int = 1
    login_result_count: int = 0
    # True: the fields the docs wrap in {"value": X} must come wrapped (see fields.py)...
    strict_wrappers: bool = False
    # ...and, when also True, a sale item's quantity, manualDiscountAmount and price (whether
    # the docs wrap those is unconfirmed).
    strict_item_wrappers: bool = True
    demo_catalogue: bool = True  # the demo's KAFFE-500, TE-100, KOPP-01, KVERN-2, FRAKT
    # Unconfirmed names (our documented guesses).
    customer_reference_field: str = "customerReference"
    customer_reference_filterable: bool = False  # False: filtering on it is a Validation error
    refresh_token_field: str = "refreshToken"
    refresh_token_id_field: str = "tokenId"
    contact_fieldset: str = "ChangeContactFieldsetUpdate"
    customer_identifier_fieldset: str = "ChangeCustomerIdentifierFieldsetUpdate"
    # After the order (invoices.py, payments.py). Sapera's UI shows an invoice's status and
    # "Remaining amount", credits a posted invoice and registers payments; what the API shows
    # of that is unconfirmed. True: invoice reads carry `remainingAmount` (False: the API does
    # not say how much is open).
    show_remaining_amount: bool = True
    # True: registering a payment moves the invoice's `updatedAt` (False: only booking does).
    payment_moves_updated_at: bool = True
    # True: a sale item may have a negative quantity (a returned item, which makes a sales
    # order with only such items a credit note once invoiced and booked).
    negative_quantities: bool = True
    currency: str = "DKK"  # the tenant's currency, on every invoice
    # Unconfirmed URLs, by analogy with the confirmed ones.
    create_order_path: str = "api/financial/SalesOrder/CreateSalesOrder"
    update_order_path: str = "api/financial/SalesOrder/UpdateSalesOrder"
    set_ready_path: str = "api/financial/SalesOrder/SetSalesOrderReady"
    create_invoice_path: str = "api/financial/Invoice/CreateInvoiceFromSalesOrder"
    book_invoice_path: str = "api/financial/Invoice/BookInvoice"
    blank_invoice_path: str = "api/financial/Invoice/CreateBlankInvoice"
    get_invoice_path: str = "api/financial/Invoice/GetInvoice"
    invoices_page_path: str = "api/financial/Invoice/GetInvoicesPage"
    credit_invoice_path: str = "api/financial/Invoice/CreateCreditNote"
    instances_path: str = "api/inventory/ProductInstance/GetProductInstances"
    accounts_path: str = "api/accounting/FinancialAccount/GetFinancialAccounts"

    def merged(self, changes: Mapping[str, Any]) -> SaperaSimOptions:
        """A copy with `changes` applied; ConfigError for unknown keys or bad values."""
        normalised = {
            k: v.strip("/") if k in PATHS and isinstance(v, str) else v for k, v in changes.items()
        }
        return merged_options(self, normalised, _check)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_options(options: SaperaSimOptions | Mapping[str, Any] | None) -> SaperaSimOptions:
    if isinstance(options, SaperaSimOptions):
        options = options.as_json()  # validated like any other set of changes
    return SaperaSimOptions().merged(options or {})


def _check(name: str, value: Any, default: Any) -> None:
    check_type(name, value, default)
    ok = not isinstance(value, str) or value.strip() != ""
    if ok and name == "login_result_code":
        ok = 1 <= value <= 7
    if ok and name == "token_seconds":
        ok = value > 0
    if ok and name in PATHS:
        ok = value.lower().startswith("api/") and "{" not in value and "?" not in value
    if ok and name in _FIELD_NAMES:
        ok = value.isidentifier()
    if not ok:
        raise ConfigError(f"bad value for {name}: {value!r}")
