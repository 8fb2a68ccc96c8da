"""The failover chaos run (`make chaos-ha`): the chaos run on a Sentinel group whose masters die.

    .venv/bin/python -m bench.chaos_ha [--orders 1000] [--runs 3] [--out bench/reports/chaos_ha.md]
    .venv/bin/python -m bench.chaos_ha --orders 150 --runs 1 --master-kills-at 60 --away-runs 0

Each run is `bench.chaos`'s (1,000 orders into the PowerOffice simulator with its faults, two
workers SIGKILLed in turn every 10 s), about a minute of posting, with the store and the broker on
a Sentinel group of the run's own (3 Redis, 3 Sentinels, `down-after-milliseconds` 3000, and
`redis_min_replicas = 1`; `bench.chaos_sentinel`) instead of one Redis: the master is SIGKILLed
at about order 400 and the new master at about order 750, each old master started again as a
replica (`bench.chaos_failover`). After the `--runs` failover runs come `--away-runs` runs in
which both replicas are SIGSTOPped for 30 s mid-run instead (no ERP write may happen for a step
whose marks no replica confirmed). PASS needs every run to pass: `bench.chaos`'s counts, every
kill followed by a promotion, no ERP write while the replicas were away (after the grace), and
every job final within `--drain-timeout` (3 minutes) of the last order in a failover run
(`--away-drain-timeout`, 10 minutes, in a replicas-away run, whose 30 s stop stalls everything).
Exit code 0 on PASS, 1 on FAIL, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import copy
import sys

from bench.chaos import build_parser, finish_args, run_all
from bench.chaos_run import ROOT

PROG = "python -m bench.chaos_ha"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = build_parser(PROG, __doc__)
    ha = p.add_argument_group("Sentinel group and failovers")
    ha.add_argument("--replicas", type=int, default=2, help="replicas beside the master")
    ha.add_argument("--down-after-ms", type=int, default=3000, help="Sentinel's down-after")
    ha.add_argument("--min-replicas", type=int, default=1, help="redis_min_replicas")
    ha.add_argument("--replica-timeout-ms", type=int, default=500, help="WAIT's timeout")
    ha.add_argument(
        "--master-kills-at",
        type=_orders,
        default=[400, 750],
        help="orders (comma-separated) at which the master is SIGKILLed",
    )
    ha.add_argument("--away-runs", type=int, default=1, help="runs with the replicas stopped")
    ha.add_argument("--away-at", type=int, default=300, help="order at which they stop")
    ha.add_argument("--away-seconds", type=float, default=30.0)
    ha.add_argument(
        "--away-grace",
        type=float,
        default=5.0,
        help="seconds after the stop in which steps confirmed before it may still write",
    )
    ha.add_argument(
        "--away-drain-timeout",
        type=float,
        default=600.0,
        help="a replicas-away run's drain timeout (the 3 minutes are the failover runs')",
    )
    p.set_defaults(
        rate=1000 / 60,
        redis_restart="none",
        drain_timeout=180.0,
        out=str(ROOT / "bench" / "reports" / "chaos_ha.md"),
    )
    args = finish_args(p.parse_args(argv))
    args.sentinel = True
    args.scenario = "failover"
    args.replicas_away_at = None
    args.replicas_away_seconds = args.away_seconds
    args.replicas_away_grace = args.away_grace
    return args


def _orders(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def plan(args: argparse.Namespace) -> list[argparse.Namespace]:
    """The failover runs, then the runs with the replicas away (no master killed): those must
    complete everything once the replicas are back, in `--away-drain-timeout`."""
    away = copy.copy(args)
    away.scenario, away.master_kills_at, away.replicas_away_at = "replicas away", [], args.away_at
    away.drain_timeout = args.away_drain_timeout
    return [args] * args.runs + [away] * args.away_runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_all(args, plan(args), PROG, argv, title="orderbridge failover chaos run")


if __name__ == "__main__":
    sys.exit(main())
