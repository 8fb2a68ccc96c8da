"""What one benchmark run measured, and the machine and code it ran on.

Kept apart from the harness that drives the processes so that the numbers' definitions (rates,
percentiles, CPU seconds from /proc, worker log counts) can be read in one place, and so that
the report can use them without the process machinery.
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import redis


@dataclass
class RunResult:
    scenario: str
    run: int
    orders: int
    seconds: float
    post_seconds: float = 0.0
    erp_calls: int | None = None
    by_endpoint: dict[str, int] = field(default_factory=dict)
    states: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    ok: bool = True
    note: str = ""
    p50: float | None = None  # seconds from the first POST until half the jobs were final
    p99: float | None = None  # ... until 99 % were final
    events: dict[str, int] = field(default_factory=dict)  # counted in the worker logs
    draft_p50: float | None = None  # seconds from accepting an order to its draft in the ERP
    draft_p99: float | None = None
    system: str = ""  # orderbridge, user chain, script, bare chain
    kind: str = ""  # new, returning
    latency_ms: int = 0  # added to every simulator call
    processes: tuple[str, ...] = ()  # the processes doing this system's work (CPU per order)

    @property
    def cpu_per_order_ms(self) -> float | None:
        if not self.processes or not self.orders:
            return None
        return 1000 * sum(self.cpu.get(p, 0.0) for p in self.processes) / self.orders

    @property
    def rate_p99(self) -> float | None:
        """The rate up to the 99th percentile of completion: the steady state, without the
        last stragglers."""
        return None if not self.p99 else 0.99 * self.orders / self.p99

    @property
    def rate(self) -> float:
        return self.orders / self.seconds if self.seconds > 0 else 0.0

    @property
    def calls_per_order(self) -> float | None:
        return None if self.erp_calls is None else self.erp_calls / self.orders


def percentile(sorted_values: list[float], q: float) -> float | None:
    """The `q` quantile (0 to 1) of sorted values: the value at rank int(q * n), 1-based."""
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, max(0, int(q * len(sorted_values)) - 1))]


def percentiles(values: list[float]) -> tuple[float | None, float | None]:
    """(p50, p99) of sorted `values`."""
    return percentile(values, 0.5), percentile(values, 0.99)


def completion_percentiles(
    finished: list[float], start: float
) -> tuple[float | None, float | None]:
    """(p50, p99): seconds from `start` until 50 % and 99 % of the sorted finish times."""
    if not finished:
        return None, None
    return (
        finished[int(0.5 * len(finished)) - 1] - start,
        finished[max(0, int(0.99 * len(finished)) - 1)] - start,
    )


# --- finishing times recorded in Redis ---------------------------------------------------------
# The benchmark's own recording in the bare chain's and the user's last task (not part of the
# code they model): KEYS counter, latest time, list of times; ARGV[1] the time (`repr(time())`).
# INCR the counter, keep the latest finishing time (chains end concurrently, so "latest" is a
# max, not the last write) and every finishing time (for percentiles).
RECORD_FINISH = """
redis.call('INCR', KEYS[1])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > last then redis.call('SET', KEYS[2], ARGV[1]) end
redis.call('RPUSH', KEYS[3], ARGV[1])
return 1
"""


# --- worker logs -------------------------------------------------------------------------------
LOG_EVENTS = {
    "step.busy": '"step.busy"',
    "sweep.submitted": '"sweep.submitted"',
    "step.retry": '"step.retry"',
    "dlq.added": '"dlq.added"',
    "not_current": "'not_current'",
    "errors": '"level": "error"',
    "tracebacks": "Traceback (most recent call last)",
}


def count_log_events(
    logs: Mapping[Path, int], events: Mapping[str, str] = LOG_EVENTS
) -> dict[str, int]:
    """Count the notable lines (`events`, name -> needle; `LOG_EVENTS` by default) in each log
    file after its byte offset; the counts keep the order of `events`."""
    counts = dict.fromkeys(events, 0)
    for path, offset in logs.items():
        with open(path, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", "replace")
        for key, needle in events.items():
            counts[key] += text.count(needle)
    return counts


# --- CPU accounting ----------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its reaped children, from /proc (0 if unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = sum(int(v) for v in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal): CPU seconds the machine's cores ran something (not idle, iowait or steal)
    and seconds the hypervisor took from this VM, both since boot."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        # user nice system idle iowait irq softirq steal [guest guest_nice, included in user]
        steal = fields[7] if len(fields) > 7 else 0
        busy = sum(fields[:8]) - fields[3] - fields[4] - steal
        tick = os.sysconf("SC_CLK_TCK")
        return busy / tick, steal / tick
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds per process between two snapshots (keys starting with `_` are the machine's
    totals), plus `other processes` for everything else on the machine (other people's work on
    a shared machine shows up here) and the hypervisor's steal."""
    delta = {k: after[k] - before.get(k, 0.0) for k in after if not k.startswith("_")}
    machine_total = after["_machine"] - before["_machine"]
    delta["other processes"] = max(0.0, machine_total - sum(delta.values()))
    delta["steal (hypervisor)"] = max(0.0, after["_steal"] - before["_steal"])
    return delta


# --- the machine and the code ------------------------------------------------------------------
def machine(redis_url: str) -> dict[str, str]:
    """Cores, CPU model, memory and the versions that matter, for the report."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = redis.Redis.from_url(redis_url).info("server")

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "?"

    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model or platform.processor(),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "celery": version("celery"),
        "kombu": version("kombu"),
        "redis-py": version("redis"),
        "httpx": version("httpx"),
        "uvicorn": version("uvicorn"),
        "redis-server": str(info.get("redis_version", "?")),
    }


def code_under_test(root: Path) -> dict[str, str]:
    """The commit the workers ran (read-only git), and the worker settings that shape a run."""
    info: dict[str, str] = {}
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            text=True,
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)bench"],
            cwd=root,
            text=True,
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout
        info["commit"] = (head or "?") + (" (with uncommitted changes)" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        info["commit"] = "?"
    from core.settings import WorkerSettings

    defaults = WorkerSettings()
    for name in ("inline_steps", "inline_seconds", "task_events"):
        if hasattr(defaults, name):
            info[f"worker.{name}"] = str(getattr(defaults, name))
    return info


# --- memory ------------------------------------------------------------------------------------
def _status_kb(pid: int, field_name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (from /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def peak_rss_mib(pid: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) in MiB of `pid` and of each process below it."""
    return {p: _status_kb(p, "VmHWM") / 1024 for p in descendants(pid) if _status_kb(p, "VmHWM")}
