"""The one error a shop mapping raises.

Shop payloads arrive from outside: a webhook body or a polled order. Whatever is wrong with one
(a missing field, a string where a number belongs, totals that do not add up, a line without an
article) ends as a `MappingError` that names the offending place in the *shop's* payload, so the
intake can answer 4xx with that field and an operator can open the shop order and look there.
Nothing else escapes the mapping functions: not TypeError, KeyError or decimal errors.
"""

from __future__ import annotations


class MappingError(ValueError):
    """A shop payload could not become a canonical order (or status).

    `field` is a dotted path in the shop payload (`line_items.3.price`; "" for the payload
    itself); `message` says what is wrong in words an integrator can act on.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
