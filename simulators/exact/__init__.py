"""A faithful Exact Online REST API simulator (see erp/exact-online.md, section 8).

`create_app(options)` returns the ASGI app: the OAuth endpoints under `/api/oauth2`, the REST API
under `/api/v1/{division}` and `/api/v1/current/Me`, and the shared `/_sim/...` admin and
fault-injection routes (plus `POST /_sim/expire-tokens`, `POST /_sim/items`, and for the
invoice loop `POST /_sim/payments` and `POST /_sim/invoice-order`, see payments.py).
"""

from __future__ import annotations

from simulators.exact.app import ExactSim, create_app
from simulators.exact.options import WAREHOUSE_ID, ExactSimOptions
from simulators.exact.store import (
    GL_ACCOUNT_1300_ID,
    GL_ACCOUNT_8000_ID,
    GL_ACCOUNT_8010_ID,
    SALES_JOURNAL_CODE,
    SALES_JOURNAL_ID,
    USER_ID,
    VAT_CODE_IDS,
)

__all__ = [
    "GL_ACCOUNT_1300_ID",
    "GL_ACCOUNT_8000_ID",
    "GL_ACCOUNT_8010_ID",
    "SALES_JOURNAL_CODE",
    "SALES_JOURNAL_ID",
    "USER_ID",
    "VAT_CODE_IDS",
    "WAREHOUSE_ID",
    "ExactSim",
    "ExactSimOptions",
    "create_app",
]
