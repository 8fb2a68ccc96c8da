"""What the demo sets up in a simulator before it sends sample orders: each simulator brings its
own scene, so the demo itself never asks which ERP it talks to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

# Given a client on the simulator's base URL and the (code, name) of every article the demo's
# orders use, put in place what the ERP must already hold.
Seed = Callable[[httpx.Client, list[tuple[str, str]]], None]


@dataclass(frozen=True)
class DemoScene:
    # Faults posted to `/_sim/faults` before the orders go out (e.g. a short outage).
    faults: tuple[dict[str, Any], ...] = ()
    seed: Seed | None = None
    # Changes to the first line of the last sample order that make this ERP refuse it.
    # (The default: a VAT rate with no sales account configured.)
    refused_line: dict[str, str] = field(default_factory=lambda: {"vat_rate": "0.10"})
