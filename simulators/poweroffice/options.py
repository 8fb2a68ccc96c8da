"""Runtime options of the PowerOffice Go simulator.

Several behaviours of the real API are unconfirmed (see erp/poweroffice-go.md); each one is an
option here, so a test can pin the behaviour it depends on and the connector can be checked
against both readings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulators.admin import ConfigError, merged_options

SALES_ORDER_STATUSES = ("Draft", "Confirmed")


@dataclass(frozen=True)
class PowerOfficeSimOptions:
    application_key: str = "demo-app-key"
    client_key: str = "demo-client-key"
    subscription_key: str = "demo-subscription-key"
    token_lifetime_s: int = 1200
    rate_limit_per_second: int = 10  # per subscription key; 0 disables
    send_retry_after: bool = True  # Retry-After on 429 (unconfirmed)
    product_create_status: int = 200  # the spec says 200; some clients expect 201
    product_code_unique: bool = True  # unconfirmed
    order_ref_unique: bool = True  # order ExternalImportReference unique (unconfirmed)
    default_order_status: str = "Draft"  # unconfirmed
    send_privilege: bool = True  # False: createAndSendInvoice answers 403
    send_delay_ms: int = 200  # how long an invoice send stays "being processed"
    send_error: str | None = None  # when set, sends fail with this LastErrorMessage
    # "-7" in voucherNos & co. means "up to 7"; the spec only shows open ends (unconfirmed).
    open_start_ranges: bool = True
    # A credit note's header amounts and Balance carry a minus sign, as its ledger entry does
    # (the spec's line examples are negative; the header sign is unconfirmed). False: positive.
    credit_note_amounts_negative: bool = True
    # RelatedInvoiceNo on a credit-note draft must name an outgoing invoice (unconfirmed).
    related_invoice_checked: bool = True
    # 0: BalanceLastChangedDateTimeOffset has the fine clock resolution and never repeats.
    # N: balance stamps fall on N-second steps, so changes close together share one stamp.
    balance_stamp_resolution_seconds: int = 0

    def merged(self, changes: Mapping[str, Any]) -> PowerOfficeSimOptions:
        """A copy with `changes` applied; ConfigError for unknown keys or bad values."""
        return merged_options(self, changes, _check)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def make_options(
    options: PowerOfficeSimOptions | Mapping[str, Any] | None,
) -> PowerOfficeSimOptions:
    if isinstance(options, PowerOfficeSimOptions):
        options = options.as_json()  # validated like any other set of changes
    return PowerOfficeSimOptions().merged(options or {})


def _check(name: str, value: Any, default: Any) -> None:
    if name == "send_error":
        ok = value is None or isinstance(value, str)
    elif isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    else:
        ok = isinstance(value, str) and value != ""
    if ok and name == "product_create_status":
        ok = value in (200, 201)
    if ok and name == "default_order_status":
        ok = value in SALES_ORDER_STATUSES
    if not ok:
        raise ConfigError(f"bad value for {name}: {value!r}")
