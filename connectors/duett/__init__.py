"""Duett Økonomi (Norway): connector, settings, mapping and Duett's line arithmetic."""

from __future__ import annotations

import httpx

from connectors.base import Connector, ErpSettings, TokenStore
from connectors.duett.connector import DuettConnector
from connectors.duett.rehearsal import stand_in
from connectors.duett.settings import DuettSettings

__all__ = ["DuettConnector", "DuettSettings", "build", "stand_in"]


def build(settings: ErpSettings, client: httpx.Client, store: TokenStore) -> Connector:
    """The registry's factory: the settings were validated by `DuettSettings` at load."""
    if not isinstance(settings, DuettSettings):
        raise TypeError(f"expected DuettSettings, got {type(settings).__name__}")
    return DuettConnector(settings, client, store)
