"""Duett's list query language: `filter[<prop>][<OP>]=value`, paging and ordering.

From the query-instruction page and the v1 client's Filter classes: operators are matched
case-insensitively, IN/NIN/BETWEEN repeat the key, LIKE uses `%`, values carry no quotes,
several filters are ANDed; `filter[take]`, `filter[skip]` and `filter[orderby][asc|desc]=prop`
page and sort. Strings compare case-insensitively, like SQL Server's default collation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from simulators.duett.fields import normal_date
from simulators.duett.problems import invalid

OPERATORS = (
    "EQ",
    "NEQ",
    "GT",
    "GTE",
    "LT",
    "LTE",
    "IN",
    "NIN",
    "LIKE",
    "NLIKE",
    "BETWEEN",
    "IS",
    "ISN",
)
_KEY = re.compile(r"^filter\[([^\]]*)\](?:\[([^\]]*)\])?$", re.IGNORECASE)

Filterable = dict[str, str]  # property -> kind: int, num, str, bool, date


@dataclass
class ListQuery:
    conditions: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (prop, OP)
    order: list[tuple[str, bool]] = field(default_factory=list)  # (prop, descending)
    take: int | None = None
    skip: int = 0


def parse(items: Iterable[tuple[str, str]]) -> ListQuery:
    """The filter parameters of a query string; anything else (e.g. `extend`) is left alone."""
    query = ListQuery()
    for key, value in items:
        found = _KEY.match(key)
        if not found:
            continue
        name, op = found[1], found[2]
        if name.lower() in ("take", "skip") and op is None:
            number = _count(key, value)
            query.take, query.skip = (
                (number, query.skip) if name.lower() == "take" else (query.take, number)
            )
        elif name.lower() == "orderby":
            if (op or "").lower() not in ("asc", "desc"):
                raise invalid(key, "Use filter[orderby][asc]=<property> or [desc].")
            query.order.append((value, op.lower() == "desc"))
        elif op is None or op.upper() not in OPERATORS:
            raise invalid(
                key, f"Unknown filter operator in '{key}'; use one of: {', '.join(OPERATORS)}."
            )
        else:
            query.conditions.setdefault((name, op.upper()), []).append(value)
    return query


def select(
    rows: Iterable[dict[str, Any]],
    query: ListQuery,
    filterable: Filterable,
    aliases: dict[str, str] | None = None,
    max_take: int = 0,
) -> list[dict[str, Any]]:
    """The page of `rows` the query asks for."""
    aliases = {k.lower(): v for k, v in (aliases or {}).items()}
    tests = [
        (_prop(name, filterable, aliases), op, values)
        for (name, op), values in query.conditions.items()
    ]
    checks = [
        (prop, op, [_value(prop, filterable[prop], v) for v in values])
        for prop, op, values in tests
    ]
    for prop, op, values in checks:
        _check_arity(prop, op, values)
    found = [
        row for row in rows if all(_holds(row.get(prop), op, values) for prop, op, values in checks)
    ]
    found.sort(key=lambda row: row.get("id") or 0)
    for name, descending in reversed(query.order):
        prop = _prop(name, filterable, aliases)
        found.sort(key=_by(prop), reverse=descending)
    take = query.take
    if max_take and (take is None or take > max_take):
        take = max_take
    return found[query.skip :] if take is None else found[query.skip : query.skip + take]


def _count(key: str, raw: str) -> int:
    if not raw.strip().isdigit():
        raise invalid(key, f"The value '{raw}' is not valid for {key}.")
    return int(raw)


def _prop(name: str, filterable: Filterable, aliases: dict[str, str]) -> str:
    canonical = aliases.get(name.lower()) or next(
        (p for p in filterable if p.lower() == name.lower()), None
    )
    if canonical is None:
        raise invalid(f"filter[{name}]", f"The property '{name}' can not be filtered or sorted on.")
    return canonical


def _value(prop: str, kind: str, raw: str) -> Any:
    if kind == "str":
        return raw
    if kind == "bool" and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    if kind == "date":
        text = normal_date(raw)
        if text is not None:
            return raw if len(raw) > 10 else text
    if kind in ("int", "num"):
        try:
            number = Decimal(raw)
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    if raw.lower() == "null":
        return None
    raise invalid(f"filter[{prop}]", f"The value '{raw}' is not valid for {prop}.")


def _check_arity(prop: str, op: str, values: list[Any]) -> None:
    if op == "BETWEEN" and len(values) != 2:
        raise invalid(
            f"filter[{prop}]",
            "BETWEEN takes exactly two values "
            f"(filter[{prop}][BETWEEN]=a&filter[{prop}][BETWEEN]=b).",
        )


def _holds(actual: Any, op: str, values: list[Any]) -> bool:
    if op in ("IS", "ISN"):
        return (actual is None) == (op == "IS")
    if op == "IN":
        return any(_same(actual, v) for v in values)
    if op == "NIN":
        return not any(_same(actual, v) for v in values)
    expected = values[0]
    if op == "EQ":
        return _same(actual, expected)
    if op == "NEQ":
        return not _same(actual, expected)
    if op in ("LIKE", "NLIKE"):
        matched = actual is not None and _like(str(actual), str(expected))
        return matched == (op == "LIKE")
    if actual is None or expected is None:
        return False
    a, lo = _comparable(actual), _comparable(expected)
    if op == "BETWEEN":
        return bool(lo <= a <= _comparable(values[1]))
    return bool({"GT": a > lo, "GTE": a >= lo, "LT": a < lo, "LTE": a <= lo}[op])


def _comparable(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    return str(value).casefold()


def _same(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return bool(_comparable(actual) == _comparable(expected))


def _like(text: str, pattern: str) -> bool:
    regex = ".*".join(re.escape(part) for part in pattern.split("%"))
    return re.fullmatch(regex, text, re.IGNORECASE | re.DOTALL) is not None


def _by(prop: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    """Sorts on `prop` with NULLs first when ascending, as SQL Server sorts them."""

    def key(row: dict[str, Any]) -> tuple[bool, Any]:
        value = row.get(prop)
        return (value is not None, 0 if value is None else _comparable(value))

    return key
