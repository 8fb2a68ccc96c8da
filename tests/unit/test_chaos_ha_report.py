"""The failover chaos run's verdict and arithmetic: a kill nobody recovered from, or an ERP write
while the replicas were away, fails the run; recovery times come from the posted orders and the
finished jobs; the report shows each kill and the medians."""

from __future__ import annotations

from datetime import UTC, datetime

from bench.chaos_failover import Failover, ReplicasAway, recoveries
from bench.chaos_ha import parse_args, plan
from bench.chaos_report import markdown
from tests.unit.test_chaos_report import run_report


def away(writes: list[tuple[float, int]], grace: float = 5.0) -> ReplicasAway:
    a = ReplicasAway(at_order=300, seconds=30, grace=grace, paused=["replica0", "replica1"])
    a.at, a.resumed_at, a.writes = 100.0, 130.0, writes
    a.writes_in_grace = next((n for t, n in writes if t >= grace), writes[-1][1])
    a.writes_while_away = writes[-1][1] - a.writes_in_grace
    return a


def test_a_kill_without_a_promotion_or_with_an_error_fails_the_run() -> None:
    report = run_report(1, True)
    report.failovers = [Failover(400, killed="master", promoted="replica0")]
    assert report.passed
    report.failovers.append(Failover(750, killed="replica0"))
    assert not report.passed
    report.failovers[1] = Failover(750, killed="replica0", promoted="master", error="rejoining")
    assert not report.passed


def test_an_erp_write_after_the_grace_while_the_replicas_are_away_fails_the_run() -> None:
    report = run_report(1, True)
    report.away = away([(0.0, 0), (2.0, 4), (5.5, 6), (29.9, 6)])
    assert report.passed and report.away.writes_in_grace == 6
    report.away = away([(0.0, 0), (2.0, 4), (5.5, 6), (20.0, 7), (29.9, 7)])
    assert not report.passed and report.away.writes_while_away == 1


def test_recovery_counts_only_posts_sent_after_the_kill_and_jobs_after_the_promotion() -> None:
    failover = Failover(400, killed="master", at=100.0, promoted="replica0", agreed_after=4.0)
    accepted_at = [(99.0, 107.0), (101.0, 108.5), (103.0, 103.1 + 6)]
    recoveries([failover], accepted_at, finished_at=[101.0, 103.5, 106.0])
    assert failover.intake_after == 8.5  # the POST sent at 99 s does not count
    assert failover.worker_after == 6.0  # 101 s was before the Sentinels agreed


def test_the_plan_is_the_failover_runs_then_the_replicas_away_runs() -> None:
    args = parse_args(["--runs", "3", "--away-runs", "1"])
    runs = plan(args)
    assert [r.scenario for r in runs] == ["failover"] * 3 + ["replicas away"]
    assert runs[0].master_kills_at == [400, 750] and runs[0].replicas_away_at is None
    assert runs[3].master_kills_at == [] and runs[3].replicas_away_at == 300
    assert args.drain_timeout == 180 and args.min_replicas == 1 and args.down_after_ms >= 3000
    assert runs[3].drain_timeout == 600


def test_the_report_shows_each_kill_the_medians_and_the_writes_while_away() -> None:
    args = parse_args(["--orders", "4", "--runs", "1"])
    first = run_report(1, True)
    first.failovers = [
        Failover(400, "master", 1.0, 2, "replica0", 4.1, 15.0, 6.0, 7.0),
        Failover(750, "replica0", 2.0, 2, "replica1", 4.3, 16.0, 8.0, 9.0),
    ]
    second = run_report(2, True)
    second.away = away([(0.0, 0), (0.6, 3), (5.5, 5), (29.9, 9)])
    text = markdown(
        args,
        [first, second],
        datetime(2026, 12, 1, tzinfo=UTC),
        60.0,
        "python -m bench.chaos_ha",
        "/tmp/x",
        "orderbridge failover chaos run",
    )
    assert "## Verdict: FAIL 1/2" in text
    assert "| median | | | | | 4.2 | 7.0 | 8.0 | 15.5 | |" in text
    assert "| 2 | ~300 | replica0, replica1 | 30.0 | 5 | 5 | 4 |" in text
    assert "- run 2: replicas away: 4 ERP writes after the grace" in text
    assert "Sentinel group" in text
