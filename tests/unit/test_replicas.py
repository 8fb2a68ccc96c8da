"""Writes confirmed by replicas (`core.replicas`), in-process: fakeredis answering WAIT with the
replica count each test sets, the step runner with a fake connector, the intake app."""

from __future__ import annotations

import json
import time

import pytest
import redis

from core import runtime
from core.replicas import NotReplicated, Replication, replicas_connected
from core.settings import ConfigError, parse_settings
from core.store import JOBS, Store
from schemas.job import DraftResult, Step
from tasks.lease import Lease
from tasks.runner import Outcome, run_step
from tests.support.factories import order as order_json
from tests.support.fakes import SETTLE, STALE, accept, age_marks, job_of, make_runtime
from tests.support.intake import Intake
from tests.support.replicated import ReplicaFakeRedis


def replicated_store(replicas: int = 1, required: int = 1) -> tuple[Store, ReplicaFakeRedis]:
    fake = ReplicaFakeRedis(replicas=replicas)
    return Store(fake, Replication(required, 200)), fake


def test_no_replicas_required_sends_no_wait() -> None:
    store, fake = replicated_store(replicas=0, required=0)
    rt, connector, _ = make_runtime(store=store)
    job_id = accept(rt)
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED
    assert fake.waits == 0 and connector.calls.count("create_order") == 1


def test_confirmed_writes_wait_and_best_effort_ones_do_not() -> None:
    store, fake = replicated_store()
    rt, _, _ = make_runtime(store=store)
    job_id = accept(rt)
    assert fake.waits == 1  # the job's creation
    store.count("anything")
    store.set_due(job_id, time.time())
    rt.metrics.count("x")
    rt.metrics.flush()
    assert fake.waits == 1
    assert Lease(store, job_id, STALE).acquire()
    assert fake.waits == 2


def test_a_creation_no_replica_confirmed_is_refused_and_its_repeat_confirms_it() -> None:
    store, fake = replicated_store(replicas=0)
    rt, _, _ = make_runtime(store=store)
    with pytest.raises(NotReplicated):
        accept(rt)
    job_id = store.job_id_for("shop", "1001")
    assert job_id is not None  # on the master, unconfirmed: the intake did not answer 2xx
    with pytest.raises(NotReplicated):  # a repeat is no answer either while unconfirmed
        store.create_job(job_of(rt, job_id), time.time())
    fake.replicas = 1
    assert store.create_job(job_of(rt, job_id), time.time()) == (job_id, False)
    assert store.counters()["orders_repeated"] == 2  # the write a repeat's WAIT covers


def test_an_unconfirmed_lease_is_let_go_and_no_erp_call_is_made() -> None:
    store, fake = replicated_store()
    rt, connector, _ = make_runtime(store=store)
    job_id = accept(rt)
    fake.replicas = 0
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.UNCONFIRMED
    assert connector.calls == []
    assert not store.redis.exists(store.lease_key(job_id))
    assert 0 <= (store.due_at(job_id) or 0) - time.time() <= 2.0  # backoff: base 2 s, jitter
    assert job_of(rt, job_id).step(Step.UPSERT_CUSTOMER).attempts == 0  # no attempt spent
    fake.replicas = 1
    assert run_step(rt, job_id, Step.UPSERT_CUSTOMER) is Outcome.FINISHED
    assert connector.calls.count("create_order") == 1


def test_an_unconfirmed_sending_mark_stops_before_the_erp_write() -> None:
    store, fake = replicated_store()
    rt, connector, _ = make_runtime(inline=False, store=store)
    job_id = accept(rt)
    for step in (Step.UPSERT_CUSTOMER, Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE):
        assert run_step(rt, job_id, step) is Outcome.ADVANCED
    fake.acks = [1, 0]  # the lease is confirmed, the `sending` mark is not
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.UNCONFIRMED
    assert "create_order" not in connector.calls
    assert job_of(rt, job_id).step(Step.CREATE_DRAFT).read(DraftResult).sending_at is not None
    # The mark may be another delivery's request still under way: no look-up, no POST yet.
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.WAITING
    assert "find_order" not in connector.calls[3:] and "create_order" not in connector.calls
    age_marks(rt, job_id, SETTLE)
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.FINISHED
    assert connector.calls.count("create_order") == 1


def test_an_unconfirmed_result_is_found_again_not_posted_again() -> None:
    store, fake = replicated_store()
    rt, connector, _ = make_runtime(inline=False, store=store)
    job_id = accept(rt)
    for step in (Step.UPSERT_CUSTOMER, Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE):
        run_step(rt, job_id, step)
    fake.acks = [1, 0]  # the `sending` mark reaches the master, unconfirmed: nothing posted
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.UNCONFIRMED
    age_marks(rt, job_id, SETTLE)
    marked = store.redis.get(JOBS.key(job_id))
    fake.acks = [1, 1, 0]  # lease and mark confirmed, posted, the result not confirmed
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.UNCONFIRMED
    assert connector.calls.count("create_order") == 1
    # Given a failover that lost the result but kept the confirmed `sending` mark:
    store.redis.set(JOBS.key(job_id), marked)
    age_marks(rt, job_id, SETTLE)
    assert run_step(rt, job_id, Step.CREATE_DRAFT) is Outcome.FINISHED
    assert job_of(rt, job_id).step(Step.CREATE_DRAFT).read(DraftResult).recovered
    assert connector.calls.count("create_order") == 1


def test_the_intake_answers_503_until_a_replica_confirms_then_the_repeat() -> None:
    fake = ReplicaFakeRedis(replicas=0)
    intake = Intake(fake)
    intake.rt.store.replication = Replication(1, 200)
    body = json.dumps(order_json("2001")).encode()
    refused = intake.post_order("demo-poweroffice", body)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.json()["error"]["code"] == "unavailable"
    fake.replicas = 1
    repeat = intake.post_order("demo-poweroffice", body)
    assert repeat.status_code == 200 and repeat.json()["state"] == "queued"
    fresh = intake.post_order("demo-poweroffice", json.dumps(order_json("2002")).encode())
    assert fresh.status_code == 202


def test_settings_default_to_no_waiting_and_take_environment_overrides() -> None:
    default = parse_settings({}, {})
    assert (default.redis_min_replicas, default.redis_replica_timeout_ms) == (0, 500)
    env = {"ORDERBRIDGE_REDIS_MIN_REPLICAS": "1", "ORDERBRIDGE_REDIS_REPLICA_TIMEOUT_MS": "250"}
    chosen = parse_settings({"orderbridge": {"redis_min_replicas": 2}}, env)
    assert (chosen.redis_min_replicas, chosen.redis_replica_timeout_ms) == (1, 250)
    with pytest.raises(ConfigError, match="redis_min_replicas"):
        parse_settings({"orderbridge": {"redis_min_replicas": -1}}, {})


class InfoOnly:
    """A client whose `INFO replication` says `connected`, or fails like Redis away."""

    def __init__(self, connected: int | None) -> None:
        self.connected = connected

    def info(self, section: str) -> dict[str, int]:
        assert section == "replication"
        if self.connected is None:
            raise redis.exceptions.ConnectionError("away")
        return {"connected_slaves": self.connected}


def test_a_start_with_too_few_replicas_is_warned_of_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert replicas_connected(InfoOnly(2)) == 2  # type: ignore[arg-type]
    assert replicas_connected(InfoOnly(None)) is None  # type: ignore[arg-type]
    warned: list[tuple[str, dict[str, int]]] = []
    monkeypatch.setattr(runtime.log, "warning", lambda event, **kw: warned.append((event, kw)))
    monkeypatch.setattr(runtime, "replicas_connected", lambda client: 0)
    monkeypatch.setattr(runtime.broker, "configure", lambda settings: None)  # no global app
    monkeypatch.setattr(runtime, "_current", None)  # restored after the test
    settings = parse_settings(
        {"orderbridge": {"redis_url": "redis://127.0.0.1:1/0", "redis_min_replicas": 1}}, env={}
    )
    runtime.configure(settings)
    assert warned == [("redis.too_few_replicas", {"connected": 0, "required": 1})]
