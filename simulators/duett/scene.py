"""The demo's Duett scene: a short outage on order creation (two 503s, then it works), and the
default refused order - a VAT rate Duett has no taxSaleId for."""

from __future__ import annotations

from simulators.scene import DemoScene

SCENE = DemoScene(
    faults=({"match": "POST /Order/v2", "mode": "status", "status": 503, "count": 2},),
    refused_line={"vat_rate": "0.10"},
)
