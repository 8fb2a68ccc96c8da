"""What PowerOffice Go does not get of an order, as `mapping` builds it: the VAT number and the
delivery address (no field we send), serial numbers (no place on a sales order), a person's
company details, a company's contact person, and a billing address without city or postcode
(Go refuses an address without both, so none is sent)."""

from __future__ import annotations

from connectors import unmapped
from connectors.poweroffice.mapping import mail_address
from schemas.dropped import Dropped
from schemas.order import Order

ERP = "PowerOffice Go"
PERSON_ONLY = f"the customer is a person, and {ERP} keeps a person's name only: not sent"


def dropped(order: Order) -> list[Dropped]:
    customer = order.customer
    found = unmapped.customer_fields(
        order, {"vat_number": f"{ERP} customers carry the organisation number only: not sent"}
    )
    if customer.kind == "company" or (customer.company_name and not customer.name):
        if customer.company_name:
            found += unmapped.customer_fields(
                order, {"name": f"{ERP} gets the company name only (no contact person): not sent"}
            )
    else:
        found += unmapped.customer_fields(
            order, {"company_name": PERSON_ONLY, "org_number": PERSON_ONLY}
        )
    billing = customer.billing_address
    if unmapped.has(billing) and mail_address(billing) is None:
        found.append(
            Dropped(
                field="customer.billing_address",
                reason=f"{ERP} needs both city and postcode on an address: the billing "
                f"address is not sent",
            )
        )
    return [
        *found,
        *unmapped.shipping_address(order, ERP),
        *unmapped.serial_numbers(order, ERP),
    ]
