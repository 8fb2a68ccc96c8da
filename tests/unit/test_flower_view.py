"""What Flower shows of a job's tasks: the message's keyword arguments (connection, reference,
step), the result naming the steps a delivery ran, and how `orderbridge flower` is protected.
In-process: fakeredis, the fake connector of the runner tests, Celery's publish captured."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from connectors.errors import TransientError
from core import broker, runtime
from core.settings import ConfigError, parse_settings
from core.store import JOBS
from schemas.job import Step, utcnow
from tasks.pipeline import STEP_TASKS, describe_run, order_paid, steps_run
from tasks.runner import Outcome
from tests.support.fakes import accept, fake_store, job_of, make_runtime
from workers.worker import UNAUTHENTICATED_API, flower_options, is_loopback

CONNECTION = {
    "erp": "poweroffice",
    "settings": {"application_key": "a", "client_key": "c", "subscription_key": "s"},
}


# --- the message -----------------------------------------------------------------------------
def test_step_message_names_job_connection_reference_and_step() -> None:
    assert broker.task_kwargs(Step.CREATE_DRAFT, "j1", ("shop", "1001")) == {
        "job_id": "j1",
        "connection": "shop",
        "reference": "1001",
        "step": "create_draft",
    }
    # an event is not a step; an unknown job is still sent, with its id alone
    assert broker.task_kwargs("order_paid", "j1", ("shop", "1001")) == {
        "job_id": "j1",
        "connection": "shop",
        "reference": "1001",
    }
    assert broker.task_kwargs("upsert_customer", "j1", None) == {
        "job_id": "j1",
        "step": "upsert_customer",
    }


def test_labels_are_read_from_the_job_once_and_a_missing_job_is_not_remembered() -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt, "2002")
    lookup = broker._cached_labels(rt.store)
    assert lookup(job_id) == ("shop", "2002")
    rt.store.redis.delete(JOBS.key(job_id))
    assert lookup(job_id) == ("shop", "2002")  # cached: a job's labels never change
    assert lookup("no-such-job") is None
    accepted_later = accept(rt, "2003")
    assert lookup(accepted_later) == ("shop", "2003")


def test_enqueue_sends_keywords_and_keeps_the_sent_at_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt, "3003")
    sent: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(broker.app, "send_task", lambda name, **opts: sent.append((name, opts)))
    monkeypatch.setattr(broker, "_lookup", broker._cached_labels(rt.store))
    broker.enqueue(Step.UPSERT_CUSTOMER, job_id, sent_at=123.5)
    broker.enqueue("order_paid", job_id, labels=("given", "G-1"))
    assert sent == [
        (
            "orderbridge.upsert_customer",
            {
                "kwargs": {
                    "job_id": job_id,
                    "connection": "shop",
                    "reference": "3003",
                    "step": "upsert_customer",
                },
                "queue": "orderbridge:shop",
                "headers": {"ob_sent_at": 123.5},
            },
        ),
        (
            "orderbridge.order_paid",
            {
                "kwargs": {"job_id": job_id, "connection": "given", "reference": "G-1"},
                "queue": "orderbridge:given",
                "headers": {"ob_sent_at": sent[1][1]["headers"]["ob_sent_at"]},
            },
        ),
    ]


def test_no_personal_data_in_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    rt, _, _ = make_runtime()
    job_id = accept(rt, "3004")
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(broker.app, "send_task", lambda name, **opts: sent.append(opts))
    monkeypatch.setattr(broker, "_lookup", broker._cached_labels(rt.store))
    broker.enqueue(Step.UPSERT_CUSTOMER, job_id)
    order = job_of(rt, job_id).order
    assert order is not None
    shown = repr(sent[0]["kwargs"])
    assert order.customer.email and order.customer.email not in shown
    assert order.customer.name not in shown


# --- the result ------------------------------------------------------------------------------
@pytest.fixture
def current(monkeypatch: pytest.MonkeyPatch) -> Any:
    def install(**options: Any) -> Any:
        made = make_runtime(**options)
        monkeypatch.setattr(runtime, "_current", made[0])
        return made

    return install


def test_inline_run_says_every_step_it_ran(current: Any) -> None:
    rt, _, _ = current()
    job_id = accept(rt, "4001")
    result = STEP_TASKS[Step.UPSERT_CUSTOMER].run(
        job_id=job_id, connection="shop", reference="4001", step="upsert_customer"
    )
    assert result == (
        "shop 4001: upsert_customer → upsert_products → check_duplicate → "
        "create_draft: finished as done (4 steps)"
    )


def test_old_positional_message_still_runs(current: Any) -> None:
    rt, _, _ = current(inline=False)
    job_id = accept(rt, "4002")
    assert (
        STEP_TASKS[Step.UPSERT_CUSTOMER].run(job_id)
        == "shop 4002: upsert_customer: advanced (1 step)"
    )


def test_a_failed_step_is_named_with_the_outcome(current: Any) -> None:
    rt, connector, _ = current()
    connector.fail["upsert_products"] = [TransientError("503 from the ERP")]
    job_id = accept(rt, "4003")
    assert (
        STEP_TASKS[Step.UPSERT_CUSTOMER].run(job_id)
        == "shop 4003: upsert_customer → upsert_products: retry (1 step)"
    )


def test_a_delivery_that_ran_nothing_says_why(current: Any) -> None:
    rt, _, _ = current()
    job_id = accept(rt, "4004")
    STEP_TASKS[Step.UPSERT_CUSTOMER].run(job_id)
    assert STEP_TASKS[Step.UPSERT_CUSTOMER].run(job_id) == "shop 4004: no step run: final"
    assert STEP_TASKS[Step.CREATE_DRAFT].run("gone") == "job gone: missing"


def test_event_task_result_names_the_order(current: Any) -> None:
    rt, _, _ = current()
    job_id = accept(rt, "4005")
    assert (
        order_paid.run(job_id, connection="shop", reference="4005")
        == "shop 4005: order_paid: invoicing"
    )
    assert order_paid.run(job_id) in ("ignored", "invoicing")


def test_steps_run_counts_only_this_delivery() -> None:
    rt, _, _ = make_runtime()
    job = job_of(rt, accept(rt, "5001"))
    before = utcnow() - timedelta(seconds=10)
    job.finish_step(Step.UPSERT_CUSTOMER)
    job.step(Step.UPSERT_CUSTOMER).finished_at = before  # an earlier delivery's work
    since = utcnow()
    job.finish_step(Step.UPSERT_PRODUCTS)
    job.finish_step(Step.CHECK_DUPLICATE)
    until = utcnow()
    job.finish_step(Step.CREATE_DRAFT)  # a later delivery, after this one returned
    job.step(Step.CREATE_DRAFT).finished_at = until + timedelta(seconds=1)
    assert steps_run(job, since, until) == ([Step.UPSERT_PRODUCTS, Step.CHECK_DUPLICATE], 2)
    assert (
        describe_run(job, job.job_id, Outcome.ADVANCED, since, until)
        == "shop 5001: upsert_products → check_duplicate: advanced (2 steps)"
    )


# --- how Flower is started -------------------------------------------------------------------
def settings_with(env: dict[str, str], **top: Any) -> Any:
    return parse_settings({"orderbridge": top, "connections": {"shop": CONNECTION}}, env=env)


def test_basic_auth_from_the_named_variable_goes_to_flower() -> None:
    settings = settings_with(
        {"OB_FLOWER": "ops:s3cret, admin:x"}, flower_basic_auth_env="OB_FLOWER"
    )
    argv, env, line = flower_options(settings, 5555, "0.0.0.0")
    assert argv == ["flower", "--port=5555", "--address=0.0.0.0", "--basic-auth=ops:s3cret,admin:x"]
    assert env == {}
    assert "s3cret" not in line and "basic auth" in line
    assert "s3cret" not in repr(settings)


def test_malformed_credentials_are_refused_without_showing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        settings_with({"OB_FLOWER": "justapassword"}, flower_basic_auth_env="OB_FLOWER")
    assert "user:password" in str(caught.value)
    assert "justapassword" not in str(caught.value)


def test_without_auth_the_api_opens_only_on_loopback() -> None:
    settings = settings_with({})
    _, env, line = flower_options(settings, 5555, "127.0.0.1")
    assert env == {UNAUTHENTICATED_API: "true"}
    assert UNAUTHENTICATED_API in line
    for address in ("0.0.0.0", "", "10.1.2.3", "flower.internal"):
        _, env, line = flower_options(settings, 5555, address)
        assert env == {}, address
        assert "refused" in line
    assert is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")


def test_the_lookup_uses_the_store_key_scheme() -> None:
    store = fake_store()
    store.redis.set(
        JOBS.key("j9"),
        '{"job_id": "j9", "connection": "c", "external_id": "e", "reference": "R-9"}',
    )
    assert broker._cached_labels(store)("j9") == ("c", "R-9")
    store.redis.set(JOBS.key("bad"), "not json")
    assert broker._cached_labels(store)("bad") is None
