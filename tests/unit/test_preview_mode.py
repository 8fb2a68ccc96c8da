"""Preview mode's bookkeeping on a fakeredis store: a previewed job is final and ignores
payments; once its connection is live, the next event for the order sends it, once, and while
the connection is still in preview mode nothing does. (The preview itself, on a real ERP
simulator: tests/e2e/test_preview_mode.py.)"""

from __future__ import annotations

from core.runtime import Runtime
from schemas.job import STEPS
from schemas.order import Order
from tasks import lifecycle
from tasks.events import apply_event, event_from_canonical
from tests.support.factories import order as order_json
from tests.support.fakes import accept, job_of, make_runtime


def previewed(rt: Runtime, external_id: str) -> str:
    """A job as a worker leaves it in preview mode: final, its order marked previewed."""
    job_id = accept(rt, external_id)
    job = job_of(rt, job_id)
    job.preview = {"verdict": "would_send"}
    job.end("previewed", "previewed: would_send")
    rt.store.save_job(job, due_at=None)
    rt.store.mark_previewed("shop", external_id)
    return job_id


def resend(rt: Runtime, external_id: str) -> str:
    order = Order.model_validate(order_json(external_id))
    return apply_event(rt, "shop", event_from_canonical(order)).outcome


def test_a_live_connection_sends_a_previewed_order_once_on_its_next_event() -> None:
    rt, _, enqueued = make_runtime()
    job_id = previewed(rt, "5001")
    enqueued.clear()

    assert resend(rt, "5001") == "accepted"
    assert enqueued == [("order_go_live", job_id)]
    assert lifecycle.order_go_live(rt, job_id) == "sent"
    job = job_of(rt, job_id)
    assert job.state == "queued" and job.current_step == STEPS[0]
    assert all(s.state in ("pending", "skipped") and s.attempts == 0 for s in job.steps)
    assert job.preview == {"verdict": "would_send"}  # kept: what the preview said
    assert not rt.store.was_previewed("shop", "5001")
    rt.dispatch()
    assert (str(STEPS[0]), job_id) in enqueued

    enqueued.clear()
    assert resend(rt, "5001") == "exists"  # sent once: a later event is an ordinary repeat
    assert lifecycle.order_go_live(rt, job_id) == "ignored"
    assert ("order_go_live", job_id) not in enqueued


def test_while_in_preview_mode_an_event_changes_nothing_and_a_payment_is_ignored() -> None:
    rt, _, enqueued = make_runtime()
    object.__setattr__(rt.settings.connection("shop"), "mode", "preview")
    job_id = previewed(rt, "5002")
    enqueued.clear()

    assert resend(rt, "5002") == "exists"
    assert lifecycle.order_go_live(rt, job_id) == "ignored"
    assert lifecycle.order_paid(rt, job_id) == "ignored"
    assert job_of(rt, job_id).state == "previewed"
    assert rt.store.was_previewed("shop", "5002")
    assert enqueued == []
