"""Every CLI subcommand reads the configuration first and reports a broken one clearly:
`configuration error: <file>: <field>: <problem>`, exit code 2, no traceback. And importing any
module of ours reads no configuration at all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from workers.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]

SUBCOMMANDS = {
    "up": [],
    "demo": [],
    "worker": [],
    "beat": [],
    "intake": [],
    "flower": [],
    "simulate": ["poweroffice"],
    "enqueue": ["--connection", "shop", "orders.json"],
    "preview": ["--connection", "shop", "order.json"],
    "backfill": ["--connection", "shop", "--since", "2026-11-01"],
    "connect": ["shop"],
    "status": [],
    "dlq": ["list"],
    "invoices": ["--connection", "shop"],
}


def run_cli(args: list[str], config: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERBRIDGE_CONFIG": str(config)}
    env.pop("ORDERBRIDGE_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_table_covers_every_subcommand() -> None:
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert set(SUBCOMMANDS) == set(choices)


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_unknown_key_is_a_clear_error(command: str, tmp_path: Path) -> None:
    config = tmp_path / "orderbridge.toml"
    config.write_text('[orderbridge]\nlog_format = "json"\ncolour = "blue"\n')
    done = run_cli([command, *SUBCOMMANDS[command]], config)
    assert done.returncode == 2, done.stderr
    assert (
        f"configuration error: {config}: orderbridge.colour: Extra inputs are not "
        f"permitted" in done.stderr
    )
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ('[orderbridge.worker]\npool = "gevent"\n', "orderbridge.worker.pool", "Input should be"),
        ('[connections.shop]\nerp = "sap"\n', "connections.shop.erp", "unknown ERP 'sap'"),
        (
            '[connections.shop]\nerp = "poweroffice"\n[connections.shop.settings]\n'
            'client_key = "x"\n',
            "connections.shop.settings.application_key",
            "Field required",
        ),
        (
            '[connections.shop]\nerp = "poweroffice"\napi_token_env = "NO_SUCH_VARIABLE_SET"\n',
            "connections.shop.api_token_env",
            "environment variable NO_SUCH_VARIABLE_SET is not set",
        ),
        ("[orderbridge\n", "(syntax)", "Expected ']'"),
    ],
)
def test_the_message_names_file_field_and_problem(
    tmp_path: Path, text: str, field: str, problem: str
) -> None:
    config = tmp_path / "broken.toml"
    config.write_text(text)
    done = run_cli(["status"], config)
    assert done.returncode == 2
    assert done.stderr.startswith(f"configuration error: {config}: {field}: {problem}"), done.stderr


def test_importing_any_module_reads_no_configuration(tmp_path: Path) -> None:
    # Given a configuration file that would fail to load
    config = tmp_path / "broken.toml"
    config.write_text("this is not toml [")
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in ("schemas", "connectors", "core", "tasks", "workers", "simulators")
        for path in (ROOT / package).rglob("*.py")
    )
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "from core.broker import app\n"
        "print('broker', app.conf.broker_url)\n"
    )
    # When every module is imported
    env = {**os.environ, "ORDERBRIDGE_CONFIG": str(config)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Then nothing read it, and the Celery app points nowhere until an entry point configures it
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "broker None"
