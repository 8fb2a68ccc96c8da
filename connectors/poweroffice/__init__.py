"""PowerOffice Go (Norway): connector, settings and mapping."""

from connectors.poweroffice.connector import PowerOfficeConnector
from connectors.poweroffice.settings import PowerOfficeSettings

__all__ = ["PowerOfficeConnector", "PowerOfficeSettings"]
