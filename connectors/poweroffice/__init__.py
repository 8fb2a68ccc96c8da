"""PowerOffice Go (Norway): connector, settings and mapping."""

from __future__ import annotations

import httpx

from connectors.base import Connector, ErpSettings, TokenStore
from connectors.poweroffice.connector import PowerOfficeConnector
from connectors.poweroffice.rehearsal import stand_in
from connectors.poweroffice.settings import PowerOfficeSettings

__all__ = ["PowerOfficeConnector", "PowerOfficeSettings", "build", "stand_in"]


def build(settings: ErpSettings, client: httpx.Client, store: TokenStore) -> Connector:
    """The registry's factory: the settings were validated by `PowerOfficeSettings` at load."""
    if not isinstance(settings, PowerOfficeSettings):
        raise TypeError(f"expected PowerOfficeSettings, got {type(settings).__name__}")
    return PowerOfficeConnector(settings, client, store)
