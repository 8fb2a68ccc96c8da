"""What the pipeline benchmark runs: the orders it posts, its scenarios and the intake loads.

Kept apart from the harness so that the workload (which customers and products, how many ERP
calls an order should cost, what is warmed up, which systems are compared) can be read and
changed without touching how processes are run and results measured.

Systems: orderbridge (orders POSTed to the intake), the user's own Celery chain
(`bench.user_chain`), the sequential script (`bench.user_script`), and the bare chain of five
empty tasks (`bench.bare_chain`, no ERP at all). Kinds: new customers (each order a new
customer with 3 new products: the worst case) and returning customers (one warm-up order, then
every order the same customer and products). Each at 0 ms and at `--latency-ms` added to every
simulator call.
"""

from __future__ import annotations

from typing import Any

from bench import user_erp
from bench.harness import Bench, Scenario
from bench.measure import RunResult
from core.store import STATS

ORDERBRIDGE, USER_CHAIN, SCRIPT, BARE = "orderbridge", "user chain", "script", "bare chain"
SYSTEMS = (ORDERBRIDGE, USER_CHAIN, SCRIPT)
NEW, RETURNING = "new", "returning"
KINDS = (NEW, RETURNING)
LOAD_TARGETS = ("bare endpoint", ORDERBRIDGE)


def scenario_name(system: str, kind: str, latency_ms: int) -> str:
    return f"{system} {kind} {latency_ms} ms"


def names(latency_ms: int) -> list[str]:
    """The scenarios in the order they are reported."""
    return [BARE] + [
        scenario_name(system, kind, latency)
        for kind in KINDS
        for latency in (0, latency_ms)
        for system in SYSTEMS
    ]


# --- orders -----------------------------------------------------------------------------------
def make_customer(external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "kind": "person",
        "name": f"Kunde {external_id}",
        "email": f"{external_id}@example.no",
        "billing_address": {
            "line1": "Storgata 1",
            "postal_code": "0155",
            "city": "Oslo",
            "country": "NO",
        },
    }


def make_order(external_id: str, customer: dict[str, Any], skus: list[str]) -> dict[str, Any]:
    """Three product lines, the shape of tests.support.factories.three_line_order."""
    lines = [
        {
            "type": "product",
            "sku": skus[0],
            "name": f"Article {skus[0]}",
            "quantity": "1",
            "unit_price": "100.00",
            "discount": "0",
            "vat_rate": "0.25",
        },
        {
            "type": "product",
            "sku": skus[1],
            "name": f"Article {skus[1]}",
            "quantity": "2",
            "unit_price": "50.00",
            "discount": "10.00",
            "vat_rate": "0.15",
        },
        {
            "type": "product",
            "sku": skus[2],
            "name": f"Article {skus[2]}",
            "quantity": "3",
            "unit_price": "10.00",
            "discount": "0",
            "vat_rate": "0.25",
        },
    ]
    return {
        "external_id": external_id,
        "number": f"#{external_id}",
        "source": "bench",
        "placed_at": "2026-11-04T09:14:58Z",
        "currency": "NOK",
        "prices_include_vat": True,
        "customer": customer,
        "lines": lines,
    }


def new_customer_orders(tag: str, count: int) -> list[dict[str, Any]]:
    """Every order a new customer with three new products."""
    return [
        make_order(
            f"{tag}-{i}",
            make_customer(f"{tag}-c{i}"),
            [f"{tag}-{i}-A", f"{tag}-{i}-B", f"{tag}-{i}-C"],
        )
        for i in range(count)
    ]


def returning_orders(tag: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    """Every order the same customer and the same three products."""
    customer = make_customer(f"{tag}-regular")
    skus = [f"{tag}-KAFFE", f"{tag}-TE", f"{tag}-KAKAO"]
    return [make_order(f"{tag}-{i}", customer, skus) for i in range(start, start + count)]


# --- scenarios ---------------------------------------------------------------------------------
def bare_chain(bench: Bench, run: int, chains: int | None = None) -> RunResult:
    """`--orders` Celery chains of 5 empty tasks (`bench.bare_chain`): the floor."""
    chains = chains or bench.args.orders
    bench.prepare(0)
    return bench.run_chains(BARE, run, chains)


def _orders(
    bench: Bench, run: int, system: str, kind: str, latency_ms: int, count: int
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The measured orders and, for returning customers, the warm-up order before them."""
    tag = bench.tag(f"{system[0]}{kind[0]}{latency_ms}r{run}x")
    if kind == NEW:
        return new_customer_orders(tag, count), None
    return returning_orders(tag, count, start=1), returning_orders(tag, 1)[0]


def _warm_up_orderbridge(bench: Bench, order: dict[str, Any]) -> None:
    _, _, warm = bench.post_orders([order])
    states = bench.wait_warm_up(warm)
    if states.get("done") != 1:
        raise RuntimeError(f"the warm-up order did not finish: {states}")
    bench.redis.delete(STATS.key())


def _warm_up_user(bench: Bench, order: dict[str, Any]) -> None:
    """Through the user's chain (also before the script: it only has to create the customer
    and products), then forget its timings."""
    from bench import traffic

    traffic.send_user_chains([order], 1)
    done = traffic.wait_counter(bench.redis, user_erp.DONE_KEY, 1, bench.check_alive, 60)
    if done != 1:
        raise RuntimeError("the user chain's warm-up order did not finish")
    bench.redis.delete(
        user_erp.DONE_KEY, user_erp.LAST_KEY, user_erp.TIMES_KEY, user_erp.DRAFTS_KEY
    )


def measured(bench: Bench, run: int, system: str, kind: str, latency_ms: int) -> RunResult:
    """One system, one kind of customer, one simulator latency. The script at the added
    latency gets only `--script-orders-slow` orders (one after another it would take many
    minutes); its rate does not depend on how many."""
    count = bench.args.orders
    if system == SCRIPT and latency_ms:
        count = min(count, bench.args.script_orders_slow)
    bench.prepare(latency_ms)
    orders, warm = _orders(bench, run, system, kind, latency_ms, count)
    if warm is not None:
        (_warm_up_orderbridge if system == ORDERBRIDGE else _warm_up_user)(bench, warm)
    name = scenario_name(system, kind, latency_ms)
    if system == ORDERBRIDGE:
        result = bench.run_orders(name, run, orders)
    elif system == USER_CHAIN:
        result = bench.run_user_chains(name, run, orders)
    else:
        result = bench.run_script(name, run, orders)
    result.kind, result.latency_ms = kind, latency_ms
    return result


def warm_up(bench: Bench) -> None:
    """A few orders and chains before measuring: imports, connections, the ERP token."""
    bare_chain(bench, 0, chains=20)
    bench.prepare(0)
    _, _, ids = bench.post_orders(new_customer_orders(bench.tag("warm"), 20))
    states = bench.wait_warm_up(ids)
    if states.get("done") != 20:
        raise RuntimeError(f"warm-up orders did not finish: {states}; logs in {bench.tmp}")
    bench.prepare(0)
    bench.run_user_chains("warm-up", 0, new_customer_orders(bench.tag("warmu"), 20))


def plan(bench: Bench, only: str | None = None) -> list[tuple[str, Scenario]]:
    """The scenarios of one run, by name, in the order they run: the three systems side by
    side for each kind of customer and latency (with `only`, those whose name contains it)."""
    latency = bench.args.latency_ms
    steps: list[tuple[str, Scenario]] = [(BARE, lambda run: bare_chain(bench, run))]
    for kind in KINDS:
        for ms in (0, latency):
            for system in SYSTEMS:
                steps.append(
                    (
                        scenario_name(system, kind, ms),
                        lambda run, s=system, k=kind, m=ms: measured(bench, run, s, k, m),
                    )
                )
    return [step for step in steps if only is None or only in step[0]]


def intake_loads(bench: Bench) -> None:
    """Open loop against the bare 202 endpoint and the intake, side by side at each load of
    `--loads`, with no worker running (the intake alone, as the issue measured it); results in
    `bench.loads`. A short load at the lowest rate first warms both up (not kept)."""
    from bench.traffic import PIPELINE_QUEUE as QUEUE

    rates = bench.args.loads
    for target in LOAD_TARGETS:
        bench.run_intake_load(min(rates), 1.0, target)
    for rate in rates:
        for target in LOAD_TARGETS:
            bench.redis.delete(QUEUE)
            bench.clean_redis()
            bench.wait_machine_quiet()
            result = bench.run_intake_load(rate, bench.args.load_seconds, target)
            bench.loads.append(result)
            bench.console_load(result)
    bench.redis.delete(QUEUE)
    bench.clean_redis()
