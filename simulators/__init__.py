"""Fake ERPs for tests, the demo and benchmarks; production code never imports them."""
