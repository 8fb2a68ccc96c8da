"""The simulators by name, with their default ports (design §8), and how to run one.

An explicit dict, like every registry here: the CLI's `simulate ERP [--port N]`, the demo and the
benchmarks look simulators up in it. Each factory accepts its options as a plain dict.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from simulators.duett import create_app as create_duett
from simulators.duett.scene import SCENE as DUETT_SCENE
from simulators.exact import create_app as create_exact
from simulators.exact.scene import SCENE as EXACT_SCENE
from simulators.poweroffice import create_app as create_poweroffice
from simulators.poweroffice.scene import SCENE as POWEROFFICE_SCENE
from simulators.sapera import create_app as create_sapera
from simulators.sapera.scene import SCENE as SAPERA_SCENE
from simulators.scene import DemoScene
from simulators.shops import create_shopify, create_woocommerce

SIMULATORS: dict[str, tuple[Callable[..., ASGIApp], int]] = {
    "poweroffice": (create_poweroffice, 18081),
    "exact": (create_exact, 18082),
    "duett": (create_duett, 18083),
    "sapera": (create_sapera, 18084),
    "shopify": (create_shopify, 18091),
    "woocommerce": (create_woocommerce, 18092),
}

# What `orderbridge demo` sets up in each ERP simulator before it sends orders.
DEMO_SCENES: dict[str, DemoScene] = {
    "poweroffice": POWEROFFICE_SCENE,
    "exact": EXACT_SCENE,
    "duett": DUETT_SCENE,
    "sapera": SAPERA_SCENE,
}


def make_app(name: str, options: dict[str, Any] | None = None) -> ASGIApp:
    """The named simulator's app; KeyError names the known simulators."""
    if name not in SIMULATORS:
        raise KeyError(f"unknown simulator {name!r}; known: {', '.join(sorted(SIMULATORS))}")
    factory, _ = SIMULATORS[name]
    return factory(options)


def default_port(name: str) -> int:
    return SIMULATORS[name][1]


def serve(
    name: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    options: dict[str, Any] | None = None,
) -> None:
    """Run the simulator in the foreground until SIGTERM or SIGINT (uvicorn handles both).

    h11 is chosen explicitly because the admin layer's connection drop relies on its request
    cycle exposing the transport; lifespan is off because the simulators hold no resources.
    """
    app = make_app(name, options)
    uvicorn.run(
        app,
        host=host,
        port=port or default_port(name),
        log_level="warning",
        http="h11",
        lifespan="off",
    )
