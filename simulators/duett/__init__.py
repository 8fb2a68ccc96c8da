"""A faithful Duett Økonomi Open API v2 simulator (see erp/duett.md).

`create_app(options)` returns the ASGI app: Duett's routes (every path an option), the two key
headers it checks on each call, and the shared `/_sim/...` admin and fault-injection routes.
"""

from __future__ import annotations

from simulators.duett.app import DuettSim, create_app
from simulators.duett.options import DuettSimOptions

__all__ = ["DuettSim", "DuettSimOptions", "create_app"]
