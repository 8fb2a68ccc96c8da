"""The shops orders come from, one package each behind one contract (`source.ShopSource`),
found by name in `registry.SHOPS`; `settings` is a shop connection's settings."""
