"""The demo's PowerOffice Go scene: the second order's draft fails twice (503), then works."""

from __future__ import annotations

from simulators.scene import DemoScene

SCENE = DemoScene(
    faults=({"match": "POST /SalesOrders/Complete", "mode": "status", "status": 503, "count": 2},)
)
