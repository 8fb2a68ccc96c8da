"""A faithful Sapera simulator: Cloud Retail Systems' "CRS" platform API (see erp/sapera.md).

`create_app(options)` returns the ASGI app: login and refresh, the bearer-token check, the
actors, inventory, sales-order and invoice actions (POST JSON in the `errorOrValue` envelope,
unconfirmed URLs and names as options), and the shared `/_sim/...` admin and fault-injection
routes (plus `POST /_sim/expire-tokens`, `POST /_sim/products` and `POST /_sim/payments`).
"""

from __future__ import annotations

from simulators.sapera.app import SaperaSim, create_app
from simulators.sapera.options import SaperaSimOptions

__all__ = ["SaperaSim", "SaperaSimOptions", "create_app"]
