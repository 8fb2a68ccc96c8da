"""A faithful PowerOffice Go v2 API simulator (see erp/poweroffice-go.md, section 9).

`create_app(options)` returns the ASGI app: the ERP's own routes under `/v2` and `/Demo/v2`, the
token URLs, and the shared `/_sim/...` admin and fault-injection routes.
"""

from __future__ import annotations

from simulators.poweroffice.app import PowerOfficeSim, create_app
from simulators.poweroffice.options import PowerOfficeSimOptions
from simulators.poweroffice.store import SALES_ACCOUNTS, SalesAccount

__all__ = [
    "PowerOfficeSim",
    "PowerOfficeSimOptions",
    "SALES_ACCOUNTS",
    "SalesAccount",
    "create_app",
]
