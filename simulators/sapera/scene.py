"""The demo's Sapera scene: one short outage on sales-order creation (a single 503, then it
works), and a refused order - a newspaper (zero-rated account 3050) sold at 25 % VAT, which the
connector must refuse because the VAT implied by Sapera's account differs from the shop's.
The demo's own articles come from the simulator's `demo_catalogue` option, so nothing is seeded.
"""

from __future__ import annotations

from simulators.scene import DemoScene

SCENE = DemoScene(
    faults=(
        {
            "match": "POST /api/financial/SalesOrder/CreateSalesOrder",
            "mode": "status",
            "status": 503,
            "count": 1,
        },
    ),
    refused_line={"sku": "SAP-AVIS", "vat_rate": "0.25"},
)
