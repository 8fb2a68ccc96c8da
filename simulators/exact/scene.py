"""The demo's Exact Online scene: the items exist (Exact's items are never created by us), and
one order names an item Exact does not know."""

from __future__ import annotations

import httpx

from simulators.scene import DemoScene


def _seed_items(client: httpx.Client, articles: list[tuple[str, str]]) -> None:
    for code, name in articles:
        client.post("/_sim/items", json={"Code": code, "Description": name}).raise_for_status()


# The refused order names an item Exact does not know.
SCENE = DemoScene(seed=_seed_items, refused_line={"sku": "NOT-IN-EXACT", "vat_rate": "0.15"})
