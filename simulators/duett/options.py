"""Runtime options of the Duett simulator.

Much of Duett's Open API v2 is unconfirmed (see erp/duett.md: the exact routes, whether
`orderReference` is filterable, how an empty list answers); each open point is an option here, so
a test can pin the reading it depends on and a connector can be checked against both.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulators.admin import ConfigError, check_type, merged_options

PRICE_MODES = ("net", "gross")
DISCOUNT_CAPS = ("unit", "line")
CREDIT_SIGNS = ("positive", "negative")
LEDGER_INVOICE_FIELDS = ("voucherNumber", "refNumber")
_PATHS = (
    "order_path",
    "customer_path",
    "article_path",
    "zipcodes_path",
    "account_intervals_path",
    "stylesheets_path",
    "voucher_report_path",
)


@dataclass(frozen=True)
class DuettSimOptions:
    integration_key: str = "demo-duett-integration-key"  # X-Api-Integration-Key
    client_key: str = "demo-duett-client-key"  # X-Api-Client-Key
    auth_failure_status: int = 401  # the real answer to bad keys is unknown: 401 or 403
    # Routes without the leading slash; the v2 paths of the core entities are best guesses.
    order_path: str = "Order/v2"
    customer_path: str = "Customer/v2"
    article_path: str = "Article/v2"
    zipcodes_path: str = "Register/v2/ZipCodes"
    account_intervals_path: str = "Register/v2/AccountIntervals"
    stylesheets_path: str = "Register/v2/GetEDIStyleSheet"
    price_mode: str = "net"  # the company enters "net" or "gross" (VAT-inclusive) prices
    amount_discount_cap: str = "unit"  # an amount discount is per unit (capped at the price)
    order_reference_filterable: bool = True  # False: filter[orderReference] answers 400
    list_404_when_empty: bool = False  # True: an empty list GET is 404 "Not Found" (v1 client)
    foreign_postcode_dropped: bool = False  # True: a zipCodeKey abroad is dropped, not refused
    max_take: int = 0  # most rows one list GET returns; 0 means no limit
    # The voucher report (customer ledger: restAmount, ledgerState) is documented, its route
    # is not: a guess. False: the route does not exist, so nothing tells an invoice is paid.
    voucher_report_path: str = "Report/v2/Voucher"
    voucher_report: bool = True
    # Which voucher report field holds the invoice number on an outgoing invoice's ledger row
    # (unconfirmed); the other one then holds something else.
    ledger_invoice_number_field: str = "voucherNumber"
    # Credit orders (orderType credit): "positive" - lines carry positive counts and the type
    # makes them a credit; "negative" - lines must carry negative counts. The wrong sign is
    # refused (400 on lines[i].countAgreed). Duett's real convention is unconfirmed.
    credit_line_sign: str = "positive"
    # The order field that links a credit order to the invoice it credits (unconfirmed; empty:
    # there is none and such a field is ignored like any unknown property).
    credit_link_field: str = ""

    def merged(self, changes: Mapping[str, Any]) -> DuettSimOptions:
        """A copy with `changes` applied; ConfigError for unknown keys or bad values."""
        normalised = {
            k: v.strip("/") if k in _PATHS and isinstance(v, str) else v for k, v in changes.items()
        }
        return merged_options(self, normalised, _check)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_options(options: DuettSimOptions | Mapping[str, Any] | None) -> DuettSimOptions:
    if isinstance(options, DuettSimOptions):
        options = options.as_json()  # validated like any other set of changes
    return DuettSimOptions().merged(options or {})


def _check(name: str, value: Any, default: Any) -> None:
    if name == "credit_link_field":
        if not isinstance(value, str) or not (value == "" or value.isidentifier()):
            raise ConfigError(f"bad value for {name}: {value!r}")
        return
    check_type(name, value, default)
    ok = True
    if name == "auth_failure_status":
        ok = value in (401, 403)
    if ok and name == "price_mode":
        ok = value in PRICE_MODES
    if ok and name == "amount_discount_cap":
        ok = value in DISCOUNT_CAPS
    if ok and name == "credit_line_sign":
        ok = value in CREDIT_SIGNS
    if ok and name == "ledger_invoice_number_field":
        ok = value in LEDGER_INVOICE_FIELDS
    if ok and name in _PATHS:
        ok = "{" not in value and "?" not in value
    if not ok:
        raise ConfigError(f"bad value for {name}: {value!r}")
