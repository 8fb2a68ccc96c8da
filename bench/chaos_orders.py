"""The chaos run's orders and how they are posted: paced, and retried like a patient shop.

Orders come from about a hundred returning customers and a small catalogue, so that upserts of
the same customer and article race between threads and workers. About 1 % are made permanently
invalid on purpose: they carry an article on VAT rate 11 %, which the chaos connection maps to
sales account 3040, an account PowerOffice does not have, so Go refuses the article with 400 and
the order must end as a dead letter (and nowhere else).

Posting is paced (an open loop at `rate` orders per second) so that the faults, the worker kills
and the Redis restart fall in the middle of the traffic rather than after it. A POST that fails
(connection refused or reset, 5xx while Redis restarts) is sent again, as a shop's webhook retry
would; the intake answers 200 with the same job for an order it already has.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

ORDERS_PATH = "/v1/connections/shop/orders"
INVALID_VAT = "0.11"
INVALID_ACCOUNT = 3040  # not a sales account in the simulated client company
VAT_RATES = ("0.25", "0.15", "0.12", "0")


@dataclass
class Batch:
    orders: list[dict[str, Any]]
    invalid: set[str]


def make_orders(
    tag: str, count: int, customers: int, articles: int, invalid_share: float, seed: int
) -> Batch:
    """`count` orders of 1 to 3 lines for `customers` customers from `articles` articles; a
    share `invalid_share` (at least one when >0) of them permanently invalid."""
    rng = random.Random(seed)
    people = [_customer(f"{tag}-c{i}") for i in range(max(1, customers))]
    catalogue = [
        (f"{tag}-SKU{i:03d}", VAT_RATES[i % len(VAT_RATES)]) for i in range(max(3, articles))
    ]
    n_invalid = max(1, round(count * invalid_share)) if invalid_share > 0 else 0
    invalid_at = set(rng.sample(range(count), min(count, n_invalid)))
    orders, invalid = [], set()
    for i in range(count):
        external_id = f"{tag}-o{i}"
        lines = [_line(sku, vat, rng) for sku, vat in rng.sample(catalogue, rng.randint(1, 3))]
        if i in invalid_at:
            lines.append(_line(f"{tag}-BADVAT-{i}", INVALID_VAT, rng))
            invalid.add(external_id)
        orders.append(
            {
                "external_id": external_id,
                "number": f"#{external_id}",
                "source": "chaos",
                "placed_at": "2026-11-27T09:14:58Z",
                "currency": "NOK",
                "prices_include_vat": True,
                "customer": rng.choice(people),
                "lines": lines,
            }
        )
    return Batch(orders, invalid)


def _customer(external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "kind": "person",
        "name": f"Kunde {external_id}",
        "email": f"{external_id}@example.no",
        "billing_address": {
            "line1": "Storgata 1",
            "postal_code": "0155",
            "city": "Oslo",
            "country": "NO",
        },
    }


def _line(sku: str, vat: str, rng: random.Random) -> dict[str, Any]:
    return {
        "type": "product",
        "sku": sku,
        "name": f"Article {sku}",
        "quantity": str(rng.randint(1, 4)),
        "unit_price": f"{rng.randint(10, 500)}.00",
        "discount": "0",
        "vat_rate": vat,
    }


@dataclass
class Posted:
    """What posting achieved: accepted orders (external id -> job id), refusals, and timing."""

    accepted: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # external id -> status and text
    failed_attempts: int = 0  # POSTs that had to be sent again (5xx, connection errors)
    failure_kinds: dict[str, int] = field(default_factory=dict)
    first_post: float = 0.0  # wall time
    last_answer: float = 0.0  # wall time of the last POST's answer
    # (sent, answered) wall times of every accepting POST: when the intake took orders again
    accepted_at: list[tuple[float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note_failure(self, kind: str) -> None:
        with self.lock:
            self.failed_attempts += 1
            self.failure_kinds[kind] = self.failure_kinds.get(kind, 0) + 1


def post_paced(
    intake_url: str,
    token: str,
    orders: list[dict[str, Any]],
    rate: float,
    posters: int,
    give_up_after: float = 180.0,
) -> Posted:
    """POST order i at `start + i / rate` (or as soon as a poster is free), retrying failures
    for up to `give_up_after` seconds per order."""
    posted = Posted()
    headers = {"Authorization": f"Bearer {token}"}
    local = threading.local()
    start = time.time() + 0.2
    posted.first_post = start

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=intake_url, timeout=30)
        return local.client  # type: ignore[no-any-return]

    def send(index: int) -> None:
        body = orders[index]
        delay = start + index / rate - time.time()
        if delay > 0:
            time.sleep(delay)
        deadline = time.monotonic() + give_up_after
        wait = 0.2
        while True:
            sent = time.time()
            try:
                response = client().post(ORDERS_PATH, json=body, headers=headers)
            except httpx.HTTPError as exc:
                kind = type(exc).__name__
            else:
                if response.status_code in (200, 202):
                    answered = time.time()
                    with posted.lock:
                        posted.accepted[body["external_id"]] = response.json()["job_id"]
                        posted.last_answer = max(posted.last_answer, answered)
                        posted.accepted_at.append((sent, answered))
                    return
                if response.status_code < 500 and response.status_code != 429:
                    with posted.lock:
                        posted.refused[body["external_id"]] = (
                            f"{response.status_code}: {response.text[:200]}"
                        )
                        posted.last_answer = max(posted.last_answer, time.time())
                    return
                kind = f"HTTP {response.status_code}"
            posted.note_failure(kind)
            if time.monotonic() > deadline:
                with posted.lock:
                    posted.refused[body["external_id"]] = f"gave up after retries ({kind})"
                return
            time.sleep(wait)
            wait = min(2.0, wait * 2)

    with ThreadPoolExecutor(max(1, posters)) as pool:
        for future in [pool.submit(send, i) for i in range(len(orders))]:
            future.result()
    return posted
