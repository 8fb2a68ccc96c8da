"""The glue a user writes in an afternoon to put a shop order into PowerOffice Go with httpx.

No ledger, no locks, no request budget, no retries beyond raising: look the customer up by its
external reference and create it if missing, look each product up by its code (one filtered
GET per line, the loop anyone writes first) and create it if missing, then post the sales order
complete with its lines. The token is fetched once per process and kept until it expires.

`bench.user_chain` (a Celery `chain()` of five tasks) and `bench.user_script` (one order after
another in one process) both call these functions, so they differ only in how they run them.
Timings go to Redis (`record_draft`, `record_done`) the way `bench.bare_chain` records its own,
so the benchmark reads every system's latencies the same way.
"""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import redis

from bench.measure import RECORD_FINISH

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SIM_URL = os.environ.get("BENCH_SIM_URL", "http://127.0.0.1:8080")
BASE = f"{SIM_URL}/Demo/v2"
TOKEN_URL = f"{SIM_URL}/Demo/OAuth/Token"
APP_KEY, CLIENT_KEY, SUBSCRIPTION_KEY = "demo-app-key", "demo-client-key", "demo-subscription-key"
# PowerOffice puts VAT on the product's sales account, not on the line (the simulator's table).
SALES_ACCOUNT_FOR_VAT = {"0.25": 3000, "0.15": 3030, "0.12": 3033, "0": 3100}

SEEN_KEY = "bench:user:seen"  # order ids already turned into drafts (the dedupe check)
DONE_KEY = "bench:user:done"  # chains (or script orders) finished
LAST_KEY = "bench:user:last"  # the latest finishing time
TIMES_KEY = "bench:user:times"  # every finishing time
DRAFTS_KEY = "bench:user:drafts"  # "sent_at done_at" of every draft created
READY_KEY = "bench:user:worker:{pid}"

_lock = threading.Lock()
_state: dict[str, Any] = {}


def _clients() -> tuple[httpx.Client, redis.Redis]:
    """One httpx client (a connection pool shared by the threads) and one Redis client per
    process, made on first use."""
    with _lock:
        if "http" not in _state:
            _state["http"] = httpx.Client(
                timeout=60, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
            )
            _state["redis"] = redis.Redis.from_url(REDIS_URL)
            _state["done"] = _state["redis"].register_script(RECORD_FINISH)
    return _state["http"], _state["redis"]


def token() -> str:
    """A client-credentials token, fetched once and kept until a minute before it expires."""
    cached = _state.get("token")
    if cached and time.monotonic() < cached[1]:
        return str(cached[0])
    http, _ = _clients()
    response = http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        auth=(APP_KEY, CLIENT_KEY),
        headers={"Ocp-Apim-Subscription-Key": SUBSCRIPTION_KEY},
    )
    response.raise_for_status()
    body = response.json()
    _state["token"] = (body["access_token"], time.monotonic() + body["expires_in"] - 60)
    return str(body["access_token"])


def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
    http, _ = _clients()
    headers = {"Authorization": f"Bearer {token()}", "Ocp-Apim-Subscription-Key": SUBSCRIPTION_KEY}
    response = http.request(method, f"{BASE}{path}", headers=headers, **kwargs)
    response.raise_for_status()
    return response


def _listed(response: httpx.Response) -> list[dict[str, Any]]:
    return list(response.json()) if response.status_code == 200 and response.content else []


def upsert_customer(order: dict[str, Any]) -> int:
    customer = order["customer"]
    ref = customer["external_id"]
    found = _listed(call("GET", "/Customers", params={"externalImportReference": ref}))
    if found:
        return int(found[0]["Id"])
    first, _, last = customer["name"].partition(" ")
    address = customer.get("billing_address") or {}
    body = {
        "ExternalImportReference": ref,
        "IsPerson": True,
        "FirstName": first,
        "LastName": last or first,
        "EmailAddress": customer.get("email"),
        "MailAddress": {
            "AddressLine1": address.get("line1"),
            "City": address.get("city"),
            "ZipCode": address.get("postal_code"),
            "CountryCode": address.get("country") or "NO",
        },
    }
    return int(call("POST", "/Customers", json=body).json()["Id"])


def upsert_products(order: dict[str, Any]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for line in order["lines"]:
        sku = line["sku"]
        found = _listed(call("GET", "/Products", params={"codes": sku}))
        if found:
            ids[sku] = int(found[0]["Id"])
            continue
        body = {
            "Code": sku,
            "Name": line["name"],
            "StandardSalesAccount": SALES_ACCOUNT_FOR_VAT[
                str(Decimal(line["vat_rate"]).normalize())
            ],
        }
        ids[sku] = int(call("POST", "/Products", json=body).json()["Id"])
    return ids


def already_sent(order: dict[str, Any]) -> bool:
    """The dedupe check: have we made a draft for this order id before? (No lock: two
    deliveries of the same order at the same moment both pass.)"""
    _, r = _clients()
    return bool(r.sismember(SEEN_KEY, order["external_id"]))


def create_draft(order: dict[str, Any], customer_id: int) -> str:
    lines = []
    for n, line in enumerate(order["lines"]):
        price, vat = Decimal(line["unit_price"]), Decimal(line["vat_rate"])
        quantity, discount = Decimal(line["quantity"]), Decimal(line["discount"])
        net = price / (1 + vat) if order.get("prices_include_vat") else price
        allowance = discount / (quantity * price) * 100 if discount else Decimal(0)
        lines.append(
            {
                "SortOrder": n,
                "ProductCode": line["sku"],
                "Description": line["name"],
                "Quantity": float(quantity),
                "ProductUnitPrice": round(float(net), 2),
                "Allowance": round(float(allowance), 4),
            }
        )
    body = {
        "CustomerId": customer_id,
        "ExternalImportReference": order["external_id"],
        "CustomerReference": order.get("number"),
        "CurrencyCode": order.get("currency"),
        "SalesOrderLines": lines,
    }
    draft_id = str(call("POST", "/SalesOrders/Complete", json=body).json()["Id"])
    _, r = _clients()
    r.sadd(SEEN_KEY, order["external_id"])
    return draft_id


def send_invoice(order: dict[str, Any], draft_id: str) -> None:
    if order.get("send_invoice"):
        call(
            "POST",
            f"/SalesOrders/{draft_id}/createAndSendInvoice",
            json={"DeliveryType": "PdfByEmail"},
        )


# --- what the benchmark reads --------------------------------------------------------------------
def record_draft(sent_at: float) -> None:
    """The draft exists: keep (sent, now) for the accept-to-draft percentiles."""
    _, r = _clients()
    r.rpush(DRAFTS_KEY, f"{sent_at!r} {time.time()!r}")


def record_done() -> None:
    """The order went through every step: count it and keep when."""
    _clients()
    _state["done"](keys=[DONE_KEY, LAST_KEY, TIMES_KEY], args=[repr(time.time())])


def transfer(order: dict[str, Any], sent_at: float) -> None:
    """All five steps for one order, in one call: what the sequential script runs."""
    customer_id = upsert_customer(order)
    upsert_products(order)
    if not already_sent(order):
        draft_id = create_draft(order, customer_id)
        record_draft(sent_at)
        send_invoice(order, draft_id)
    record_done()
