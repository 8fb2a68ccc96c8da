"""The baseline for `bench.pipeline`: a bare Celery app with one empty task on the same Redis.

Started by the benchmark as a child process in its own session:

    python -m celery -A bench.bare_chain worker -P threads -c 32 -Q bench-bare \
        --without-mingle --without-gossip

Settings match what the pipeline's delivery guarantees cost at the broker (acks late, prefetch 1,
JSON, no result backend), and nothing else: no task events, no ledger, no locks. A chain is five
immutable `noop` signatures; the fifth is given `count=True` and increments a Redis counter (and
records when it ran) so the benchmark knows when every chain has finished.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery, chain
from celery.signals import worker_ready

from bench.measure import RECORD_FINISH

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
QUEUE = "bench-bare"
COUNTER_KEY = "bench:bare:done"
LAST_KEY = "bench:bare:last"
TIMES_KEY = "bench:bare:times"
READY_KEY = "bench:bare:worker:{pid}"
CHAIN_LENGTH = 5

app = Celery("bench_bare", broker=REDIS_URL)
app.conf.update(
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    task_ignore_result=True,
    result_backend=None,
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

_redis = redis.Redis.from_url(REDIS_URL)
_count = _redis.register_script(RECORD_FINISH)


@app.task(name="bench.noop", ignore_result=True)
def noop(count: bool = False) -> None:
    """Do nothing; as the last task of a chain, count the chain as finished."""
    if count:
        _count(keys=[COUNTER_KEY, LAST_KEY, TIMES_KEY], args=[repr(time.time())])


def make_chain() -> chain:
    """Five immutable empty tasks, the fifth counting."""
    sigs = [noop.si() for _ in range(CHAIN_LENGTH - 1)] + [noop.si(True)]
    return chain(*sigs)


@worker_ready.connect
def _ready(**_: object) -> None:
    _redis.set(READY_KEY.format(pid=os.getpid()), "ready", ex=3600)
