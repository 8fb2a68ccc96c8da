"""Redis key families: each declared once, as a `Family` beside the code that owns it.

A key is `ob:<family>:<parts>`. The store (`core.store`) owns most families, admission
(`core.admission`) `ob:adm:*`, the metrics recorder (`core.metrics_store`) `ob:m:*`; everything
else (metrics, status page, CLI, tests) builds keys through those declarations, never from
strings, so a family is renamed or documented in one place. `FAMILIES` lists them all (a test
checks no two share a name and that no code spells a key by hand).
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "ob"


@dataclass(frozen=True)
class Family:
    """One key family: its name (`ob:<name>:...`) and what its keys hold (Redis type, meaning)."""

    name: str
    holds: str

    def key(self, *parts: str) -> str:
        return ":".join((PREFIX, self.name, *parts))

    def pattern(self, *parts: str) -> str:
        """A SCAN/KEYS pattern for the family's keys (below `parts`)."""
        return self.key(*parts, "*")
