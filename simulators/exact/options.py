"""Runtime options of the Exact Online simulator.

Several behaviours of the real API are unconfirmed or changed over the years (see
erp/exact-online.md); each one is an option here, so a test can pin the behaviour it depends on
and a connector can be checked against both readings. The defaults are the documented ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulators.admin import ConfigError, merged_options
from simulators.exact.values import guid

WAREHOUSE_ID = "0000a001-0000-4000-8000-00000000a001"

LANGUAGES = ("en", "nl")
CREDIT_QUANTITIES = ("negative", "positive")


@dataclass(frozen=True)
class ExactSimOptions:
    client_id: str = "demo-exact-client"
    client_secret: str = "demo-exact-secret"
    division: int = 1  # the one division the demo user may use
    warehouse_id: str = WAREHOUSE_ID  # the GUID of the company's one warehouse
    unknown_division_status: int = 403  # unconfirmed
    auth_code_lifetime_s: int = 180
    access_token_lifetime_s: int = 600
    refresh_token_lifetime_s: int = 30 * 86400
    block_early_refresh: bool = True  # refresh while the access token is young: 401
    early_refresh_block_s: int = 570
    minute_limit: int = 60  # per division
    day_limit: int = 5000  # per division
    minute_seconds: int = 60  # length of the "minute" window, shorter in tests
    page_size: int = 60
    require_filter: bool = True  # mandatory $filter on endpoints with a Sync API
    require_select: bool = True  # $select (or $top=1) on wide endpoints
    reject_unknown_fields: bool = True  # a body property the type lacks is a 400 (WCF default)
    filter_ignores_case: bool = True  # string comparisons like SQL Server's default collation
    language: str = "en"  # of validation messages: "en" or "nl"
    bad_reference_status: int = 400  # seen as both 400 and 500
    full_reply_without_prefer: bool = True  # False: POST without Prefer nulls unsent fields
    print_creates_sales_entry: bool = False  # processing an invoice books a SalesEntry
    pad_country: bool = False  # Country comes back as "NL " (3 characters)
    # Unconfirmed: how a credit note's (8021/8024) lines carry the credit. "negative": the client
    # sends negative quantities and positive ones are refused; "positive": the client sends
    # positive quantities, Exact negates them and refuses negative ones.
    credit_note_quantities: str = "negative"
    # Unconfirmed: the sign of cashflow/Receivables amounts. False: an invoice's receivable is
    # positive (what the customer owes), a credit note's negative; True: the other way round
    # (one third-party report reads AmountDC as negative for debtors).
    negative_receivables: bool = False

    def merged(self, changes: Mapping[str, Any]) -> ExactSimOptions:
        """A copy with `changes` applied; ConfigError for unknown keys or bad values."""
        return merged_options(self, changes, _check)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_options(options: ExactSimOptions | Mapping[str, Any] | None) -> ExactSimOptions:
    if isinstance(options, ExactSimOptions):
        options = options.as_json()  # validated like any other set of changes
    return ExactSimOptions().merged(options or {})


_POSITIVE = ("division", "minute_limit", "day_limit", "minute_seconds", "page_size")
_STATUSES = ("unknown_division_status", "bad_reference_status")


def _check(name: str, value: Any, default: Any) -> None:
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        ok = ok and (value >= 1 if name in _POSITIVE else True)
        ok = ok and (400 <= value <= 599 if name in _STATUSES else True)
    else:
        ok = isinstance(value, str) and value != ""
    if ok and name == "language":
        ok = value in LANGUAGES
    if ok and name == "credit_note_quantities":
        ok = value in CREDIT_QUANTITIES
    if ok and name == "warehouse_id":
        ok = guid(value) == value  # lowercase, without braces
    if not ok:
        raise ConfigError(f"bad value for {name}: {value!r}")
