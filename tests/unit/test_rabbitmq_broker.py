"""RabbitMQ as broker, in-process: what Celery is told (quorum queues however a queue is
declared, publisher confirms, per-consumer prefetch, no native delayed delivery, exchanges of
our own) and what the metrics say when the queues are not lists in the store."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from celery.utils.quorum_queues import detect_quorum_queues
from celery.worker.consumer import Consumer
from prometheus_client.parser import text_string_to_metric_families

from core import broker
from core.rabbitmq import CONFIRM_TIMEOUT_SECONDS, QuorumConsumer
from core.settings import ConfigError, Settings, parse_settings
from tests.support.fakes import make_runtime
from workers.metrics import metrics_text

AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def amqp_settings(**top: Any) -> Settings:
    return parse_settings({"orderbridge": {"broker_url": AMQP, **top}}, {})


def configured_app(settings: Settings) -> Celery:
    """A Celery app of its own with the broker settings `core.broker.configure` applies."""
    app = Celery("t", set_as_current=False)
    app.conf.update(
        **broker.broker_options(settings),
        task_default_queue=settings.queue_name,
        worker_prefetch_multiplier=1,
    )
    return app


def test_amqp_gets_confirms_quorum_queues_and_per_consumer_prefetch() -> None:
    options = broker.broker_options(amqp_settings())
    assert options["broker_url"] == AMQP
    assert options["broker_transport_options"] == {"confirm_publish": True}
    assert options["task_default_queue_type"] == "quorum"
    assert options["task_create_missing_queue_type"] == "quorum"
    assert options["worker_detect_quorum_queues"] is True  # no global QoS (540 from RabbitMQ)
    assert options["broker_connection_max_retries"] is None
    assert options["broker_channel_error_retry"] is True
    assert "visibility_timeout" not in options["broker_transport_options"]  # Redis only


def test_redis_brokers_keep_their_queues_and_consumer() -> None:
    options = broker.broker_options(parse_settings({}, {}))
    assert not {"task_default_queue_type", "worker_consumer", "control_exchange"} & set(options)
    assert "confirm_publish" not in options["broker_transport_options"]


def test_every_queue_is_declared_quorum_however_it_is_named() -> None:
    app = configured_app(amqp_settings(queue_name="ob-x"))
    worker_queues = app.amqp.queues
    worker_queues.select(["ob-x", "ob-x:shop", "ob-x:other"])  # a worker's -Q list
    for name in ("ob-x", "ob-x:shop", "ob-x:other"):
        assert worker_queues[name].queue_arguments == {"x-queue-type": "quorum"}, name
    # what a publish (intake, dispatcher) declares when it routes to a connection's queue
    routed = app.amqp.router.route({"queue": "ob-x:late"}, "orderbridge.create_draft")
    assert routed["queue"].queue_arguments == {"x-queue-type": "quorum"}
    assert detect_quorum_queues(app, "amqp") == (True, "ob-x")


def test_the_consumer_leaves_out_native_delayed_delivery_and_nothing_else() -> None:
    options = broker.broker_options(amqp_settings())
    assert options["worker_consumer"] == "core.rabbitmq:QuorumConsumer"
    ours, celerys = QuorumConsumer.Blueprint.default_steps, Consumer.Blueprint.default_steps
    assert [s for s in celerys if s not in ours] == [
        "celery.worker.consumer.delayed_delivery:DelayedDelivery"
    ]
    assert "celery.worker.consumer.tasks:Tasks" in ours


def test_control_and_events_travel_on_exchanges_named_after_the_queue() -> None:
    app = configured_app(amqp_settings(queue_name="ob-y"))
    assert app.control.mailbox.namespace == "ob-y"
    assert app.conf.event_exchange == "ob-y.events"


def test_queue_names_follow_the_setting_and_refuse_what_rabbitmq_keeps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(broker, "_queue", "ob-z")
    assert broker.queues(["a", "b"]) == ["ob-z", "ob-z:a", "ob-z:b"]
    assert broker.queue_for(None) == "ob-z"
    for bad in ("amq.orders", "a:b", "", "x" * 101):
        with pytest.raises(ConfigError, match="orderbridge.queue_name"):
            parse_settings({"orderbridge": {"queue_name": bad}}, {})


def test_every_publish_waits_a_bounded_time_for_its_confirm(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(broker.app, "send_task", lambda name, **opts: sent.append(opts))
    monkeypatch.setattr(broker, "_publish", {"confirm_timeout": CONFIRM_TIMEOUT_SECONDS})
    monkeypatch.setattr(broker, "_queue", "ob-c")
    broker.enqueue("create_draft", "j1", labels=("shop", "1001"))
    assert sent[0]["confirm_timeout"] == CONFIRM_TIMEOUT_SECONDS
    assert sent[0]["queue"] == "ob-c:shop"


def test_the_broker_is_the_store_only_when_it_is_the_same_redis() -> None:
    assert parse_settings({}, {}).broker_is_store
    same = {"redis_url": "redis://h:1/2", "broker_url": "redis://h:1/2"}
    assert parse_settings({"orderbridge": same}, {}).broker_is_store
    assert not amqp_settings().broker_is_store
    other = {"redis_url": "redis://h:1/2", "broker_url": "redis://h:1/3"}
    assert not parse_settings({"orderbridge": other}, {}).broker_is_store


def test_metrics_without_broker_lists_say_what_waits_from_our_own_record() -> None:
    rt, _, _ = make_runtime()
    rt.store.mark_sent("j1", 1.0)
    rt.store.mark_sent("j2", 2.0)
    rt.store.redis.rpush(broker.QUEUE, "m1")
    for in_store in (True, False):
        text = metrics_text(rt.store, ["shop"], queues_in_store=in_store).decode()
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["orderbridge_messages_waiting"].samples[0].value == 2
        assert ("orderbridge_queue_length" in families) is in_store
