"""The failover chaos run, short (`make chaos-ha` is the long one, `bench.chaos_ha`): 150 orders
into the PowerOffice simulator with its usual faults, the store and the broker on a Sentinel
group of the test's own (3 Redis, 3 Sentinels, `redis_min_replicas = 1`), its master SIGKILLed
at about order 50. Every order in the ERP exactly once, no customer or article twice, every job
final; the Sentinels promote a replica, the intake accepts orders again and the workers finish
jobs on the new master, and the old master comes back as its replica.

Clocks are a test's (a step interrupted by the kill is looked at again after 6 s, a fresh
`sending` mark waits 5 s, not 25), bounds loose (the machine is shared): only what must
happen, and within generous times.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.chaos_ha import parse_args
from bench.chaos_run import run_once
from tests.support.sentinel import REDIS_SERVER

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(REDIS_SERVER is None, reason="no redis-server on this machine"),
]

DOWN_AFTER_MS = 3000
RECOVERY_BOUND_SECONDS = 30.0  # the goal is down-after + 5 s; this only catches a client stuck


def test_every_order_goes_in_once_through_a_master_kill(tmp_path: Path) -> None:
    args = parse_args(
        [
            *("--orders", "150", "--rate", "20", "--customers", "15"),
            *("--master-kills-at", "50", "--away-runs", "0"),
            *("--down-after-ms", str(DOWN_AFTER_MS)),
            *("--workers", "2", "--concurrency", "8", "--kill-every", "0"),
            *("--stale-after", "6", "--visibility-timeout", "30"),
            *("--http-timeout", "4", "--sending-settle", "5"),
            *("--retry-base", "0.2", "--retry-cap", "2", "--burst-every", "1000"),
            *("--drain-timeout", "60", "--settle", "1"),
        ]
    )
    report = run_once(args, 1, tmp_path)

    assert not report.error, report.error
    assert report.counts is not None
    assert report.counts.passed, report.counts.problems()
    assert report.counts.documents == report.counts.orders_in - report.counts.invalid_in
    (failover,) = report.failovers
    assert failover.promoted and failover.promoted != failover.killed, failover
    assert failover.error == "", failover.error
    assert failover.intake_after is not None
    assert failover.intake_after < RECOVERY_BOUND_SECONDS, failover
    assert failover.worker_after is not None
    assert failover.worker_after < RECOVERY_BOUND_SECONDS, failover
    assert failover.rejoined_after is not None  # the old master replicates the new one
    assert report.passed
