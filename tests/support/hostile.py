"""Hostile values for payload tests: wrong types, nulls, huge and non-finite numbers, unicode
oddities, deep nesting; and `mutate`, which plants a few of them at random places in a payload."""

from __future__ import annotations

import random
from typing import Any


def deep_list(depth: int) -> list[Any]:
    """Nested `depth` levels, built without recursion (as a JSON parser with a raised limit
    could hand it to us)."""
    root: list[Any] = []
    current = root
    for _ in range(depth):
        inner: list[Any] = []
        current.append(inner)
        current = inner
    return root


DEEP = deep_list(100_000)
NASTY: list[Any] = [
    None,
    "",
    "   ",
    "abc",
    "-1",
    -1,
    0,
    "0",
    "-0",
    1,
    1.5,
    "1e999999",
    "-1e999999",
    10**400,
    -(10**30),
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    "NaN",
    "Infinity",
    "sNaN",
    True,
    False,
    [],
    {},
    [None],
    {"amount": None},
    {"shop_money": []},
    "\ud800",
    "\x00",
    "😀" * 5000,
    "x" * 300,
    "x" * 20_000,
    "١٢٣",
    "12,50",
    "1_000",
    "0x10",
    "  12.5  ",
    1.0000001,
    "12.345678901234567",
    "99999999999.99",
    "2026-13-45T99:99:99",
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "NO\n",
    "nok",
    "ab@",
    "@",
    "a@b",
    0.1 + 0.2,
    -0.0,
    DEEP,
    [DEEP],
    {"deep": DEEP},
    ["a", 1, None],
    {"id": DEEP},
    "paid",
    "cancelled",
    2**63,
]


def slots_of(node: Any, limit: int = 2000) -> list[tuple[Any, Any]]:
    """(container, key) for every value in a payload, breadth first, bounded."""
    slots: list[tuple[Any, Any]] = []
    queue = [node]
    while queue and len(slots) < limit:
        current = queue.pop(0)
        keys = list(current) if isinstance(current, dict) else range(len(current))
        for key in keys:
            slots.append((current, key))
            if isinstance(current[key], (dict, list)) and current[key] is not DEEP:
                queue.append(current[key])
    return slots


def mutate(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    for _ in range(rng.randint(1, 4)):
        slots = slots_of(payload)
        if not slots:
            break
        container, key = rng.choice(slots)
        action = rng.random()
        if action < 0.15 and isinstance(container, dict):
            del container[key]
        elif action < 0.25 and isinstance(container[key], list) and container[key]:
            container[key] = container[key] * rng.choice([2, 60, 300])
        else:
            container[key] = rng.choice(NASTY)
    return payload
