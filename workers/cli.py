"""`orderbridge`: the command line for running the service and operating its queues.

Every command runs in the foreground and stops cleanly on SIGTERM. Long-running commands
(`worker`, `beat`, `intake`, `flower`, `simulate`) hand over to Celery, uvicorn or Flower; `up`
and `demo` supervise child processes and start an embedded Redis when none is configured or
reachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from connectors.shops.registry import SHOPS
from core import runtime
from core.admission import describe_eta
from core.logging import configure as configure_logging
from core.settings import ConfigError, Settings, load_settings

console = Console()


def _runtime(settings: Settings) -> runtime.Runtime:
    return runtime.configure(settings)


def _setup_logging(settings: Settings) -> None:
    configure_logging(settings.log_format, settings.log_level)


# --- long-running processes ---------------------------------------------------------------------
def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from workers.worker import run_worker

    _setup_logging(settings)
    only = [name.strip() for name in (args.connections or "").split(",") if name.strip()]
    unknown = [name for name in only if name not in settings.connections]
    if unknown:
        console.print(
            f"[red]--connections: unknown connection {unknown[0]!r}[/red]; known: "
            f"{', '.join(sorted(settings.connections)) or '(none)'}"
        )
        return 2
    run_worker(settings, pool=args.pool, concurrency=args.concurrency, connections=only)
    return 0


def cmd_beat(settings: Settings, args: argparse.Namespace) -> int:
    from workers.worker import run_beat

    _setup_logging(settings)
    run_beat(settings)
    return 0


def cmd_flower(settings: Settings, args: argparse.Namespace) -> int:
    from workers.worker import run_flower

    _setup_logging(settings)
    run_flower(settings, args.port, args.address)
    return 0


def cmd_intake(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from workers.intake import create_app

    _setup_logging(settings)
    rt = _runtime(settings)
    uvicorn.run(
        create_app(rt),
        host=args.host or settings.intake.host,
        port=args.port or settings.intake.port,
        log_level="warning",
        lifespan="off",
    )
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from simulators.registry import SIMULATORS, serve

    if args.erp not in SIMULATORS:
        console.print(f"[red]unknown simulator {args.erp!r}[/red]; known: {', '.join(SIMULATORS)}")
        return 2
    options = json.loads(args.options) if args.options else None
    serve(args.erp, host=args.host, port=args.port, options=options)
    return 0


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from workers.supervise import run_up

    return run_up(settings)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from workers.demo import run_demo

    return run_demo(settings, orders=args.orders)


# --- producers and operators --------------------------------------------------------------------
def cmd_enqueue(settings: Settings, args: argparse.Namespace) -> int:
    from pydantic import ValidationError
    from rich.markup import escape

    from schemas.order import Order
    from tasks.events import apply_event, event_from_canonical
    from workers.intake.errors import validation_details

    settings.connection(args.connection)
    rt = _runtime(settings)
    data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    orders = data if isinstance(data, list) else [data]
    failed = 0
    for index, raw in enumerate(orders):
        try:
            order = Order.model_validate(raw)
        except ValidationError as exc:
            failed += 1
            for d in validation_details(exc):
                console.print(f"[red]order {index}: {d['field']}: {d['message']}[/red]")
            continue
        refused = rt.connector(args.connection).check_order(order)
        if refused:
            failed += 1
            for field, message in refused:
                console.print(f"[red]order {index}: {field}: {message}[/red]")
            continue
        decision = apply_event(rt, args.connection, event_from_canonical(order))
        console.print(
            f"{order.external_id}\t{decision.job_id or '-'}\t{decision.outcome}"
            + (f" ({decision.detail})" if decision.detail else "")
        )
        for dropped in decision.warnings:  # what the ERP will not get: said, never silent
            said = escape(f"{dropped.field}: {dropped.reason}")
            console.print(f"[yellow]  not sent: {said}[/yellow]")
    return 1 if failed else 0


def cmd_preview(settings: Settings, args: argparse.Namespace) -> int:
    """A dry run: what a real run of the order would send to the ERP, and what it would get
    back, with nothing written there."""
    from pydantic import ValidationError

    from connectors.errors import ErpError
    from schemas.shops.errors import MappingError
    from tasks.preview import order_to_preview, preview
    from workers.intake.errors import validation_details
    from workers.preview_view import show_preview

    settings.connection(args.connection)
    rt = _runtime(settings)
    try:
        payload = json.loads(Path(args.file).read_text(encoding="utf-8"))
        order = order_to_preview(rt, args.connection, payload, args.source)
        report = preview(rt, args.connection, order)
    except ValidationError as exc:
        for d in validation_details(exc):
            console.print(f"[red]{d['field']}: {d['message']}[/red]", markup=False)
        return 1
    except (ValueError, MappingError, ErpError, OSError) as exc:
        console.print(f"preview failed: {exc}", style="red", markup=False)
        return 1
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        show_preview(console, report)
    return 0 if report.verdict != "would_refuse" else 3


def cmd_backfill(settings: Settings, args: argparse.Namespace) -> int:
    """Read the shop's orders created in a period and submit each as its webhook would (or,
    with --dry-run, preview each); resumable: the same command continues where one stopped."""
    from tasks.backfill import BackfillArgs, Busy, CannotBackfill, begin, carry_on
    from tasks.backfill_progress import LEASE_SECONDS
    from workers.backfill_view import Bar, moment, show_summary

    settings.connection(args.connection)
    try:
        since = moment(args.since)
        until = moment(args.until) if args.until else None
    except ValueError as exc:
        console.print(f"--since/--until: {exc}", style="red", markup=False)
        return 2
    wanted = BackfillArgs(args.connection, since, until, args.dry_run)
    try:  # a run killed on another machine holds its lease until it expires
        run = begin(_runtime(settings), wanted, fresh=args.fresh, wait=LEASE_SECONDS + 1)
    except (CannotBackfill, Busy) as exc:
        console.print(str(exc), style="red", markup=False)
        return 2
    with Bar(console, f"{'dry run' if args.dry_run else 'backfill'} of {args.connection}") as bar:
        view = carry_on(run, on_progress=bar.show)
        if view is not None:
            bar.show(view)  # done: the whole period
    if view is None:
        return 1
    show_summary(console, view)
    return 0 if view.state == "done" else 1


def cmd_connect(settings: Settings, args: argparse.Namespace) -> int:
    """Give orderbridge its first (or a fresh) OAuth grant for a connection (Exact Online)."""
    from connectors.consent import ConsentError, connect

    settings.connection(args.connection)
    try:
        connector = _runtime(settings).connector(args.connection)
        message = connect(
            connector,
            code=args.code,
            auto=args.auto,
            ask=lambda url: console.input(
                f"Open this URL, consent, and paste the URL you were sent to "
                f"(or the code):\n{url}\n> "
            ),
        )
    except ConsentError as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    console.print(message)
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    rt = _runtime(settings)
    store = rt.store
    if args.job_id:
        job = store.load_job(args.job_id)
        if job is None:
            console.print(f"[red]no job {args.job_id}[/red]")
            return 1
        console.print_json(
            data={**job.public_view(), "invoice_events": store.job_events(job.job_id)}
        )
        return 0
    counts: dict[tuple[str, str], int] = {}
    for job in store.iter_jobs():
        counts[(job.connection, job.state)] = counts.get((job.connection, job.state), 0) + 1
    table = Table("connection", "state", "jobs", title="orderbridge jobs")
    for (conn, state), n in sorted(counts.items()):
        table.add_row(conn, state, str(n))
    console.print(table)
    admission = Table(
        "connection",
        "waiting",
        "urgent",
        "in flight",
        "backlog",
        title="waiting for the ERP budget (admission)",
    )
    for name, waiting in sorted(rt.admission.figures(settings.connections).items()):
        admission.add_row(
            name,
            f"{waiting.waiting:,}",
            str(waiting.urgent),
            str(waiting.in_flight),
            describe_eta(waiting, rt.requests_per_second(name)) or "none waiting",
        )
    console.print(admission)
    _, total = store.dead_letters(0, 1)
    console.print(f"dead letters: {total}")
    return 0


def cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    from tasks import deadletters

    rt = _runtime(settings)
    store = rt.store
    try:
        if args.action == "list":
            letters, total = store.dead_letters(0, 1000)
            table = Table(
                "id",
                "connection",
                "order",
                "step",
                "kind",
                "reason",
                "message",
                title=f"dead letters ({total})",
            )
            for letter in letters:
                table.add_row(
                    letter.id,
                    letter.connection,
                    letter.external_id,
                    letter.step or "-",
                    letter.kind,
                    letter.reason,
                    letter.message[:80],
                )
            console.print(table)
        elif args.action == "show":
            shown = store.dead_letter(_need_id(args))
            if shown is None:
                raise deadletters.NotFound(f"no dead letter {args.id}")
            console.print_json(data=shown.model_dump(mode="json"))
        elif args.action == "replay" and args.all:
            replayed = deadletters.replay_all(rt)
            console.print(f"replayed {len(replayed)} dead letter(s)")
        elif args.action == "replay":
            letter = deadletters.replay(rt, _need_id(args))
            if letter.kind == "delivery":
                console.print(f"event {(letter.event or {}).get('id')} will be delivered again")
            else:
                console.print(f"job {letter.job_id} queued again at {letter.step}")
        elif args.action == "drop":
            letter = deadletters.drop(store, _need_id(args))
            console.print(f"dropped {letter.id} (job {letter.job_id} stays dead)")
    except deadletters.NotFound as exc:
        console.print(f"[red]{exc}[/red]")
        return 1
    return 0


def cmd_invoices(settings: Settings, args: argparse.Namespace) -> int:
    """The invoices and credit notes of our orders that the invoice watch has seen."""
    conn = settings.connection(args.connection)
    store = _runtime(settings).store
    items = store.recent_invoices(conn.name, args.limit)
    table = Table(
        "invoice",
        "kind",
        "order reference",
        "total",
        "balance",
        "state",
        title=f"invoices of {conn.name} ({len(items)} most recent)",
    )
    for item in items:
        table.add_row(
            item["invoice_number"],
            item["kind"],
            item["reference"],
            f"{item['total']} {item['currency']}",
            f"{item['balance']} {item['currency']}",
            item["state"],
        )
    console.print(table)
    if conn.events is None:
        console.print(
            f"[yellow]{conn.name} has no [connections.{conn.name}.events] section: "
            f"its invoices are not watched[/yellow]"
        )
    return 0


def _need_id(args: argparse.Namespace) -> str:
    if not args.id:
        console.print(f"[red]dlq {args.action} needs a dead-letter id[/red]")
        raise SystemExit(2)
    return str(args.id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orderbridge", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="run intake, worker and beat together").set_defaults(func=cmd_up)
    demo = sub.add_parser("demo", help="simulators, intake, worker and sample orders")
    demo.add_argument("--orders", type=int, default=24)
    demo.set_defaults(func=cmd_demo)
    worker = sub.add_parser("worker", help="run a Celery worker for the pipeline")
    worker.add_argument("--pool", choices=["threads", "prefork", "solo"])
    worker.add_argument("--concurrency", type=int)
    worker.add_argument(
        "--connections",
        metavar="A,B",
        help="serve only these connections (dedicated capacity); default: all",
    )
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("beat", help="run Celery beat (periodic sweeps)").set_defaults(func=cmd_beat)
    intake = sub.add_parser("intake", help="run the HTTP intake")
    intake.add_argument("--host")
    intake.add_argument("--port", type=int)
    intake.set_defaults(func=cmd_intake)
    flower = sub.add_parser(
        "flower", help="run Flower to watch the workers (basic auth with flower_basic_auth_env)"
    )
    flower.add_argument("--port", type=int, default=5555)
    flower.add_argument("--address", default="127.0.0.1")
    flower.set_defaults(func=cmd_flower)
    simulate = sub.add_parser("simulate", help="run an ERP simulator")
    simulate.add_argument("erp")
    simulate.add_argument("--port", type=int)
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--options", help="JSON object of simulator options")
    simulate.set_defaults(func=cmd_simulate)
    enqueue = sub.add_parser("enqueue", help="submit canonical order JSON (an object or a list)")
    enqueue.add_argument("--connection", required=True)
    enqueue.add_argument("file")
    enqueue.set_defaults(func=cmd_enqueue)
    preview = sub.add_parser(
        "preview", help="dry run: what an order would send to the ERP (nothing is written)"
    )
    preview.add_argument("--connection", required=True)
    preview.add_argument(
        "--source",
        choices=sorted(SHOPS),
        help="the file is that shop's order payload (default: a canonical order)",
    )
    preview.add_argument("--json", action="store_true", help="the report as JSON")
    preview.add_argument("file")
    preview.set_defaults(func=cmd_preview)
    backfill = sub.add_parser(
        "backfill", help="submit the shop's orders created in a period (resumable; --dry-run)"
    )
    backfill.add_argument("--connection", required=True)
    backfill.add_argument("--since", required=True, help="2026-11-01 (UTC) or an ISO time")
    backfill.add_argument("--until", help="end of the period, exclusive (default: now)")
    backfill.add_argument("--dry-run", action="store_true", help="preview each order instead")
    backfill.add_argument(
        "--fresh", action="store_true", help="forget an earlier run's progress and start over"
    )
    backfill.set_defaults(func=cmd_backfill)
    connect = sub.add_parser("connect", help="OAuth consent for a connection (Exact Online)")
    connect.add_argument("connection")
    connect.add_argument("--code", help="the authorization code (or the whole redirect URL)")
    connect.add_argument(
        "--auto",
        action="store_true",
        help="follow the authorize URL without a browser (simulators)",
    )
    connect.set_defaults(func=cmd_connect)
    status = sub.add_parser("status", help="a job, or a summary of all jobs")
    status.add_argument("job_id", nargs="?")
    status.set_defaults(func=cmd_status)
    invoices = sub.add_parser(
        "invoices",
        help="recent invoices and credit notes of a connection (number, reference, balance)",
    )
    invoices.add_argument("--connection", required=True)
    invoices.add_argument("--limit", type=int, default=50)
    invoices.set_defaults(func=cmd_invoices)
    dlq = sub.add_parser(
        "dlq", help="dead letters: list | show ID | replay ID | replay --all | drop ID"
    )
    dlq.add_argument("action", choices=["list", "show", "replay", "drop"])
    dlq.add_argument("id", nargs="?")
    dlq.add_argument("--all", action="store_true")
    dlq.set_defaults(func=cmd_dlq)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Every command reads the configuration first, and a broken one stops it with a clear
    `configuration error: <file>: <field>: <problem>` and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        return int(args.func(settings, args) or 0)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
