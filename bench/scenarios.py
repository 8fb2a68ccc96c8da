"""What the pipeline benchmark runs: the orders it posts and its four scenarios.

Kept apart from the harness so that the workload (which customers and products, how many ERP
calls an order should cost, what is warmed up) can be read and changed without touching how
processes are run and results measured.
"""

from __future__ import annotations

from typing import Any

from bench.harness import Bench, Scenario
from bench.measure import RunResult
from core.store import Store


def pipeline_name(latency_ms: int) -> str:
    """The name of the new-customer scenario with `latency_ms` added to every ERP call."""
    return f"pipeline {latency_ms} ms"


BARE = "bare chain"
FAST = pipeline_name(0)
RETURNING = "returning customer"


def names(latency_ms: int) -> list[str]:
    """The scenarios in the order they run and are reported."""
    return [BARE, FAST, pipeline_name(latency_ms), RETURNING]


# --- orders -----------------------------------------------------------------------------------
def make_customer(external_id: str) -> dict[str, Any]:
    return {"external_id": external_id, "kind": "person", "name": f"Kunde {external_id}",
            "email": f"{external_id}@example.no",
            "billing_address": {"line1": "Storgata 1", "postal_code": "0155", "city": "Oslo",
                                "country": "NO"}}


def make_order(external_id: str, customer: dict[str, Any], skus: list[str]) -> dict[str, Any]:
    """Three product lines, the shape of tests.factories.three_line_order."""
    lines = [
        {"type": "product", "sku": skus[0], "name": f"Article {skus[0]}", "quantity": "1",
         "unit_price": "100.00", "discount": "0", "vat_rate": "0.25"},
        {"type": "product", "sku": skus[1], "name": f"Article {skus[1]}", "quantity": "2",
         "unit_price": "50.00", "discount": "10.00", "vat_rate": "0.15"},
        {"type": "product", "sku": skus[2], "name": f"Article {skus[2]}", "quantity": "3",
         "unit_price": "10.00", "discount": "0", "vat_rate": "0.25"},
    ]
    return {"external_id": external_id, "number": f"#{external_id}", "source": "bench",
            "placed_at": "2026-11-04T09:14:58Z", "currency": "NOK", "prices_include_vat": True,
            "customer": customer, "lines": lines}


def new_customer_orders(tag: str, count: int) -> list[dict[str, Any]]:
    """Every order a new customer with three new products."""
    return [make_order(f"{tag}-{i}", make_customer(f"{tag}-c{i}"),
                       [f"{tag}-{i}-A", f"{tag}-{i}-B", f"{tag}-{i}-C"]) for i in range(count)]


def returning_orders(tag: str, count: int, start: int = 0) -> list[dict[str, Any]]:
    """Every order the same customer and the same three products."""
    customer = make_customer(f"{tag}-regular")
    skus = [f"{tag}-KAFFE", f"{tag}-TE", f"{tag}-KAKAO"]
    return [make_order(f"{tag}-{i}", customer, skus) for i in range(start, start + count)]


# --- scenarios ---------------------------------------------------------------------------------
def bare_chain(bench: Bench, run: int, chains: int | None = None) -> RunResult:
    """`--orders` Celery chains of 5 empty tasks (`bench.bare_chain`): the baseline."""
    chains = chains or bench.args.orders
    bench.prepare(0)
    return bench.run_chains(BARE, run, chains)


def new_customers(bench: Bench, run: int, latency_ms: int) -> RunResult:
    """`--orders` orders, each a new customer with 3 new products (7 ERP calls per order), with
    `latency_ms` added to every simulator call."""
    bench.prepare(latency_ms)
    orders = new_customer_orders(bench.tag(f"n{latency_ms}r{run}x"), bench.args.orders)
    return bench.run_orders(pipeline_name(latency_ms), run, orders)


def returning_customer(bench: Bench, run: int) -> RunResult:
    """One warm-up order (not measured), then `--orders` orders for the same customer and the
    same 3 products."""
    bench.prepare(0)
    tag = bench.tag(f"ret{run}x")
    _, _, warm = bench.post_orders(returning_orders(tag, 1))
    states = bench.wait_warm_up(warm)
    if states.get("done") != 1:
        raise RuntimeError(f"the warm-up order did not finish: {states}")
    bench.redis.delete(Store.key("stats"))
    return bench.run_orders(RETURNING, run, returning_orders(tag, bench.args.orders, start=1))


def warm_up(bench: Bench) -> None:
    """A few orders and chains before measuring: imports, connections, the ERP token."""
    bare_chain(bench, 0, chains=20)
    bench.prepare(0)
    _, _, ids = bench.post_orders(new_customer_orders(bench.tag("warm"), 20))
    states = bench.wait_warm_up(ids)
    if states.get("done") != 20:
        raise RuntimeError(f"warm-up orders did not finish: {states}; logs in {bench.tmp}")


def plan(bench: Bench) -> list[tuple[str, Scenario]]:
    """The four scenarios of one run, by name, in the order they run."""
    latency = bench.args.latency_ms
    return [
        (BARE, lambda run: bare_chain(bench, run)),
        (FAST, lambda run: new_customers(bench, run, 0)),
        (pipeline_name(latency), lambda run: new_customers(bench, run, latency)),
        (RETURNING, lambda run: returning_customer(bench, run)),
    ]
