"""ERP calls per order into Exact Online, per send mode, for new and for returning customers.

    .venv/bin/python -m bench.exact_calls [--orders 20] [--out bench/reports/exact_calls.md]

Exact allows 5,000 calls a day per division, so calls per order decide how many orders a day a
shop can send. For each of the four send modes this runs the real pipeline (worker process,
intake over HTTP, the Exact simulator) twice: `--orders` orders each for a NEW customer with 3
items new to our cache, then `--orders` orders for one RETURNING customer with the same 3 items.
It counts the simulator's calls (token calls included) and compares them with the naive count
of a script that looks everything up every time (2 + 2 per line + 2). Redis database 11.
"""

from __future__ import annotations

import argparse
import functools
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from core.settings import RetrySettings, WorkerSettings
from core.store import STATS, Store
from tests.support.config import exact_connection, orderbridge_toml
from workers.processes import Child, free_port, port_open, spawn, wait_until

REDIS_URL = "redis://127.0.0.1:6379/11"
MODES = ("order", "invoice", "direct_invoice", "sales_entry")
LINES = 3
OPERATOR_TOKEN = "op"
SHOP_TOKEN = "shop"
STATS = STATS.key()


def config_toml(mode: str, sim_url: str, intake_port: int, warehouse: str) -> str:
    """A worker and an intake on one Exact connection sending as `mode`, at orderbridge's own
    retry and worker defaults (8 threads) rather than the tests' fast clocks, with the
    connector's minute limit lifted so that it never waits."""
    connection = exact_connection(
        sim_url,
        api_token=SHOP_TOKEN,
        settings={"send_as": mode, "warehouse_id": warehouse, "minute_limit": 100000},
    )
    connection["settings"].pop("shipping_item_code")  # our orders ship nothing: no such item
    return orderbridge_toml(
        redis_url=REDIS_URL,
        intake_port=intake_port,
        connections={"shop": connection},
        operator_token=OPERATOR_TOKEN,
        log_format="json",
        retry=RetrySettings().model_dump(),
        worker={**WorkerSettings().model_dump(), "concurrency": 8},
    )


def order(external_id: str, customer: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "currency": "EUR",
        "customer": {
            "external_id": customer,
            "name": f"Klant {customer}",
            "email": f"{customer}@example.nl",
        },
        "lines": [
            {
                "type": "product",
                "sku": f"ITEM-{i}",
                "name": f"Item {i}",
                "quantity": "1",
                "unit_price": "10.00",
                "vat_rate": "0.21",
            }
            for i in range(LINES)
        ],
    }


def run_mode(mode: str, count: int, sim_port: int, work: Path) -> dict[str, float]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.flushdb()
    sim = httpx.Client(base_url=f"http://127.0.0.1:{sim_port}", timeout=10)
    sim.post("/_sim/reset").raise_for_status()
    sim.post("/_sim/config", json={"minute_limit": 100000, "day_limit": 1000000})
    for i in range(LINES):
        sim.post("/_sim/items", json={"Code": f"ITEM-{i}", "Description": f"Item {i}"})
    warehouse = sim.get("/_sim/config").json()["warehouse_id"]
    intake_port = free_port()
    config = work / f"{mode}.toml"
    config.write_text(config_toml(mode, f"http://127.0.0.1:{sim_port}", intake_port, warehouse))
    env = {**os.environ, "ORDERBRIDGE_CONFIG": str(config), "ORDERBRIDGE_REDIS_URL": REDIS_URL}
    children: list[Child] = []
    try:
        connect = spawn("connect", ["connect", "shop", "--auto"], env, str(work / "connect.log"))
        connect.proc.wait(timeout=60)
        children.append(spawn("intake", ["intake"], env, str(work / f"{mode}-intake.log")))
        children.append(spawn("worker", ["worker"], env, str(work / f"{mode}-worker.log")))
        wait_until(lambda: port_open(intake_port), 30, "intake", children=children)
        wait_until(
            functools.partial(Store(client).worker_alive, children[1].proc.pid),
            60,
            "worker",
            children=children,
        )
        intake = httpx.Client(
            base_url=f"http://127.0.0.1:{intake_port}",
            timeout=10,
            headers={"Authorization": f"Bearer {SHOP_TOKEN}"},
        )
        new = _calls(sim, client, intake, [order(f"{mode}-n{i}", f"new{i}") for i in range(count)])
        intake.post("/v1/connections/shop/orders", json=order(f"{mode}-warm", "regular"))
        _wait(client, count + 1, sim)
        returning = _calls(
            sim, client, intake, [order(f"{mode}-r{i}", "regular") for i in range(count)]
        )
        return {"new": new / count, "returning": returning / count}
    finally:
        for child in children:
            child.stop()


def _calls(
    sim: httpx.Client, client: redis.Redis, intake: httpx.Client, orders: list[dict[str, Any]]
) -> int:
    before = sim.get("/_sim/calls").json()["total"]
    done_before = int(client.hget(STATS, "jobs_done") or 0)
    for body in orders:
        intake.post("/v1/connections/shop/orders", json=body).raise_for_status()
    _wait(client, done_before + len(orders), sim)
    return int(sim.get("/_sim/calls").json()["total"]) - int(before)


def _wait(client: redis.Redis, done: int, sim: httpx.Client, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while int(client.hget(STATS, "jobs_done") or 0) < done:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"only {client.hget(STATS, 'jobs_done')} of {done} done; "
                f"dead letters: {client.zcard(Store.key('dlq'))}"
            )
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20)
    parser.add_argument("--out", default="bench/reports/exact_calls.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-exact-"))
    sim_port = free_port()
    sim = spawn(
        "simulator",
        ["simulate", "exact", "--port", str(sim_port)],
        dict(os.environ),
        str(work / "sim.log"),
    )
    try:
        wait_until(lambda: port_open(sim_port), 30, "simulator", children=[sim])
        results = {mode: run_mode(mode, args.orders, sim_port, work) for mode in MODES}
    finally:
        sim.stop()
    naive = 2 + 2 * LINES + 2
    lines = [
        f"# Exact Online: ERP calls per order ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        (
            f"{args.orders} orders per row, {LINES} lines each; naive script: {naive} "
            "calls per order (2 + 2 per line + 2). Token calls included."
        ),
        "",
        ("| send_as | new customer | returning customer | orders/day in 5,000 calls (returning) |"),
        "|---|---|---|---|",
    ]
    for mode, r in results.items():
        lines.append(
            f"| {mode} | {r['new']:.2f} | {r['returning']:.2f} | "
            f"{int(5000 / r['returning']) if r['returning'] else '-'} |"
        )
    report = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
