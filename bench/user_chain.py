"""The chain a user would write: a Celery canvas `chain()` of five tasks calling PowerOffice Go.

Started by the benchmark as a child process, with the same pool and concurrency as orderbridge:

    BENCH_SIM_URL=http://127.0.0.1:PORT python -m celery -A bench.user_chain worker -P threads \
        -c 32 -Q bench-user --without-mingle --without-gossip

The app keeps Celery's defaults, as a user would (JSON, acks early, prefetch 4, no result
backend); each task passes a dict to the next. The ERP calls are `bench.user_erp`'s, the same
the sequential script makes. `create_draft` records when the draft exists and the fifth task
(send the invoice, a no-op for these orders) counts the order as finished.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, chain
from celery.signals import worker_ready

from bench import user_erp

QUEUE = "bench-user"

app = Celery("shop_to_poweroffice", broker=user_erp.REDIS_URL)
app.conf.update(
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="shop.upsert_customer")
def upsert_customer(ctx: dict[str, Any]) -> dict[str, Any]:
    return {**ctx, "customer_id": user_erp.upsert_customer(ctx["order"])}


@app.task(name="shop.upsert_products")
def upsert_products(ctx: dict[str, Any]) -> dict[str, Any]:
    return {**ctx, "product_ids": user_erp.upsert_products(ctx["order"])}


@app.task(name="shop.check_duplicate")
def check_duplicate(ctx: dict[str, Any]) -> dict[str, Any]:
    return {**ctx, "duplicate": user_erp.already_sent(ctx["order"])}


@app.task(name="shop.create_draft")
def create_draft(ctx: dict[str, Any]) -> dict[str, Any]:
    if ctx["duplicate"]:
        return ctx
    draft_id = user_erp.create_draft(ctx["order"], ctx["customer_id"])
    user_erp.record_draft(ctx["sent_at"])
    return {**ctx, "draft_id": draft_id}


@app.task(name="shop.send_invoice")
def send_invoice(ctx: dict[str, Any]) -> None:
    if ctx.get("draft_id"):
        user_erp.send_invoice(ctx["order"], ctx["draft_id"])
    user_erp.record_done()


def make_chain(order: dict[str, Any], sent_at: float) -> chain:
    return chain(
        upsert_customer.s({"order": order, "sent_at": sent_at}),
        upsert_products.s(),
        check_duplicate.s(),
        create_draft.s(),
        send_invoice.s(),
    )


@worker_ready.connect
def _ready(**_: object) -> None:
    import redis

    redis.Redis.from_url(user_erp.REDIS_URL).set(
        user_erp.READY_KEY.format(pid=os.getpid()), "ready", ex=3600
    )
