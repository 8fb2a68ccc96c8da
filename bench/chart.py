"""The benchmark's chart (PNG beside the report): orders/s per scenario at 0 ms and at the added
latency, and the intake's p99 accept latency against the offered load beside the bare endpoint.

matplotlib with the Agg backend (no display); it is in the `bench` extra, and the benchmark
still writes its report without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.harness import Bench
from bench.scenarios import BARE, KINDS, LOAD_TARGETS, SYSTEMS, scenario_name


def draw(bench: Bench, summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    medians = summary["medians"]
    latencies = (0, bench.args.latency_ms)
    fig, (bars, lines) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(3, 2))

    groups = [(f"{system}\n{kind}", system, kind) for kind in KINDS for system in SYSTEMS]
    width = 0.38
    for offset, ms in enumerate(latencies):
        xs = [i + (offset - 0.5) * width for i in range(len(groups))]
        values = [
            medians[scenario_name(system, kind, ms)]["rate"] or 0.0 for _, system, kind in groups
        ]
        drawn = bars.bar(xs, values, width, label=f"simulator +{ms} ms")
        bars.bar_label(drawn, fmt="%.0f", fontsize=8)
    bare = medians[BARE]["rate"]
    if bare:
        bars.axhline(bare, color="grey", linestyle="--", linewidth=1)
        bars.text(
            len(groups) - 0.5,
            bare,
            f"bare 5-task chain {bare:.0f}/s",
            ha="right",
            va="bottom",
            fontsize=8,
            color="grey",
        )
    bars.set_xticks(range(len(groups)), [label for label, _, _ in groups], fontsize=8)
    bars.set_ylabel("orders/s")
    bars.set_title(
        f"{bench.args.orders} orders of 3 lines, {bench.args.workers} worker(s) x "
        f"{bench.args.concurrency} threads"
    )
    bars.legend(fontsize=8)

    for target in LOAD_TARGETS:
        points = sorted(
            (r.rate, r.p99) for r in bench.loads if r.target == target and r.p99 is not None
        )
        if points:
            lines.plot(
                [p[0] for p in points], [1000 * p[1] for p in points], marker="o", label=target
            )
    lines.set_yscale("log")
    lines.set_xlabel("offered load, requests/s (open loop)")
    lines.set_ylabel("accept latency p99, ms (log)")
    lines.set_title("intake p99 vs offered load")
    if bench.loads:
        lines.legend(fontsize=8)
    lines.grid(True, which="both", alpha=0.3)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
