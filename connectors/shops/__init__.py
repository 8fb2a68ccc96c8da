"""How we read orders back from the shops (for reconciliation): one small client per shop."""
