"""Admission rounds against fakeredis: fair turns, caps from the budget, urgent jobs, pauses,
the outage breaker and the workers' threads. The same script runs on the real Redis in the
end-to-end fairness test (tests/e2e/test_fairness.py)."""

from __future__ import annotations

import time
from collections import Counter

import fakeredis
import redis

from core.admission import (
    OUTAGE_THRESHOLD,
    Admission,
    Lane,
    Waiting,
    describe_eta,
    in_flight_cap,
)


def lane(
    name: str, group: str | None = None, cap: int = 3, weight: float = 1.0, day_limit: int = 0
) -> Lane:
    group = group or f"ob:budget:{name}"
    return Lane(
        connection=name,
        weight=weight,
        group=group,
        cap=cap,
        pause_key=f"{group}:pause",
        day_key=f"{group}:day",
        day_limit=day_limit,
    )


def setup() -> tuple[Admission, redis.Redis]:
    client = fakeredis.FakeRedis(decode_responses=True)
    return Admission(client), client


def fill(
    adm: Admission,
    connection: str,
    count: int,
    start: float = 1000.0,
    urgent: bool = False,
    prefix: str = "",
) -> list[str]:
    ids = [f"{prefix or connection}-{i}" for i in range(count)]
    for i, job_id in enumerate(ids):
        adm.submit(
            connection,
            job_id,
            "upsert_customer",
            f"R{i}",
            start + i,
            urgent,
            recheck_at=time.time() + 600,
        )
    return ids


def test_caps_come_from_the_budget() -> None:
    assert in_flight_cap(10, 1.1) == 6  # PowerOffice: 9.1 requests/s kept busy at 0.5 s a call
    assert in_flight_cap(5, 1.1) == 4  # Duett, Sapera
    assert in_flight_cap(60, 61.0) == 2  # Exact: one a second
    assert in_flight_cap(10, 1.1, max_in_flight=2) == 2  # a setting may lower it
    assert in_flight_cap(1000, 1.0) == 501  # a big budget: the workers' threads bound it


def test_a_backlog_never_stands_before_another_connection() -> None:
    adm, _ = setup()
    fill(adm, "a", 500)
    fill(adm, "b", 2, start=5000.0)
    admitted = adm.admit([lane("a", cap=3), lane("b", cap=3)], 45, own_threads=16)
    by_connection = Counter(item.connection for item in admitted)
    assert by_connection == {"a": 3, "b": 2}  # each up to its budget's cap, b not behind a
    assert [item.job_id for item in admitted if item.connection == "a"] == ["a-0", "a-1", "a-2"]
    assert adm.admit([lane("a", cap=3), lane("b", cap=3)], 45, own_threads=16) == []
    # a slot freed: the next of a's backlog, oldest first
    assert adm.done("a", "a-0", calls=4, erp_answered=True)
    again = adm.admit([lane("a", cap=3), lane("b", cap=3)], 45, own_threads=16)
    assert [item.job_id for item in again] == ["a-3"]


def test_connections_take_turns_for_the_workers_threads() -> None:
    adm, client = setup()
    for name in "abc":
        fill(adm, name, 50)
    adm.register_worker("host:1", 4)
    lanes = [lane(name, cap=100) for name in "abc"]
    admitted = adm.admit(lanes, 45, own_threads=1)  # 4 threads + 1 headroom
    assert len(admitted) == 5
    assert set(Counter(item.connection for item in admitted).values()) <= {1, 2}
    # over many rounds each gets a third, whatever the order they came in
    total: Counter[str] = Counter(item.connection for item in admitted)
    for _ in range(40):
        for item in admitted:
            adm.done(item.connection, item.job_id, calls=3, erp_answered=True)
        admitted = adm.admit(lanes, 45, own_threads=1)
        total.update(item.connection for item in admitted)
    assert max(total.values()) - min(total.values()) <= 2, total
    adm.unregister_worker("host:1")
    assert client.zcard("ob:adm:workers") == 0


def test_weight_and_calls_decide_the_share_of_a_shared_budget() -> None:
    adm, _ = setup()
    fill(adm, "big", 300)
    fill(adm, "small", 300)
    lanes = [
        lane("big", group="ob:budget:po", cap=4, weight=2),
        lane("small", group="ob:budget:po", cap=4),
    ]
    total: Counter[str] = Counter()
    for _ in range(60):
        admitted = adm.admit(lanes, 45, own_threads=16)
        assert len(admitted) <= 4  # one cap for the group: they share one budget
        for item in admitted:
            total[item.connection] += 1
            adm.done(item.connection, item.job_id, calls=4, erp_answered=True)
    assert 1.7 < total["big"] / total["small"] < 2.3, total


def test_urgent_jobs_go_first_and_past_the_cap() -> None:
    adm, _ = setup()
    fill(adm, "a", 10)
    lanes = [lane("a", cap=2)]
    assert len(adm.admit(lanes, 45, own_threads=16)) == 2
    fill(adm, "a", 1, start=9999.0, urgent=True, prefix="pos")
    admitted = adm.admit(lanes, 45, own_threads=16)
    assert [item.job_id for item in admitted] == ["pos-0"]
    assert Waiting(9, 0, 3, 4.0).waiting == 9 and adm.figures(["a"])["a"].in_flight == 3


def test_a_paused_budget_or_a_used_up_day_admits_nothing() -> None:
    adm, client = setup()
    fill(adm, "a", 5)
    fill(adm, "b", 5)
    client.set("ob:budget:a:pause", int((time.time() + 30) * 1000))
    midnight = int((time.time() + 3600) * 1000)
    client.hset("ob:budget:b:day", mapping={"used": 5000, "reset": midnight})
    lanes = [lane("a"), lane("b", day_limit=5000)]
    assert adm.admit(lanes, 45, own_threads=16) == []
    client.delete("ob:budget:a:pause")
    assert {item.connection for item in adm.admit(lanes, 45, own_threads=16)} == {"a"}


def test_an_outage_lets_one_probe_through_until_the_erp_answers() -> None:
    adm, client = setup()
    fill(adm, "a", 20)
    lanes = [lane("a", cap=5)]
    first = adm.admit(lanes, 45, own_threads=16)
    assert len(first) == 5
    opened = [adm.outage("a") for _ in range(OUTAGE_THRESHOLD)]
    assert opened == [False] * (OUTAGE_THRESHOLD - 1) + [True]
    for item in first:  # they failed and went back to their places
        adm.submit(
            "a",
            item.job_id,
            "upsert_customer",
            "R",
            1000.0 + int(item.job_id[2:]),
            False,
            recheck_at=time.time() + 600,
        )
    assert adm.admit(lanes, 45, own_threads=16) == []  # open: nothing while it lasts
    assert adm.figures(["a"])["a"].outage
    client.hset("ob:adm:health:a", "open_until", time.time() - 1)  # the pause ran out
    probe = adm.admit(lanes, 45, own_threads=16)
    assert [item.job_id for item in probe] == ["a-0"]  # one probe, the oldest
    assert adm.admit(lanes, 45, own_threads=16) == []
    adm.done("a", "a-0", calls=4, erp_answered=True)  # it worked: the breaker closes
    assert [item.job_id for item in adm.admit(lanes, 45, own_threads=16)] == [
        "a-1",
        "a-2",
        "a-3",
        "a-4",
        "a-5",
    ]


def test_an_erp_that_fails_now_and_then_is_not_in_an_outage() -> None:
    adm, _ = setup()
    adm.done("a", "x", calls=3, erp_answered=True)  # it answered a moment ago
    assert not any(adm.outage("a") for _ in range(OUTAGE_THRESHOLD * 3))
    assert not adm.figures(["a"])["a"].outage


def test_a_slot_whose_holder_died_lapses() -> None:
    adm, client = setup()
    fill(adm, "a", 3)
    lanes = [lane("a", cap=1)]
    assert len(adm.admit(lanes, 45, own_threads=16)) == 1
    assert adm.admit(lanes, 45, own_threads=16) == []
    client.zadd("ob:adm:flight:a", {"a-0": time.time() - 1})  # nobody beat for stale_after
    assert [item.job_id for item in adm.admit(lanes, 45, own_threads=16)] == ["a-1"]


def test_the_backlog_estimate_reads_as_an_operator_would_say_it() -> None:
    waiting = Waiting(waiting=1212, urgent=0, in_flight=6, calls_per_job=3.5)
    assert describe_eta(waiting, 10.0) == "1,212 waiting, about 7 min at 10 requests/s"
    assert describe_eta(Waiting(0, 0, 0, None), 10.0) == ""
    assert describe_eta(Waiting(5, 0, 0, None), 10.0) == "5 waiting, about 2 s at 10 requests/s"
