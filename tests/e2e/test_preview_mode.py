"""A connection in preview mode, end to end: the Shopify simulator delivers 50 orders by webhook
to a real intake and worker whose connection says `mode = "preview"`; each becomes a job that
ends `previewed`, with what it would have sent, and the PowerOffice simulator gets no write.
Switched to live (the processes started again on the changed configuration), an update for ten
of them and a backfill over the period send each order once; more events send nothing more.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.store import SENT
from tests.support.cluster import Cluster, Simulator, poll, start_simulator
from tests.support.config import poweroffice_connection
from tests.support.payloads import SECRET, shopify_nok_order, sign

pytestmark = pytest.mark.e2e

ORDERS = 50
PLACED = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
PERIOD = ((datetime.now(UTC) - timedelta(days=1)).date().isoformat(),)  # PLACED is in it
TOKEN_PATH = "/Demo/OAuth/Token"


@pytest.fixture(name="shopify")
def shopify_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    shop = start_simulator("shopify", tmp_path_factory.mktemp("shopify"))
    yield shop
    shop.child.stop()


def writes(sim: Simulator) -> list[str]:
    return [
        f"{c['method']} {c['path']}"
        for c in sim.calls()["calls"]
        if c["method"] not in ("GET", "HEAD") and c["path"] != TOKEN_PATH
    ]


def restart(cluster: Cluster, mode: str) -> None:
    """Stop the intake and the worker, change the connection's mode, start them again."""
    for child in [*cluster.workers, *([cluster.intake] if cluster.intake else [])]:
        child.stop()
    cluster.workers = []
    text = cluster.config.read_text()
    cluster.config.write_text(text.replace('mode = "preview"', f'mode = "{mode}"'))
    cluster.start()


def states(cluster: Cluster, order_ids: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for order_id in order_ids:
        job_id = cluster.store.job_id_for("shop", order_id)
        job = cluster.store.load_job(job_id) if job_id else None
        found[order_id] = job.state if job else "none"
    return found


def test_preview_mode_sends_nothing_and_going_live_sends_each_order_once(
    cluster_factory: Any, sim: Simulator, shopify: Simulator, tmp_path: Path
) -> None:
    shopify.reset()
    sim.configure(rate_limit_per_second=0)  # the previews' look-ups at test speed
    connection = poweroffice_connection(
        sim.url,
        source="shopify",
        mode="preview",
        requests_per_second=200,
        shop={
            "webhook_secret": SECRET,
            "api_url": shopify.url,
            "access_token": "demo-shopify-token",
            "fallback_sku": "DIVERSE",
        },
    )
    cluster: Cluster = cluster_factory(connection=connection)
    cluster.start()
    address = f"http://127.0.0.1:{cluster.intake_port}/webhooks/shopify/shop"
    for topic in ("orders/create", "orders/updated"):
        shopify.http.post("/_sim/subscriptions", json={"topic": topic, "address": address})
    order_ids = []
    for _ in range(ORDERS):
        body = {**shopify_nok_order(), "created_at": PLACED, "processed_at": PLACED}
        placed = shopify.http.post("/_sim/orders", json=body)
        placed.raise_for_status()
        order_ids.append(str(placed.json().get("order", placed.json())["id"]))

    poll(
        lambda: set(states(cluster, order_ids).values()) == {"previewed"},
        90,
        what="every order previewed",
    )
    assert writes(sim) == []
    assert sim.count("SalesOrders") == 0
    job_id = cluster.store.job_id_for("shop", order_ids[0])
    job = cluster.store.load_job(job_id or "")
    assert job is not None and job.preview is not None
    assert job.preview["verdict"] == "would_send"
    sent = [w for step in job.preview["steps"] for w in step["writes"]]
    assert any(w["path"].endswith("/SalesOrders/Complete") for w in sent), sent
    page = cluster.http.get("/status", headers={"Authorization": "Bearer op-token"})
    assert page.status_code == 200 and 'id="previewed"' in page.text

    restart(cluster, "live")
    for order_id in order_ids[:10]:  # the shop's next event for some of them: an update
        assert update(shopify, address, order_id).status_code in (200, 202)
    # a backfill over the preview period sends every previewed order (the updated ones too,
    # as their jobs have left `previewed` already: those are known)
    code, shown = cluster.cli("backfill", "--connection", "shop", "--since", PERIOD[0])
    assert code == 0, shown
    poll(
        lambda: set(states(cluster, order_ids).values()) == {"done"},
        120,
        what="every order sent once live",
    )
    references = sorted(o["ExternalImportReference"] for o in sim.state()["SalesOrders"])
    assert references == sorted(order_ids)

    for order_id in order_ids[:10]:  # more events (fresh deliveries and repeats): nothing more
        assert update(shopify, address, order_id, "2031").status_code == 200
        shopify.http.post(
            f"/_sim/orders/{order_id}/redeliver",
            json={"topic": "orders/create", "times": 3, "concurrent": True},
        ).raise_for_status()
    poll(lambda: settled(cluster, shopify), 60, what="every delivery and message handled")
    assert set(states(cluster, order_ids).values()) == {"done"}
    assert sim.count("SalesOrders") == ORDERS


def settled(cluster: Cluster, shopify: Simulator) -> bool:
    """The shop has delivered everything and no message waits for a worker."""
    pending = shopify.http.get("/_sim/deliveries").json()["pending"]
    return pending == 0 and cluster.store.redis.hlen(SENT.key()) == 0


def update(shopify: Simulator, address: str, order_id: str, year: str = "2030") -> httpx.Response:
    """An `orders/updated` delivery of the order as the shop has it, signed, newer than any."""
    order = next(o for o in shopify.state()["orders"] if str(o["id"]) == order_id)
    raw = json.dumps({**order, "updated_at": f"{year}-01-01T00:00:00Z"}).encode()
    headers = {
        "X-Shopify-Topic": "orders/updated",
        "X-Shopify-Hmac-Sha256": sign(raw),
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "Content-Type": "application/json",
    }
    return httpx.post(address, content=raw, headers=headers, timeout=10)
