"""The connectors by ERP name: an explicit dict, no plugin discovery.

A new ERP joins by adding its line here (settings model and factory); the shared contract suite
(`tests/contract`) runs against every entry that has a simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from connectors import duett, exact, poweroffice, sapera
from connectors.base import ConnectorFactory
from connectors.rehearsal import StandIn


@dataclass(frozen=True)
class ConnectorSpec:
    settings_model: type[BaseModel]
    factory: ConnectorFactory
    # The ERP's side of a dry run (`connectors.rehearsal`), built from the connection's settings.
    stand_in: Callable[[Any], StandIn] | None = None


CONNECTORS: dict[str, ConnectorSpec] = {
    "poweroffice": ConnectorSpec(
        poweroffice.PowerOfficeSettings, poweroffice.build, stand_in=poweroffice.stand_in
    ),
    "exact": ConnectorSpec(exact.ExactSettings, exact.build, stand_in=exact.stand_in),
    "duett": ConnectorSpec(duett.DuettSettings, duett.build, stand_in=duett.stand_in),
    "sapera": ConnectorSpec(sapera.SaperaSettings, sapera.build, stand_in=sapera.stand_in),
}
