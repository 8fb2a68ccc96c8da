"""The status page's per-connection figures (`core.overview`) and the page's own rules (login,
escaping, the same-origin guard), in-process on fakeredis."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from core.budget import RequestBudget
from core.metrics_store import BLOCKED_KEY
from core.overview import BLOCKED_MARKER, GENERIC_BLOCK, overview, peek_budget
from core.runtime import Runtime
from core.settings import parse_settings
from core.store import DEAD_LETTERS, new_id
from schemas.dead_letter import DeadLetter
from schemas.job import ErrorInfo, Job, Step, utcnow
from schemas.order import Order
from tests.support.config import OPERATOR_TOKEN, exact_connection, poweroffice_connection
from tests.support.factories import order
from tests.support.fakes import fake_store
from workers.intake import http, status
from workers.intake.app import create_app

RETENTION_DAYS = 30


@pytest.fixture
def rt() -> Runtime:
    settings = parse_settings(
        {
            "orderbridge": {"operator_token": OPERATOR_TOKEN, "retention_days": RETENTION_DAYS},
            "connections": {
                "shop": poweroffice_connection("http://127.0.0.1:9"),
                "exact": exact_connection("http://127.0.0.1:9"),
            },
        },
        env={},
    )
    store = fake_store()
    return Runtime(settings, store, enqueue=lambda step, job_id: None)


def make_job(
    rt: Runtime,
    connection: str = "shop",
    created_at: datetime | None = None,
    reference: str | None = None,
) -> Job:
    job = Job.new(
        new_id(),
        connection,
        reference or f"ref-{new_id()[:6]}",
        Order.model_validate(order()),
        False,
    )
    if created_at is not None:
        job.created_at = created_at
    rt.store.create_job(job, time.time() + 60)
    return job


def finish(rt: Runtime, job: Job, at: datetime, state: str = "done") -> None:
    job.end(state)  # type: ignore[arg-type]
    job.finished_at = at
    rt.store.save_job(job, due_at=None, purge_at=at.timestamp() + RETENTION_DAYS * 86_400)


def kill(rt: Runtime, job: Job, message: str = "Unknown article") -> DeadLetter:
    letter = DeadLetter(
        id=new_id(),
        job_id=job.job_id,
        connection=job.connection,
        external_id=job.external_id,
        reference=job.reference,
        step=Step.CREATE_DRAFT,
        kind="permanent",
        reason="permanent error",
        message=message,
        erp_status=400,
        attempts=1,
    )
    job.kill(Step.CREATE_DRAFT, ErrorInfo(kind="permanent", message=message), letter.id)
    rt.store.add_dead_letter(letter, job)
    return letter


def test_figures_per_connection(rt: Runtime) -> None:
    now = utcnow()
    make_job(rt, created_at=now - timedelta(minutes=5))
    running = make_job(rt, created_at=now - timedelta(minutes=2))
    running.start_step(Step.UPSERT_CUSTOMER)
    rt.store.save_job(running)
    finish(rt, make_job(rt), now)
    finish(rt, make_job(rt), now, state="duplicate")  # finished, but not done
    finish(rt, make_job(rt), now - timedelta(days=1, hours=1))  # done, but yesterday
    kill(rt, make_job(rt))
    make_job(rt, connection="exact", created_at=now - timedelta(seconds=30))

    view = overview(rt)
    shop, exact = (next(c for c in view.connections if c.name == n) for n in ("shop", "exact"))
    assert (shop.erp, shop.queued, shop.running, shop.done_today, shop.dead_letters) == (
        "poweroffice",
        1,
        1,
        1,
        1,
    )
    assert (exact.queued, exact.running, exact.done_today, exact.dead_letters) == (1, 0, 0, 0)
    assert 290 <= (shop.oldest_age_seconds(view.now) or 0) <= 330
    assert 20 <= (exact.oldest_age_seconds(view.now) or 0) <= 60
    assert shop.blocked is None and exact.blocked is None
    assert view.dead_letters_total == 1 and view.dead_letters[0].connection == "shop"


def test_nothing_yet_is_zero_everywhere(rt: Runtime) -> None:
    view = overview(rt)
    assert [c.name for c in view.connections] == ["exact", "shop"]
    for fig in view.connections:
        assert (fig.queued, fig.running, fig.done_today, fig.dead_letters) == (0, 0, 0, 0)
        assert fig.oldest_unfinished_at is None and fig.blocked is None
        assert fig.budget is not None and fig.budget.left == fig.budget.limit


def test_dead_letters_newest_first_and_limited(rt: Runtime) -> None:
    letters = [kill(rt, make_job(rt)) for _ in range(3)]
    for i, letter in enumerate(letters):  # spread their times: the first is the oldest
        letter.created_at = utcnow() - timedelta(minutes=10 - i)
        rt.store.redis.set(DEAD_LETTERS.key(letter.id), letter.model_dump_json())
    view = overview(rt, dead_letter_limit=2)
    assert view.dead_letters_total == 3
    assert [d.id for d in view.dead_letters] == [letters[2].id, letters[1].id]


def test_at_most_scan_limit_unfinished_jobs_are_read(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("core.overview.SCAN_LIMIT", 2)
    for _ in range(3):
        make_job(rt)
    view = overview(rt)
    assert (view.unfinished_read, view.unfinished_total) == (2, 3)
    assert {c.name: c.queued for c in view.connections}["shop"] == 2
    page = status.status_html(view)
    assert "counted from 2 of 3 unfinished jobs" in page


def test_a_connection_gone_from_the_config_still_shows_its_dead_letters(rt: Runtime) -> None:
    kill(rt, make_job(rt, connection="old-shop"))
    old = next(c for c in overview(rt).connections if c.name == "old-shop")
    assert (old.erp, old.dead_letters, old.budget) == ("?", 1, None)


def test_blocked_from_a_waiting_job(rt: Runtime) -> None:
    job = make_job(rt, connection="exact")
    job.start_step(Step.UPSERT_CUSTOMER)
    message = (
        f"Exact refused the token request (invalid_grant): an operator must re-consent "
        f"with `orderbridge connect exact`; the connection's {BLOCKED_MARKER}"
    )
    job.fail_attempt(
        Step.UPSERT_CUSTOMER,
        ErrorInfo(kind="transient", message=message),
        utcnow() + timedelta(seconds=15),
    )
    rt.store.save_job(job)
    other = make_job(rt)
    other.start_step(Step.UPSERT_CUSTOMER)  # an ordinary retry is no block
    other.fail_attempt(
        Step.UPSERT_CUSTOMER,
        ErrorInfo(kind="transient", message="503"),
        utcnow() + timedelta(seconds=1),
    )
    rt.store.save_job(other)
    figures = {c.name: c for c in overview(rt).connections}
    assert figures["exact"].blocked == message
    assert figures["shop"].blocked is None


def test_blocked_from_the_metrics_record(rt: Runtime) -> None:
    now = time.time()
    rt.store.redis.hset(BLOCKED_KEY, mapping={"shop": now + 15, "exact": now - 3600})
    assert {c.name: c.blocked for c in overview(rt).connections} == {
        "shop": GENERIC_BLOCK,
        "exact": None,
    }  # exact's record is long past: not blocked


def test_budget_is_peeked_not_taken(rt: Runtime) -> None:
    budget = rt.budget_for("shop")
    for _ in range(3):
        assert budget.try_take() == 0
    first = {c.name: c.budget for c in overview(rt).connections}["shop"]
    again = {c.name: c.budget for c in overview(rt).connections}["shop"]
    assert first is not None and again is not None
    assert first.left == again.left == budget.limit - 3
    assert first.paused_seconds == 0
    budget.pause(30)
    paused = {c.name: c.budget for c in overview(rt).connections}["shop"]
    assert paused is not None and 25 < paused.paused_seconds <= 31


def test_day_budget_left() -> None:
    store = fake_store()
    budget = RequestBudget(store.redis, "ob:budget:t", limit=60, window_seconds=61, day_limit=100)
    for _ in range(5):
        budget.try_take()
    now = datetime.now(UTC)
    left = peek_budget(store, "ob:budget:t", 60, 61, 100, now)
    assert (left.left, left.day_left, left.day_limit) == (55, 95, 100)
    tomorrow = now + timedelta(days=1, seconds=5)  # the day's count has reset by then
    assert peek_budget(store, "ob:budget:t", 60, 61, 100, tomorrow).day_left == 100


# --- the page ----------------------------------------------------------------------------------
def page_client(rt: Runtime) -> TestClient:
    app: FastAPI = create_app(rt)
    return TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False)


def test_without_a_token_the_login_form(rt: Runtime) -> None:
    client = page_client(rt)
    response = client.get("/status")
    assert response.status_code == 401
    assert '<form id="login"' in response.text and "Dead letters" not in response.text
    assert client.get("/status?token=wrong").status_code == 401
    assert client.post("/status/login", data={"token": "wrong"}).status_code == 401


def test_login_sets_a_strict_httponly_cookie_that_is_not_the_token(rt: Runtime) -> None:
    client = page_client(rt)
    response = client.post("/status/login", data={"token": OPERATOR_TOKEN})
    assert response.status_code == 303 and response.headers["location"] == "/status"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and OPERATOR_TOKEN not in cookie
    page = client.get("/status")
    assert page.status_code == 200 and "Connections" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_token_in_the_address_becomes_the_cookie(rt: Runtime) -> None:
    client = page_client(rt)
    response = client.get(f"/status?token={OPERATOR_TOKEN}")
    assert response.status_code == 303 and response.headers["location"] == "/status"
    assert client.get("/status").status_code == 200


def test_login_from_another_site_is_refused(rt: Runtime) -> None:
    response = page_client(rt).post(
        "/status/login", data={"token": OPERATOR_TOKEN}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and "set-cookie" not in response.headers


def test_no_configured_token_keeps_the_page_closed(rt: Runtime) -> None:
    rt.settings.operator_token = None
    client = page_client(rt)
    assert client.get("/status").status_code == 401
    assert client.get("/status", headers={"Authorization": "Bearer "}).status_code == 401


def test_everything_on_the_page_is_escaped(rt: Runtime) -> None:
    hostile = '<script>alert("x")</script>'
    kill(rt, make_job(rt, reference=f'"><img src=x onerror=alert(1)>{hostile}'), hostile)
    page = page_client(rt).get("/status", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    assert page.status_code == 200
    assert hostile not in page.text and "<img" not in page.text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page.text
    assert page.text.count('class="replay"') == 1


def test_same_origin_guard(rt: Runtime) -> None:
    from starlette.requests import Request

    def request(headers: dict[str, str]) -> Request:
        raw = [
            (k.lower().encode(), v.encode())
            for k, v in {"host": "127.0.0.1:8000", **headers}.items()
        ]
        return Request({"type": "http", "method": "POST", "path": "/", "headers": raw})

    assert http.same_origin_call(request({http.OPERATOR_HEADER: "1"}))
    assert http.same_origin_call(
        request(
            {
                http.OPERATOR_HEADER: "1",
                "Origin": "http://127.0.0.1:8000",
                "Sec-Fetch-Site": "same-origin",
            }
        )
    )
    assert not http.same_origin_call(request({}))
    assert not http.same_origin_call(
        request({http.OPERATOR_HEADER: "1", "Origin": "https://evil.example"})
    )
    assert not http.same_origin_call(
        request({http.OPERATOR_HEADER: "1", "Sec-Fetch-Site": "same-site"})
    )


def test_assets_are_served_and_nothing_else(rt: Runtime) -> None:
    client = page_client(rt)
    assert (
        client.get("/status/assets/status.js").headers["content-type"].startswith("text/javascript")
    )
    assert client.get("/status/assets/..%2Fstatus.py").status_code == 404


def test_jobs_waiting_for_their_budget_and_when_they_are_through(rt: Runtime) -> None:
    from tasks.events import submit_order

    for i in range(40):
        submit_order(rt, "shop", Order.model_validate(order(f"w-{i}")))
    rt.store.redis.hset("ob:adm:cost", "shop", "4")  # four ERP calls per delivery, measured
    figures = {fig.name: fig for fig in overview(rt).connections}
    # 40 jobs x 4 calls at PowerOffice's 10 per 1.1 s: 17.6 s
    assert figures["shop"].backlog == "40 waiting, about 18 s at 9.09 requests/s"
    assert figures["exact"].backlog == ""
    client = page_client(rt)
    client.post("/status/login", data={"token": OPERATOR_TOKEN})
    page = client.get("/status").text
    assert '<td data-field="waiting">40 waiting, about 18 s at 9.09 requests/s</td>' in page
