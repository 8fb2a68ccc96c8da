"""The simulated Sapera tenant: accounts, products with their variants and instances, actors,
sales orders, invoices and the logins that the `User` role created.

Entities are kept in the API's camelCase shape, so `/_sim/state` and the API answer from the same
data. Ids come from one counter per kind; sales-order and invoice numbers are sequential per
tenant and distinct from ids, so a connector that mixes them up is caught. Handlers never await
between checking and writing, so numbering is race-free on the server's single event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FIRST_IDS = {
    "product": 1001,
    "variant": 2001,
    "instance": 3001,
    "actor": 4001,
    "salesOrder": 5001,
    "item": 6001,
    "invoice": 7001,
    "user": 9001,
}
FIRST_NUMBERS = {"salesOrder": 10001, "invoice": 20001}


@dataclass
class Store:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # number -> account
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    variants: dict[int, dict[str, Any]] = field(default_factory=dict)
    instances: dict[int, dict[str, Any]] = field(default_factory=dict)
    actors: dict[int, dict[str, Any]] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    users: list[dict[str, Any]] = field(default_factory=list)
    demo_identifiers: set[str] = field(default_factory=set)  # from the demo_catalogue option
    _next_ids: dict[str, int] = field(default_factory=lambda: dict(FIRST_IDS))
    _next_numbers: dict[str, int] = field(default_factory=lambda: dict(FIRST_NUMBERS))

    def new_id(self, kind: str) -> int:
        self._next_ids[kind] += 1
        return self._next_ids[kind] - 1

    def new_number(self, kind: str) -> int:
        self._next_numbers[kind] += 1
        return self._next_numbers[kind] - 1

    def variants_of(self, product_id: int) -> list[dict[str, Any]]:
        return [v for v in self.variants.values() if v["productId"] == product_id]

    def instances_of(self, product_id: int) -> list[dict[str, Any]]:
        return [i for i in self.instances.values() if i["productId"] == product_id]

    def identifiers_of(self, product: dict[str, Any]) -> list[str]:
        """The product's identifier and those of its variants and instances."""
        return [
            product["identifier"],
            *(v["identifier"] for v in self.variants_of(product["id"])),
            *(i["identifier"] for i in self.instances_of(product["id"])),
        ]

    def identifier_taken(self, identifier: str) -> bool:
        lowered = identifier.lower()
        return any(
            row["identifier"].lower() == lowered
            for rows in (self.products, self.variants, self.instances)
            for row in rows.values()
        )

    def product_by_identifier(self, identifier: str) -> dict[str, Any] | None:
        lowered = identifier.lower()
        return next((p for p in self.products.values() if p["identifier"].lower() == lowered), None)

    def user(self, name: str) -> dict[str, Any] | None:
        return next((u for u in self.users if u["userName"].lower() == name.lower()), None)

    def remove_product(self, product_id: int) -> None:
        self.products.pop(product_id, None)
        for rows in (self.variants, self.instances):
            for key in [k for k, row in rows.items() if row["productId"] == product_id]:
                del rows[key]
