"""`make demo` on a machine with no Redis running: run it in a fresh network namespace, where
127.0.0.1 has nothing listening, so the demo must start its embedded Redis, simulator, intake and
worker itself, and print the outcome table."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.cluster import ROOT

pytestmark = pytest.mark.e2e


def test_make_demo_without_redis_prints_the_outcome_table() -> None:
    script = (
        "ip link set lo up && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && make demo"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBRIDGE_")}
    env["COLUMNS"] = "250"
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "started an embedded one" in out
    assert "orderbridge demo: outcome" in out
    assert out.count(" done ") >= 10, out[-3000:]
    assert "dead letter at upsert_products: no sales account configured for VAT rate 0.1" in out
    assert "sent twice: 2nd answered 200, same job" in out
    assert "unknown item(s) in Exact Online: NOT-IN-EXACT" in out
    assert "demo-exact" in out
    assert "demo-duett" in out and "VAT rate 0.1 has no Duett tax code" in out
    assert "demo-sapera" in out and "SAP-AVIS is booked on account 3050" in out
