"""`orderbridge demo`: the whole service on one machine, with sample orders and their outcome.

It starts (or reuses) the ERP simulators of the configured connections, an embedded Redis when
none answers, the intake and a worker; sends sample orders over HTTP, including a repeat of one
order, one the ERP briefly fails on, one to invoice and one the ERP must refuse; shows a progress
bar while they flow and a table of outcomes at the end, and stops what it started.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.runtime import Runtime
from core.settings import Settings
from core.store import Store
from schemas.job import Job
from schemas.order import Order
from simulators.registry import DEMO_SCENES, SIMULATORS
from workers import demo_shops
from workers.processes import Child, port_open, spawn, stop_all, wait_until
from workers.supervise import redis_environment

console = Console()
SHOPS = demo_shops.SHOPS
CUSTOMERS = [
    ("Kari Nordmann", "kari@example.no"),
    ("Ola Hansen", "ola@example.no"),
    ("Fjord Kaffe AS", "post@fjordkaffe.example"),
    ("Ingrid Berg", "ingrid@example.no"),
    ("Nils Dahl", "nils@example.no"),
    ("Bryggen Bakeri AS", "hei@bryggen.example"),
]
ARTICLES = [
    ("KAFFE-500", "Kaffe 500 g", "129.00", "0.15"),
    ("TE-100", "Te 100 g", "79.00", "0.15"),
    ("KOPP-01", "Kaffekopp", "149.00", "0.25"),
    ("KVERN-2", "Kaffekvern", "899.00", "0.25"),
]


def sample_orders(run: str, count: int) -> list[dict[str, Any]]:
    orders = []
    for i in range(count):
        name, email = CUSTOMERS[i % len(CUSTOMERS)]
        company = name.endswith(" AS")
        lines = []
        for j in range(1 + i % 3):
            sku, title, price, vat = ARTICLES[(i + j) % len(ARTICLES)]
            lines.append(
                {
                    "type": "product",
                    "sku": sku,
                    "name": title,
                    "quantity": str(1 + j),
                    "unit_price": price,
                    "discount": "0",
                    "vat_rate": vat,
                }
            )
        lines.append({"type": "shipping", "name": "Frakt", "amount": "99.00", "vat_rate": "0.25"})
        orders.append(
            {
                "external_id": f"{run}-{i + 1:03d}",
                "number": f"#{run[-4:]}{i + 1:03d}",
                "source": "demo",
                "placed_at": datetime.now(UTC).isoformat(),
                "currency": "NOK",
                "prices_include_vat": True,
                "customer": {
                    "external_id": f"demo-{i % len(CUSTOMERS)}",
                    "kind": "company" if company else "person",
                    "name": None if company else name,
                    "company_name": name if company else None,
                    "email": email,
                    "billing_address": {
                        "line1": "Storgata 1",
                        "postal_code": "0155",
                        "city": "Oslo",
                        "country": "NO",
                    },
                },
                "lines": lines,
                "send_invoice": True if i == 2 else None,
            }
        )
    return orders


def start_simulators(settings: Settings, env: dict[str, str]) -> list[Child]:
    started = []
    wanted = {c.erp for c in settings.connections.values()} | {
        c.source for c in settings.connections.values() if c.source != "any"
    }
    for erp in sorted(wanted):
        if erp not in SIMULATORS:
            continue
        port = SIMULATORS[erp][1]
        if port_open(port):
            console.print(f"simulator {erp}: using the one on port {port}")
            continue
        child = spawn(f"simulator-{erp}", ["simulate", erp], env)  # quiet: warnings only
        wait_until(partial(port_open, port), 20, f"the {erp} simulator", children=[child])
        started.append(child)
    return started


def run_demo(settings: Settings, orders: int = 24) -> int:
    if not settings.connections:
        console.print(
            "[red]no connections configured[/red] (ORDERBRIDGE_CONFIG=orderbridge.example.toml)"
        )
        return 2
    children: list[Child] = []
    with redis_environment(settings) as env:
        try:
            children += start_simulators(settings, env)
            if port_open(settings.intake.port):
                console.print(
                    f"[red]port {settings.intake.port} is in use; stop what runs there "
                    f"(or change [orderbridge.intake] port)[/red]"
                )
                return 1
            logs = tempfile.mkdtemp(prefix="orderbridge-demo-")
            console.print(f"logs of the demo's processes: {logs}")
            children.append(spawn("intake", ["intake"], env, f"{logs}/intake.log"))
            children.append(spawn("worker", ["worker"], env, f"{logs}/worker.log"))
            rt = Runtime(settings, Store.connect(settings.store_endpoint))
            wait_until(lambda: port_open(settings.intake.port), 30, "the intake", children=children)
            wait_until(
                lambda: any(
                    rt.store.worker_alive(c.proc.pid) for c in children if c.name == "worker"
                ),
                60,
                "the worker",
                children=children,
            )
            for name in settings.connections:
                _prepare(rt, name, env, logs)
            return _send_and_show(settings, rt.store, orders)
        finally:
            stop_all(children)


def _prepare(rt: Runtime, connection: str, env: dict[str, str], logs: str) -> None:
    """Set the scene: the shop's webhook, the ERP's consent, and the ERP simulator's own scene
    (faults, master data it must already hold)."""
    settings = rt.settings
    conn = settings.connections[connection]
    if conn.source in SHOPS and conn.shop.api_url:  # the shop delivers to our webhook URL
        demo_shops.subscribe(
            conn.source,
            conn.shop.api_url,
            f"http://127.0.0.1:{settings.intake.port}/webhooks/{conn.source}/{connection}",
        )
    if rt.connector(connection).consent() is not None:  # the simulator consents at once
        consent = spawn("connect", ["connect", connection, "--auto"], env, f"{logs}/connect.log")
        consent.proc.wait(timeout=60)
    url, scene = _simulator_url(settings, connection), DEMO_SCENES.get(conn.erp)
    if not url or scene is None:
        return
    with httpx.Client(base_url=url, timeout=10) as sim:
        for fault in scene.faults:
            sim.post("/_sim/faults", json=fault).raise_for_status()
        if scene.seed:
            scene.seed(sim, _articles(rt, connection))


def _articles(rt: Runtime, connection: str) -> list[tuple[str, str]]:
    """Every article the demo's orders use, as this connection's ERP needs them."""
    connector = rt.connector(connection)
    found: dict[str, str] = {}
    for raw in sample_orders("scene", len(ARTICLES)):
        for spec in connector.products_for(Order.model_validate(raw)):
            found.setdefault(spec.sku, spec.name)
    return list(found.items())


def _send_and_show(settings: Settings, store: Store, count: int) -> int:
    run = datetime.now(UTC).strftime("D%H%M%S")
    plans = []
    for index, name in enumerate(settings.connections):
        orders = sample_orders(f"{run}{index}", max(4, count if index == 0 else 6))
        scene = DEMO_SCENES.get(settings.connections[name].erp)
        # One order the ERP cannot take (a dead letter with the ERP's reason).
        orders[-1]["lines"][0].update(scene.refused_line if scene else {"vat_rate": "0.10"})
        secret = settings.connections[name].api_token
        plans.append((name, secret.get_secret_value() if secret else "", orders))
    job_ids: dict[tuple[str, str], str] = {}
    notes: dict[tuple[str, str], str] = {}
    intake = httpx.Client(base_url=f"http://127.0.0.1:{settings.intake.port}", timeout=10)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        sent = progress.add_task("orders sent", total=sum(len(p[2]) for p in plans) + 1)
        for name, token, orders in plans:
            conn = settings.connections[name]
            auth = {"Authorization": f"Bearer {token}"}
            for order in orders:
                if conn.source in SHOPS and conn.shop.api_url:
                    shop_id = demo_shops.place(conn.source, conn.shop.api_url, order)
                    job_ids[(name, shop_id)] = ""  # known once the webhook has arrived
                else:
                    response = intake.post(
                        f"/v1/connections/{name}/orders", json=order, headers=auth
                    )
                    job_ids[(name, order["external_id"])] = response.json().get("job_id", "")
                progress.advance(sent)
        name, token, orders = plans[0]
        again = intake.post(
            f"/v1/connections/{name}/orders",
            json=orders[0],
            headers={"Authorization": f"Bearer {token}"},
        )
        notes[(name, orders[0]["external_id"])] = (
            f"sent twice: 2nd answered {again.status_code}, same job"
        )
        progress.advance(sent)
        jobs = _wait_for(store, job_ids, progress)
    _show(settings, jobs, notes)
    return 0 if all(j.is_final for j in jobs.values()) else 1


def _wait_for(
    store: Store, job_ids: dict[tuple[str, str], str], progress: Progress
) -> dict[tuple[str, str], Job]:
    finished = progress.add_task("orders finished", total=len(job_ids))
    deadline = time.monotonic() + 120
    jobs: dict[tuple[str, str], Job] = {}
    while time.monotonic() < deadline:
        for key, jid in job_ids.items():
            if not jid:  # a shop order: its job exists once the signed webhook came in
                job_ids[key] = store.job_id_for(key[0], key[1]) or ""
        jobs = {key: j for key, jid in job_ids.items() if jid and (j := store.load_job(jid))}
        done = sum(1 for j in jobs.values() if j.is_final)
        progress.update(finished, completed=done)
        if done == len(job_ids):
            break
        time.sleep(0.2)
    return jobs


def _simulator_url(settings: Settings, connection: str) -> str | None:
    erp = settings.connections[connection].erp
    return f"http://127.0.0.1:{SIMULATORS[erp][1]}" if erp in SIMULATORS else None


def _show(
    settings: Settings, jobs: dict[tuple[str, str], Job], notes: dict[tuple[str, str], str]
) -> None:
    table = Table(
        "connection",
        "order",
        "state",
        "ERP document",
        "invoice",
        "attempts",
        "note",
        title="orderbridge demo: outcome",
    )
    for key, job in jobs.items():
        attempts = sum(s.attempts for s in job.steps)
        table.add_row(key[0], *_row(key[1], job, notes.get(key, ""), attempts))
    console.print(table)
    for url in dict.fromkeys(
        filter(None, (_simulator_url(settings, n) for n in settings.connections))
    ):
        name = next(n for n in settings.connections if _simulator_url(settings, n) == url)
        if url:
            state = httpx.get(f"{url}/_sim/state").json()
            console.print(
                f"{settings.connections[name].erp} simulator now holds: "
                + ", ".join(f"{len(v)} {k}" for k, v in state.items())
            )
    console.print(
        "Dead letters: `orderbridge dlq list`, `orderbridge dlq show ID`, "
        "`orderbridge dlq replay ID`."
    )


def _row(ref: str, job: Job, note: str, attempts: int) -> tuple[str, ...]:
    retried = next((s for s in job.steps if s.attempts > 1 and s.last_error), None)
    if retried and retried.last_error and not note:
        status = retried.last_error.erp_status or retried.last_error.kind
        note = f"{retried.name} retried after {status}"
    failed = next((s for s in job.steps if s.state == "failed" and s.last_error), None)
    if job.state == "dead" and failed and failed.last_error:
        note = f"dead letter at {failed.name}: {failed.last_error.message}"
    style = {"done": "green", "duplicate": "yellow", "dead": "red"}.get(job.state, "white")
    document = job.erp.get("order_number") or str(job.erp.get("order_id") or "")[:8]
    return (
        ref,
        f"[{style}]{job.state}[/{style}]",
        str(document),
        str(job.erp.get("invoice_number") or ""),
        str(attempts),
        note,
    )
