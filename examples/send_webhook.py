"""Send a shop webhook body to the intake, signed as the shop would sign it.

    .venv/bin/python examples/send_webhook.py demo-shopify examples/shopify-order.json
    .venv/bin/python examples/send_webhook.py demo-shopify examples/shopify-refund.json
    .venv/bin/python examples/send_webhook.py demo-woocommerce examples/woocommerce-order.json

The connection (from ORDERBRIDGE_CONFIG) says which shop it is, its webhook secret and where the
intake listens. The signature is base64(HMAC-SHA256(secret, the exact bytes sent)): Shopify's
`X-Shopify-Hmac-Sha256`, WooCommerce's `X-WC-Webhook-Signature`. The topic defaults to the
body's kind (`orders/create`, `refunds/create`, `order.created`); `--topic` sets another one.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import uuid
from pathlib import Path

import httpx

from core.settings import ConfigError, load_settings


def sign(body: bytes, secret: bytes) -> str:
    return base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


def default_topic(source: str, body: bytes) -> str:
    if source == "woocommerce":
        return "order.created"
    return "refunds/create" if "refund_line_items" in json.loads(body) else "orders/create"


def webhook_headers(source: str, topic: str, body: bytes, secret: bytes) -> dict[str, str]:
    """The headers a shop sends with a delivery (a fresh delivery id each time)."""
    if source == "shopify":
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(body, secret),
            "X-Shopify-Shop-Domain": "demo.myshopify.com",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-API-Version": "2025-01",
        }
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex[:8],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("connection", help="a connection with source = shopify or woocommerce")
    parser.add_argument("file", type=Path, help="the webhook body (JSON)")
    parser.add_argument("--topic", help="default: from the body's kind")
    parser.add_argument("--url", help="the intake's base URL (default: from the configuration)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        conn = settings.connection(args.connection)
    except ConfigError as exc:
        print(
            f"configuration error: {exc} (export ORDERBRIDGE_CONFIG=orderbridge.example.toml)",
            file=sys.stderr,
        )
        return 2
    if conn.source not in ("shopify", "woocommerce") or not conn.shop.secrets():
        print(f"{conn.name} is not a shop connection with a webhook_secret", file=sys.stderr)
        return 2
    body = args.file.read_bytes()  # signed and sent byte for byte
    topic = args.topic or default_topic(conn.source, body)
    host = "127.0.0.1" if settings.intake.host in ("0.0.0.0", "::") else settings.intake.host
    base = args.url or f"http://{host}:{settings.intake.port}"
    response = httpx.post(
        f"{base}/webhooks/{conn.source}/{conn.name}",
        content=body,
        headers=webhook_headers(conn.source, topic, body, conn.shop.secrets()[0]),
        timeout=10,
    )
    print(response.status_code, response.text)
    return 0 if response.is_success else 1


if __name__ == "__main__":
    sys.exit(main())
