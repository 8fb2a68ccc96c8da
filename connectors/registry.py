"""The connectors by ERP name: an explicit dict, no plugin discovery."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from connectors.exact import ExactConnector, ExactSettings
from connectors.poweroffice import PowerOfficeConnector, PowerOfficeSettings


@dataclass(frozen=True)
class ConnectorSpec:
    settings_model: type[BaseModel]
    factory: Callable[..., Any]


CONNECTORS: dict[str, ConnectorSpec] = {
    "poweroffice": ConnectorSpec(PowerOfficeSettings, PowerOfficeConnector),
    "exact": ConnectorSpec(ExactSettings, ExactConnector),
}
