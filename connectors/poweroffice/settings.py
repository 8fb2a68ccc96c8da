"""PowerOffice Go connection settings, validated once when the configuration loads."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

# Norwegian standard sales accounts by VAT rate; VAT in Go follows the product's sales account.
DEFAULT_VAT_ACCOUNTS = {"0.25": 3000, "0.15": 3030, "0.12": 3033, "0": 3100}


class PowerOfficeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = "https://goapi.poweroffice.net/v2"
    token_url: str = "https://goapi.poweroffice.net/OAuth/Token"
    application_key: SecretStr
    client_key: SecretStr
    subscription_key: SecretStr
    order_status: Literal["Draft", "Confirmed"] = "Draft"
    delivery_type: Literal["Auto", "PdfByEmail", "PdfPrintForDownload"] = "Auto"
    vat_accounts: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_VAT_ACCOUNTS))
    shipping_product_code: str = "FRAKT"
    product_batch_size: int = Field(50, ge=1, le=500)
    requests_per_second: float = 10.0
    # The invoice watch: how far back the first poll looks, how far each later poll reaches
    # back behind the newest balance stamp it saw (stamps can repeat and commit late), and the
    # page size of its reads (Go's default is 5000, its maximum 20000).
    invoice_lookback_days: int = Field(7, ge=0, le=366)
    invoice_overlap_seconds: float = Field(5.0, ge=0, le=3600)
    invoice_page_size: int = Field(5000, ge=1, le=20000)

    def rate_limits(self) -> tuple[int, float, int]:
        """(requests, per seconds, per day): 10/s per key; 10% slack on the window because
        requests reach Go a few ms after they take their slot."""
        return max(1, round(self.requests_per_second)), 1.1, 0

    def budget_key(self) -> str:
        """PowerOffice limits per subscription key, shared by all client keys using it."""
        digest = hashlib.sha256(self.subscription_key.get_secret_value().encode()).hexdigest()
        return f"poweroffice:{digest[:16]}"

    def token_name(self) -> str:
        raw = (
            f"{self.token_url}|{self.application_key.get_secret_value()}|"
            f"{self.client_key.get_secret_value()}"
        )
        return "poweroffice:" + hashlib.sha256(raw.encode()).hexdigest()[:16]
