"""Exact Online (Netherlands, Belgium): connector, OAuth with rotating tokens, settings, mapping."""

from __future__ import annotations

import httpx

from connectors.base import Connector, ErpSettings, TokenStore
from connectors.exact.connector import ExactConnector
from connectors.exact.rehearsal import stand_in
from connectors.exact.settings import ExactSettings

__all__ = ["ExactConnector", "ExactSettings", "build", "stand_in"]


def build(settings: ErpSettings, client: httpx.Client, store: TokenStore) -> Connector:
    """The registry's factory: the settings were validated by `ExactSettings` at load."""
    if not isinstance(settings, ExactSettings):
        raise TypeError(f"expected ExactSettings, got {type(settings).__name__}")
    return ExactConnector(settings, client, store)
