"""The README's "Running it" block, run as printed, so that it cannot rot.

The block is read from README.md and run line by line the way a user's shell runs it: `.` and
`export` change the environment of the lines after them, `cmd &` runs in the background and
`kill %N` stops the Nth of those. The only thing the test changes is the environment the block
starts from: `ORDERBRIDGE_REDIS_URL` (which the README names) points at the test's Redis
database. Ports stay as printed; if one is taken the test is skipped, naming it. `JOB_ID` is
replaced by the job id of the answer above it, as the README's comment says.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import IO, Any

import pytest
import redis

from tests.support.cluster import REDIS_URL, ROOT, poll
from workers.processes import port_open

pytestmark = pytest.mark.e2e

VENV_BIN = str(ROOT / ".venv" / "bin")
SHELL_NOISE = {"_", "SHLVL", "OLDPWD", "PWD"}


def readme_block(section: str = "## Running it") -> list[str]:
    """The first ```sh block after the heading, as logical lines (continuations joined)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text[text.index(section) :]
    block = re.search(r"```sh\n(.*?)```", after, re.S)
    assert block, f"no ```sh block under {section}"
    lines: list[str] = []
    for raw in block.group(1).replace("\\\n", " ").splitlines():
        if raw.strip():
            lines.append(raw.strip())
    return lines


def without_comment(line: str) -> str:
    """The command without its trailing `# ...` (outside quotes), as the shell reads it."""
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def printed_ports(line: str) -> set[int]:
    return {int(port) for port in re.findall(r"127\.0\.0\.1:(\d{2,5})", line)}


class Shell:
    """One user's shell, a line at a time (see the module docstring)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs = env, logs
        self.jobs: list[tuple[subprocess.Popen[bytes], IO[bytes]]] = []
        self.env_file = logs / "env"

    def run(self, command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a foreground line; keep what it exported for the lines after it."""
        script = f"{command}\nstatus=$?\nenv -0 > {self.env_file}\nexit $status\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=ROOT,
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )
        exported = self.env_file.read_bytes().split(b"\0")
        self.env = dict(item.decode().partition("=")[::2] for item in exported if b"=" in item)
        for name in SHELL_NOISE:
            self.env.pop(name, None)
        return done

    def background(self, command: str) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"job{len(self.jobs) + 1}.log", "wb")
        proc = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.jobs.append((proc, log))
        return proc

    def output(self, job: int) -> str:
        return (self.logs / f"job{job}.log").read_text(errors="replace")

    def kill(self, job: int, timeout: float = 30) -> int:
        """`kill %N`: SIGTERM to the job's process group, and wait for it."""
        proc, _ = self.jobs[job - 1]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def stop_all(self) -> None:
        for proc, log in reversed(self.jobs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            log.close()


def fresh_environment() -> dict[str, str]:
    """The caller's environment as a new user's would be: no orderbridge settings but the test's
    Redis, no virtualenv active (the block activates it)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("ORDERBRIDGE_") and k != "VIRTUAL_ENV"
    }
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p.rstrip("/") != VENV_BIN
    )
    env["ORDERBRIDGE_REDIS_URL"] = REDIS_URL
    env["COLUMNS"] = "200"
    return env


def job_state(done: subprocess.CompletedProcess[str]) -> Any:
    try:
        return json.loads(done.stdout).get("state")
    except json.JSONDecodeError:
        return None


def start_in_background(shell: Shell, command: str, ports: set[int]) -> None:
    """`command &`, then wait until it listens where its line says (or has died)."""
    wait_listening(shell, shell.background(command), command, ports)


def wait_listening(
    shell: Shell, proc: subprocess.Popen[bytes], command: str, ports: set[int]
) -> None:
    for port in ports:
        poll(
            lambda port=port: port_open(port) or proc.poll() is not None,
            30,
            0.1,
            f"{command} to listen on {port}",
        )
        assert proc.poll() is None, shell.output(len(shell.jobs))


def until_finished(shell: Shell, command: str) -> subprocess.CompletedProcess[str]:
    """Run `orderbridge status ID` again until it shows a finished job."""

    def finished() -> subprocess.CompletedProcess[str] | None:
        done = shell.run(command)
        return done if done.returncode == 0 and job_state(done) in ("done", "dead") else None

    result: subprocess.CompletedProcess[str] = poll(
        finished, 30, 0.2, f"{command} to show a finished job"
    )
    return result


def test_the_readme_running_it_block_works_as_printed(tmp_path: Path) -> None:
    lines = readme_block()
    busy = sorted(p for line in lines for p in printed_ports(line) if port_open(p))
    if busy:
        pytest.skip(f"port(s) {busy} are in use here; the README's commands use them as printed")
    redis.Redis.from_url(REDIS_URL).flushdb()
    shell = Shell(fresh_environment(), tmp_path)
    job_id = ""
    try:
        for line in lines:
            command = without_comment(line)
            if command.endswith("&"):
                start_in_background(shell, command[:-1].strip(), printed_ports(line))
            elif kill := re.fullmatch(r"kill((?:\s+%\d+)+)", command):
                for job in (int(n) for n in re.findall(r"%(\d+)", kill.group(1))):
                    # stopped by the signal itself (uvicorn re-raises it) or cleanly
                    assert shell.kill(job) in (0, -signal.SIGTERM), shell.output(job)
            elif "JOB_ID" in command:
                assert job_id, "JOB_ID is used before an answer gave one"
                done = until_finished(shell, command.replace("JOB_ID", job_id))
                assert job_state(done) == "done", done.stdout
            else:
                done = shell.run(command)
                assert done.returncode == 0, (command, done.stdout, done.stderr)
                if "/orders" in command:
                    answer = json.loads(done.stdout)
                    assert answer["state"] == "queued", answer
                    job_id = answer["job_id"]
                elif "/healthz" in command:
                    assert json.loads(done.stdout)["status"] == "ok"
        assert job_id, "the block never submitted an order"
        up = next(
            i + 1
            for i, (proc, _) in enumerate(shell.jobs)
            if "orderbridge up" in " ".join(map(str, proc.args))
        )
        printed = shell.output(up)
        for place in (
            "http://127.0.0.1:8000/docs",
            "http://127.0.0.1:8000/openapi.json",
            "http://127.0.0.1:8000/metrics",
            "http://127.0.0.1:8000/status",
            "http://127.0.0.1:8000/v1/connections/demo-poweroffice/orders",
            "orderbridge flower",
            REDIS_URL,
            "ready: the intake answers",
        ):
            assert place in printed, (place, printed)
        for port in sorted({p for line in lines for p in printed_ports(line)}):
            assert not port_open(port), f"port {port} still answers after the block's kill"
    finally:
        shell.stop_all()


def test_up_prints_every_door_and_never_the_redis_password() -> None:
    from core.settings import load_settings
    from workers.supervise import where

    settings = load_settings(
        str(ROOT / "orderbridge.example.toml"),
        env={"ORDERBRIDGE_REDIS_URL": "redis://:s3cret@127.0.0.1:6379/5"},
    )
    rows = dict(where(settings, "/tmp/logs", flower_running=False))
    text = "\n".join(f"{k} {v}" for k, v in rows.items())
    assert "s3cret" not in text and rows["Redis"] == "redis://:***@127.0.0.1:6379/5"
    assert (
        rows["demo-shopify (shopify -> poweroffice)"]
        == "POST http://127.0.0.1:8000/webhooks/shopify/demo-shopify"
    )
    assert rows["Flower"].startswith("not started: `orderbridge flower`")
    assert (
        dict(where(settings, "/tmp/logs", flower_running=True))["Flower"] == "http://127.0.0.1:5555"
    )


# --- examples/README.md, as printed ------------------------------------------------------------

EXAMPLE_SIMULATORS = {"poweroffice": 18081, "exact": 18082, "duett": 18083, "sapera": 18084}


def example_rows() -> dict[str, str]:
    """examples/README.md's table: file -> the command that sends it."""
    text = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([\w-]+\.json)` \|.*\| `([^`]+)` \|$", text, re.M)
    return dict(rows)


def readme_blocks(path: Path) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def answer_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """curl prints the JSON answer; send_webhook.py prints `STATUS JSON`."""
    body = done.stdout.strip()
    status, _, rest = body.partition(" ")
    answer: dict[str, Any] = json.loads(rest if status.isdigit() else body)
    return answer


def test_every_example_goes_through_its_demo_simulator_as_examples_readme_says(
    tmp_path: Path,
) -> None:
    ports = [*EXAMPLE_SIMULATORS.values(), 8000]
    busy = [p for p in ports if port_open(p)]
    if busy:
        pytest.skip(f"port(s) {busy} are in use here; the examples use them as printed")
    from core.store import Store

    store = Store(redis.Redis.from_url(REDIS_URL, decode_responses=True))
    store.redis.flushdb()
    rows = example_rows()
    assert len(rows) == 8, rows
    shell = Shell(fresh_environment(), tmp_path)
    shell.run(". .venv/bin/activate && export ORDERBRIDGE_CONFIG=orderbridge.example.toml")
    try:
        for erp in EXAMPLE_SIMULATORS:
            shell.background(f"orderbridge simulate {erp}")
        up = shell.background("orderbridge up")
        # consent needs only the Exact simulator and Redis: given while `up` starts
        wait_listening(shell, shell.jobs[1][0], "orderbridge simulate exact", {18082})
        consent = shell.run("orderbridge connect demo-exact --auto")
        assert consent.returncode == 0, consent.stdout + consent.stderr
        wait_listening(shell, up, "orderbridge up", {8000, *EXAMPLE_SIMULATORS.values()})
        blocks = readme_blocks(ROOT / "examples" / "README.md")
        seeding = next(b for b in blocks if "_sim/items" in b)
        assert shell.run(seeding).returncode == 0

        def send(name: str) -> str:
            done = shell.run(rows[name])
            answer = answer_of(done)
            assert done.returncode == 0 and answer["state"] in ("queued", "accepted"), (
                name,
                done.stdout,
                done.stderr,
            )
            return str(answer["job_id"])

        def finished(job_ids: dict[str, str]) -> dict[str, str]:
            def states() -> dict[str, str] | None:
                jobs = {name: store.load_job(job_id) for name, job_id in job_ids.items()}
                seen = {name: job.state if job else "missing" for name, job in jobs.items()}
                return seen if all(job and job.is_final for job in jobs.values()) else None

            return dict(poll(states, 40, 0.2, f"{sorted(job_ids)} to finish"))

        orders = {name: send(name) for name in rows if "refund" not in name}
        assert finished(orders) == dict.fromkeys(orders, "done")
        by_hand = shell.run(next(b for b in blocks if "openssl" in b))  # signed with openssl
        assert answer_of(by_hand)["job_id"] == orders["shopify-order.json"], by_hand.stdout
        refunds = {name: send(name) for name in rows if "refund" in name}
        assert finished(refunds) == dict.fromkeys(refunds, "done")
    finally:
        shell.stop_all()
