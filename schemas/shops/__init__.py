"""What every shop's mapping shares: reading a shop's JSON (`read`), canonical lines and
customers (`common`), credit orders (`credit`), `MappingError` naming the shop's field, and
`ShopStatus`. Each shop's own mapping is in its package under `connectors/shops/`.
"""

from __future__ import annotations

from schemas.shops.errors import MappingError
from schemas.shops.status import ShopStatus

__all__ = ["MappingError", "ShopStatus"]
