"""What Duett does not get of an order, as `mapping` builds it: the VAT number and the delivery
address (no field we send), a person's company details, and the postcode of a foreign address
(Duett keeps none abroad). A Norwegian address's town comes from Duett's own postcode register,
so the shop's town is not reported. Text lines and serial numbers do reach Duett."""

from __future__ import annotations

from connectors import unmapped
from connectors.duett.mapping import NORWAY
from schemas.dropped import Dropped
from schemas.order import Order

ERP = "Duett"


def dropped(order: Order) -> list[Dropped]:
    customer = order.customer
    found = unmapped.customer_fields(
        order, {"vat_number": f"{ERP} customers carry the organisation number only: not sent"}
    )
    if customer.kind != "company":
        found += unmapped.customer_fields(
            order,
            {
                "org_number": f"the customer is a person, and {ERP} gets it for companies "
                f"only: not sent"
            },
        )
        if customer.name:
            found += unmapped.customer_fields(
                order,
                {"company_name": f"{ERP} names a person customer after the person: not sent"},
            )
    billing = customer.billing_address
    if billing and billing.postal_code and (billing.country or NORWAY).upper() != NORWAY:
        found.append(
            Dropped(
                field="customer.billing_address.postal_code",
                reason=f"{ERP} keeps no postcode on a foreign address (country "
                f"{billing.country}): the postcode is not sent",
            )
        )
    return [*found, *unmapped.shipping_address(order, ERP)]
