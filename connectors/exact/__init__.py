"""Exact Online (Netherlands, Belgium): connector, OAuth with rotating tokens, settings, mapping."""

from connectors.exact.connector import ExactConnector
from connectors.exact.settings import ExactSettings

__all__ = ["ExactConnector", "ExactSettings"]
