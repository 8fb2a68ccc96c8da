"""Each registered shop's simulator, driven the same way for the shop contract suite
(`tests/contract/test_shop_contract.py`): what a merchant does in the shop (place, pay, cancel,
refund), where the shop sends its webhooks and with which secret, and the connection settings
that read the shop's API.

`RIGS` must hold exactly the shops of `connectors.shops.registry.SHOPS`: the suite fails for a
registered shop without its rig here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from starlette.types import ASGIApp

from simulators.shops import create_shopify, create_woocommerce
from tests.support.payloads import shopify_nok_order, woo_nok_order


class ShopRig(Protocol):
    """A shop's simulator, as the contract suite drives it."""

    create_app: Callable[[], ASGIApp]

    def subscribe(self, sim: httpx.Client, address: str, secret: str) -> None:
        """Send every order (and refund) webhook to `address`, signed with `secret`."""
        ...

    def api(self, sim_url: str) -> dict[str, Any]:
        """The connection's `shop` settings (besides the secrets) that read the shop's API."""
        ...

    def place(self, sim: httpx.Client, at: datetime, *, paid: bool, deliver: bool = True) -> str:
        """An order created and last changed `at` (not paid unless `paid`); its id."""
        ...

    def pay(self, sim: httpx.Client, order_id: str) -> None: ...
    def cancel(self, sim: httpx.Client, order_id: str) -> None: ...

    def refund(self, sim: httpx.Client, order_id: str) -> str:
        """Refund one unit of one line (staff in the shop's admin); the refund's id."""
        ...


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


@dataclass(frozen=True)
class ShopifyRig:
    create_app: Callable[[], ASGIApp] = create_shopify

    def subscribe(self, sim: httpx.Client, address: str, secret: str) -> None:
        _ok(sim.post("/_sim/config", json={"webhook_secret": secret}))
        for topic in ("orders/create", "orders/paid", "orders/cancelled", "refunds/create"):
            _ok(sim.post("/_sim/subscriptions", json={"topic": topic, "address": address}))

    def api(self, sim_url: str) -> dict[str, Any]:
        return {"api_url": sim_url, "access_token": "demo-shopify-token"}

    def place(self, sim: httpx.Client, at: datetime, *, paid: bool, deliver: bool = True) -> str:
        stamp = at.astimezone(UTC).isoformat(timespec="seconds")
        body = {
            **shopify_nok_order(),
            "financial_status": "paid" if paid else "pending",
            "created_at": stamp,
            "processed_at": stamp,
            "updated_at": stamp,
            "deliver": deliver,
        }
        return str(_ok(sim.post("/_sim/orders", json=body))["order"]["id"])

    def pay(self, sim: httpx.Client, order_id: str) -> None:
        _ok(sim.post(f"/_sim/orders/{order_id}/pay", json={}))

    def cancel(self, sim: httpx.Client, order_id: str) -> None:
        _ok(sim.post(f"/_sim/orders/{order_id}/cancel", json={}))

    def refund(self, sim: httpx.Client, order_id: str) -> str:
        body = {"refund_line_items": [{"line_item_id": 2, "quantity": 1}]}
        return str(_ok(sim.post(f"/_sim/orders/{order_id}/refunds", json=body))["refund"]["id"])


@dataclass(frozen=True)
class WooCommerceRig:
    create_app: Callable[[], ASGIApp] = create_woocommerce

    def subscribe(self, sim: httpx.Client, address: str, secret: str) -> None:
        for topic in ("order.created", "order.updated"):
            body = {"topic": topic, "delivery_url": address, "secret": secret}
            _ok(sim.post("/_sim/webhooks", json=body))

    def api(self, sim_url: str) -> dict[str, Any]:
        return {"api_url": sim_url, "consumer_key": "ck_demo", "consumer_secret": "cs_demo"}

    def place(self, sim: httpx.Client, at: datetime, *, paid: bool, deliver: bool = True) -> str:
        stamp = at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        body = {
            **woo_nok_order(),
            "status": "processing" if paid else "pending",
            "date_created_gmt": stamp,
            "date_modified_gmt": stamp,
            "date_paid_gmt": stamp if paid else None,
            "deliver": deliver,
        }
        return str(_ok(sim.post("/_sim/orders", json=body))["order"]["id"])

    def pay(self, sim: httpx.Client, order_id: str) -> None:
        _ok(sim.post(f"/_sim/orders/{order_id}/status", json={"status": "processing"}))

    def cancel(self, sim: httpx.Client, order_id: str) -> None:
        _ok(sim.post(f"/_sim/orders/{order_id}/status", json={"status": "cancelled"}))

    def refund(self, sim: httpx.Client, order_id: str) -> str:
        body = {"line_items": [{"id": 316, "quantity": 1}]}
        return str(_ok(sim.post(f"/_sim/orders/{order_id}/refunds", json=body))["refund"]["id"])


RIGS: dict[str, ShopRig] = {
    "shopify": ShopifyRig(),
    "woocommerce": WooCommerceRig(),
}
