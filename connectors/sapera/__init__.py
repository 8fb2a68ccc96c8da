"""Sapera (Cloud Retail Systems, Denmark): connector, login, settings and the price rule."""

from __future__ import annotations

import httpx

from connectors.base import Connector, ErpSettings, TokenStore
from connectors.sapera.connector import SaperaConnector
from connectors.sapera.rehearsal import stand_in
from connectors.sapera.settings import SaperaSettings

__all__ = ["SaperaConnector", "SaperaSettings", "build", "stand_in"]


def build(settings: ErpSettings, client: httpx.Client, store: TokenStore) -> Connector:
    """The registry's factory: the settings were validated by `SaperaSettings` at load."""
    if not isinstance(settings, SaperaSettings):
        raise TypeError(f"expected SaperaSettings, got {type(settings).__name__}")
    return SaperaConnector(settings, client, store)
