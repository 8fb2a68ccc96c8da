"""Exact Online connection settings, validated once when the configuration loads."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

SendAs = Literal["order", "invoice", "direct_invoice", "sales_entry"]


class ExactSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = "https://start.exactonline.nl"
    division: int = 1
    client_id: str
    client_secret: SecretStr
    redirect_uri: str = "http://127.0.0.1:8000/oauth/exact/callback"
    # Used only until the first refresh: Exact rotates refresh tokens, and the current one then
    # lives (encrypted) in Redis, shared by every worker.
    refresh_token: SecretStr | None = None
    send_as: SendAs = "order"
    match_customers_by: Literal["email", "code"] = "email"
    journal: str = "70"
    warehouse_id: str | None = None
    revenue_gl_account: str = "8000"
    shipping_item_code: str | None = None
    vat_codes: dict[str, str] = Field(default_factory=dict)
    items_per_lookup: int = Field(25, ge=1, le=40)
    minute_limit: int = Field(60, ge=1)
    minute_seconds: float = Field(60.0, gt=0)  # the length of Exact's "minute" (tests shorten it)
    day_limit: int = Field(5000, ge=1)
    refresh_margin_seconds: float = 30.0
    # Unconfirmed in Exact's documentation: whether a credit note (8021/8024) is posted with
    # negative quantities or with positive ones that Exact negates. Either way we check that the
    # credit note came back negative, and remove it with a clear error if it did not.
    credit_note_quantities: Literal["negative", "positive"] = "negative"
    # The invoice watch: how far back a first poll looks, and how far each poll steps back
    # behind the newest change it saw (Exact's Modified stamps are not a strict sequence).
    invoice_lookback_days: float = Field(3.0, gt=0)
    invoice_overlap_seconds: float = Field(300.0, ge=0)
    invoice_pages_per_poll: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _direct_invoice_needs_a_warehouse(self) -> ExactSettings:
        if self.send_as == "direct_invoice" and not self.warehouse_id:
            raise ValueError("send_as = direct_invoice needs warehouse_id (a Warehouse guid)")
        return self

    @property
    def api(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/v1/{self.division}"

    def rate_limits(self) -> tuple[int, float, int]:
        """60 per minute and 5,000 per day per division, with slack for arrival jitter."""
        return self.minute_limit, self.minute_seconds * 61 / 60, self.day_limit

    def budget_key(self) -> str:
        return f"exact:{self._identity()}:{self.division}"

    def token_name(self) -> str:
        return f"exact:{self._identity()}"

    def _identity(self) -> str:
        return hashlib.sha256(f"{self.base_url}|{self.client_id}".encode()).hexdigest()[:16]
