"""CPU-capped control groups: the "hosts" of the scale-out benchmark (issue 18) on one machine.

A `CpuGroup` is a child control group of our own (a unique name, removed afterwards) with a CPU
quota (`cpu.max` on cgroup v2, `cpu.cfs_quota_us`/`cpu.cfs_period_us` on v1's cpu controller,
whichever this machine mounts) and a scheduling weight. A process is moved in by its pid
(`add`); the processes it starts later are born in the group.
`stats()` reads the kernel's throttling counters: a group throttled in most periods is bound by
its cap. Needs root.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

V2_ROOT = Path("/sys/fs/cgroup")
V1_CPU_ROOT = Path("/sys/fs/cgroup/cpu")
DEFAULT_SHARES = 1024  # v1's cpu.shares of an ordinary process; v2's cpu.weight default is 100


def layout() -> str:
    """ "v2" when the unified hierarchy has the cpu controller, "v1" when v1's cpu controller is
    mounted, else a sentence saying why neither can be used."""
    controllers = V2_ROOT / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return "v2"
    if (V1_CPU_ROOT / "cpu.cfs_quota_us").exists():
        return "v1"
    return "no cgroup cpu controller mounted (neither cgroup v2 with cpu nor v1's cpu)"


@dataclass
class CpuGroup:
    path: Path
    version: str
    quota_us: int | None  # None: no cap
    period_us: int

    @classmethod
    def create(
        cls, name: str, cores: float | None, weight: float = 1.0, period_us: int = 100_000
    ) -> CpuGroup:
        """A new group `name` capped at `cores` (None: uncapped) with `weight` times an
        ordinary process's CPU weight."""
        version = layout()
        if version not in ("v1", "v2"):
            raise RuntimeError(version)
        quota = None if cores is None else int(cores * period_us)
        root = V2_ROOT if version == "v2" else V1_CPU_ROOT
        if version == "v2":
            subtree = root / "cgroup.subtree_control"
            if "cpu" not in subtree.read_text().split():
                subtree.write_text("+cpu")
        group = cls(root / name, version, quota, period_us)
        group.path.mkdir()
        if version == "v2":
            (group.path / "cpu.max").write_text(f"{quota or 'max'} {period_us}")
            (group.path / "cpu.weight").write_text(str(max(1, min(10_000, round(100 * weight)))))
        else:
            (group.path / "cpu.cfs_period_us").write_text(str(period_us))
            (group.path / "cpu.cfs_quota_us").write_text(str(quota or -1))
            (group.path / "cpu.shares").write_text(str(max(2, round(DEFAULT_SHARES * weight))))
        return group

    @property
    def cap(self) -> str:
        """The cap as the kernel was told it, for the report."""
        if self.quota_us is None:
            return "none"
        setting = "cpu.max" if self.version == "v2" else "cpu.cfs_quota_us/cpu.cfs_period_us"
        return (
            f"{setting} = {self.quota_us} {self.period_us} ({self.quota_us / self.period_us} core)"
        )

    def add(self, pid: int) -> None:
        """Move the process `pid` (all its threads) into this group."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def pids(self) -> list[int]:
        text = (self.path / "cgroup.procs").read_text()
        return [int(p) for p in text.split()]

    def stats(self) -> dict[str, float]:
        """Periods, throttled periods and seconds throttled so far (kernel counters)."""
        raw = dict(
            line.split(maxsplit=1) for line in (self.path / "cpu.stat").read_text().splitlines()
        )
        throttled = (
            int(raw.get("throttled_usec", 0)) / 1e6
            if self.version == "v2"
            else int(raw.get("throttled_time", 0)) / 1e9
        )
        return {
            "periods": float(raw.get("nr_periods", 0)),
            "throttled_periods": float(raw.get("nr_throttled", 0)),
            "throttled_seconds": throttled,
        }

    def remove(self, timeout: float = 10) -> None:
        """SIGKILL whatever is still in the group (only our own processes are), then remove it."""
        if not self.path.exists():
            return
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                self.path.rmdir()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
