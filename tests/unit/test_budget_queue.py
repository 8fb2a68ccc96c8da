"""The request budget serves waiters first come, first served (fakeredis): a backlog drains in
the order its jobs started waiting, an urgent caller stands first, a vanished waiter is dropped."""

from __future__ import annotations

import fakeredis

from core.budget import QUEUE_POLL_MS, WAITER_GONE_MS, RequestBudget, now_ms


def budget(urgent: bool = False) -> tuple[RequestBudget, fakeredis.FakeRedis]:
    client = fakeredis.FakeRedis(decode_responses=True)
    return RequestBudget(
        client, "ob:budget:t", limit=1, window_seconds=60, urgent=lambda: urgent
    ), client


def free_the_window(client: fakeredis.FakeRedis) -> None:
    client.delete("ob:budget:t")


def test_a_free_slot_goes_to_the_oldest_waiter_not_the_first_to_look() -> None:
    b, client = budget()
    assert b.try_take("x", 1) == 0  # the one slot is taken
    assert b.try_take("older", 100) > 0 and b.try_take("newer", 200) > 0  # both wait, in line
    free_the_window(client)
    assert b.try_take("newer", 200) == QUEUE_POLL_MS / 1000  # looks first, is not first
    assert b.try_take("older", 100) == 0
    free_the_window(client)
    assert b.try_take("newer", 200) == 0


def test_an_urgent_caller_stands_first() -> None:
    b, client = budget()
    assert b.try_take("x", 1) == 0
    assert b.try_take("waiting", 100) > 0
    urgent, _ = budget(urgent=True)
    urgent.redis = client
    urgent._take = client.register_script(urgent._take.script)
    assert urgent.try_take("pos") > 0  # queued with ticket time 0
    free_the_window(client)
    assert b.try_take("waiting", 100) > 0  # held off: the urgent caller is owed the slot
    assert urgent.try_take("pos") == 0


def test_a_waiter_not_heard_of_is_dropped() -> None:
    b, client = budget()
    assert b.try_take("x", 1) == 0
    assert b.try_take("gone", 100) > 0
    assert b.try_take("alive", 200) > 0
    client.zadd("ob:budget:t:polled", {"gone": now_ms() - WAITER_GONE_MS - 1000})
    free_the_window(client)
    assert b.try_take("alive", 200) == 0
