"""OAuth 1.0a as WooCommerce checks it on plain http (`class-wc-rest-authentication.php`,
`check_oauth_signature` and `check_oauth_timestamp_and_nonce`), for the WooCommerce simulator.

Over http WooCommerce takes no Basic auth and no keys in the query: a client signs each request
(one-legged: no token). The string signed is `METHOD&rawurlencode(URL without query)&`
followed by the parameters (the query's as PHP reads it, `oauth_signature` left out), sorted by
name, each name and value `rawurlencode`d, joined as `name=value`, each pair `rawurlencode`d
again and the pairs joined with `%26`. The key is the consumer secret followed by `&`; HMAC-SHA1
or HMAC-SHA256, base64. The timestamp must be within 15 minutes of the site's clock and a nonce
is taken once per key and timestamp. Each refusal is a 401 with WooCommerce's code and message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import parse_qsl, quote

OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_timestamp",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
)
WINDOW_SECONDS = 15 * 60
ALGORITHMS = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}


def is_oauth(query: str) -> bool:
    return any(name == "oauth_consumer_key" for name, _ in parse_qsl(query, keep_blank_values=True))


def rfc3986(text: str) -> str:
    """PHP's rawurlencode: everything but letters, digits and `-_.~` percent-encoded."""
    return quote(text, safe="~")


def string_to_sign(method: str, base_url: str, params: list[tuple[str, str]]) -> str:
    """A name given twice counts once, with its last value, as PHP reads a query into `$_GET`
    (WooCommerce's own Python client sends its parameters twice over http)."""
    pairs = sorted(
        (name, value) for name, value in dict(params).items() if name != "oauth_signature"
    )
    joined = [rfc3986(f"{rfc3986(name)}={rfc3986(value)}") for name, value in pairs]
    return f"{method.upper()}&{rfc3986(base_url)}&{'%26'.join(joined)}"


def signature(
    method: str, base_url: str, params: list[tuple[str, str]], secret: str, algorithm: str
) -> str:
    digest = hmac.new(
        f"{secret}&".encode(),
        string_to_sign(method, base_url, params).encode(),
        ALGORITHMS[algorithm],
    ).digest()
    return base64.b64encode(digest).decode()


class OAuthChecker:
    """Checks one request's OAuth parameters against the store's one consumer key; remembers
    the nonces it has taken."""

    def __init__(
        self, consumer_key: str, consumer_secret: str, nonces: set[tuple[str, str, str]]
    ) -> None:
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.nonces = nonces

    def refusal(
        self, method: str, base_url: str, query: str, now: float | None = None
    ) -> tuple[str, str] | None:
        """(code, message) of WooCommerce's 401, or None when the request is signed right."""
        params = parse_qsl(query, keep_blank_values=True)
        given = dict(params)
        for name in OAUTH_PARAMS:
            if not given.get(name):
                return ("woocommerce_rest_authentication_error", f"Missing OAuth parameter {name}")
        if given["oauth_consumer_key"] != self.consumer_key:
            return "woocommerce_rest_authentication_error", "Consumer key is invalid."
        algorithm = given["oauth_signature_method"]
        if algorithm not in ALGORITHMS:
            return (
                "woocommerce_rest_authentication_error",
                "Invalid signature - signature method is invalid.",
            )
        expected = signature(method, base_url, params, self.consumer_secret, algorithm)
        if not hmac.compare_digest(expected, given["oauth_signature"]):
            return (
                "woocommerce_rest_authentication_error",
                "Invalid signature - provided signature does not match.",
            )
        now = time.time() if now is None else now
        try:
            stamp = int(given["oauth_timestamp"])
        except ValueError:
            stamp = 0
        if not now - WINDOW_SECONDS <= stamp <= now + WINDOW_SECONDS:
            return "woocommerce_rest_authentication_error", "Invalid timestamp."
        nonce = (given["oauth_consumer_key"], given["oauth_timestamp"], given["oauth_nonce"])
        if nonce in self.nonces:
            return (
                "woocommerce_rest_authentication_error",
                "Invalid nonce - nonce has already been used.",
            )
        self.nonces.add(nonce)
        return None
