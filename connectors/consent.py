"""OAuth consent for connectors that need a user's grant (Exact Online's authorization code).

`orderbridge connect NAME` prints the authorize URL, takes the code (or the whole redirect URL)
back, and stores the first token pair; that also lifts a block left by a refused refresh token,
so the connection's waiting jobs go on by themselves. `--auto` follows the authorize URL without a
browser, which only a simulator (or a pre-approved test tenant) allows.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from connectors.base import Connector


class ConsentError(Exception):
    pass


def connect(
    connector: Connector,
    code: str | None = None,
    auto: bool = False,
    ask: Callable[[str], str] | None = None,
) -> str:
    tokens = connector.consent()
    if tokens is None:
        raise ConsentError("this connection's ERP needs no OAuth consent")
    url = tokens.authorize_url()
    if auto:
        response = httpx.get(url, follow_redirects=False, timeout=10)
        code = tokens.code_from_redirect(response.headers.get("location", ""))
        if not code:
            raise ConsentError(
                f"the authorize URL did not redirect with a code (HTTP {response.status_code})"
            )
    elif not code:
        if ask is None:
            raise ConsentError(f"open {url}, consent, then run again with --code")
        code = ask(url).strip()
    if code and "code=" in code:
        code = tokens.code_from_redirect(code)
    if not code:
        raise ConsentError("no authorization code given")
    pair = tokens.exchange_code(code)
    return f"connected: access token valid for {int(pair.expires_at - pair.issued_at)} s"
