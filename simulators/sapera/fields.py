"""Request bodies as the CRS platform reads them.

Property names match case-insensitively (the docs mix `AllowModifyingWhenReady`, `searchPattern`
and `SearchPattern`; ASP.NET binds either). Optional fields come wrapped as `{"value": X}`, but
the docs apply the wrapper inconsistently, so a bare value is taken as well - except in the
`strict_wrappers` mode, where the fields a handler marks `wrapped=True` (those the docs or our
documented guesses wrap) must come wrapped. Numbers must be JSON numbers (System.Text.Json's
default); a wrong type is a Validation error naming the field's path.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulators.sapera.envelope import validation

_MISSING = object()


def lookup(data: dict[str, Any], name: str) -> Any:
    """`data[name]` matched case-insensitively; `_MISSING` when absent."""
    if name in data:
        return data[name]
    lowered = name.lower()
    return next((value for key, value in data.items() if key.lower() == lowered), _MISSING)


def _is_wrapper(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and lookup(value, "value") is not _MISSING


@dataclass(frozen=True)
class Body:
    """One JSON object of a request; `where` is its path for messages, e.g. `modelUpdates[1].`."""

    data: dict[str, Any]
    strict: bool = False
    where: str = ""

    def get(self, name: str, wrapped: bool = False, required: bool = False) -> Any:
        """The field's value, unwrapped; None when absent or null."""
        found = lookup(self.data, name)
        if _is_wrapper(found):
            found = lookup(found, "value")
        elif found is not _MISSING and found is not None and wrapped and self.strict:
            raise validation(f'{self.where}{name} must be wrapped as {{"value": ...}}.')
        if found is _MISSING or found is None:
            if required:
                raise validation(f"{self.where}{name} is required.")
            return None
        return found

    def text(self, name: str, wrapped: bool = False, required: bool = False) -> str | None:
        value = self.get(name, wrapped, required)
        if value is not None and not isinstance(value, str):
            raise self._type(name, "a string")
        if required and not (value or "").strip():
            raise validation(f"{self.where}{name} is required.")
        return value

    def integer(self, name: str, wrapped: bool = False, required: bool = False) -> int | None:
        value = self.get(name, wrapped, required)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise self._type(name, "an integer")
        return value

    def number(self, name: str, wrapped: bool = False, required: bool = False) -> Decimal | None:
        value = self.get(name, wrapped, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._type(name, "a number")
        number = Decimal(str(value))
        if not number.is_finite():
            raise self._type(name, "a finite number")
        return number

    def flag(self, name: str, wrapped: bool = False) -> bool | None:
        value = self.get(name, wrapped)
        if value is not None and not isinstance(value, bool):
            raise self._type(name, "true or false")
        return value

    def child(self, name: str, wrapped: bool = False, required: bool = False) -> Body | None:
        value = self.get(name, wrapped, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._type(name, "an object")
        return Body(value, self.strict, f"{self.where}{name}.")

    def array(self, name: str, wrapped: bool = False, required: bool = False) -> list[Any]:
        value = self.get(name, wrapped, required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._type(name, "an array")
        return value

    def children(self, name: str, required: bool = False) -> list[Body]:
        """An array of objects, e.g. `modelUpdates`, each with its own path."""
        bodies = []
        for index, value in enumerate(self.array(name, required=required)):
            if not isinstance(value, dict):
                raise validation(f"{self.where}{name}[{index}] must be an object.")
            bodies.append(Body(value, self.strict, f"{self.where}{name}[{index}]."))
        return bodies

    def _type(self, name: str, kind: str) -> Exception:
        return validation(f"{self.where}{name} must be {kind}.")
