"""Shop order payload samples for the tests, kept as JSON files in tests/data/shops/.

`load(name)` reads `tests/data/shops/<name>.json` and returns a fresh dict on every call, so a
test may mutate what it gets. Each sample also has a function of its own name returning it.

Shopify's standard test notification for `orders/create` comes in two well-known shapes: the
classic one (2019, `jon@doe.ca`, total 403.00) and the current one (`jon@example.com`, with the
`current_*` fields, whose totals are internally inconsistent: `total_price` 388.00 against lines
of 398.00 plus 10.00 shipping, `current_total_price` 398.00 with the shipping currently 0.00).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from functools import cache
from pathlib import Path
from typing import Any

SECRET = "demo-webhook-secret"  # the webhook secret of the test configs
SHOPS_DIR = Path(__file__).resolve().parent.parent / "data" / "shops"


@cache
def _parsed(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SHOPS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def load(name: str) -> dict[str, Any]:
    """A fresh copy of the sample `tests/data/shops/<name>.json`."""
    return copy.deepcopy(_parsed(name))


def names() -> list[str]:
    """The names of all samples, sorted."""
    return sorted(path.stem for path in SHOPS_DIR.glob("*.json"))


def shopify_classic_test_order() -> dict[str, Any]:
    """The classic body of Shopify's "Send test notification" for orders/create."""
    return load("shopify_classic_test_order")


def shopify_current_test_order() -> dict[str, Any]:
    """The current body of the same test notification (API versions with `current_*`)."""
    return load("shopify_current_test_order")


def shopify_nok_order() -> dict[str, Any]:
    """Prices incl. 25 % and 15 % VAT, a 10 % discount code allocated to both lines, and taxed
    shipping: 900.00 + 268.20 + 99.00 = 1267.20, of which VAT 180.00 + 34.98 + 19.80."""
    return load("shopify_nok_order")


def woo_nok_order() -> dict[str, Any]:
    """Two rates (25 %, 15 %), a 10 % coupon, taxed shipping and a taxed fee; all net:
    720.00 + 234.00 + 79.20 + 40.00 = 1073.20 net, tax 244.90, total 1318.10."""
    return load("woo_nok_order")


def woo_guest_order() -> dict[str, Any]:
    """A guest (customer_id 0) buying one 25 % article with free shipping; no rate_percent."""
    return load("woo_guest_order")


def woo_company_order() -> dict[str, Any]:
    """`woo_nok_order` billed to a company (Kaffebrenneriet AS)."""
    return load("woo_company_order")


def sign(raw: bytes, secret: str = SECRET) -> str:
    """The webhook signature Shopify and WooCommerce send: base64 of HMAC-SHA256 of the body."""
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
