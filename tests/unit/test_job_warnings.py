"""Nothing dropped silently: what the connector says its ERP will not get becomes the job's
warnings when the order is accepted (whichever producer sends it), shows in the job's public
view and the door's decision, and is logged once per field; jobs stored before warnings
existed load with none."""

from __future__ import annotations

from structlog.testing import capture_logs

from schemas.dropped import Dropped
from schemas.job import Job
from schemas.order import Order
from tasks.events import apply_event, event_from_canonical
from tests.support.factories import order
from tests.support.fakes import job_of, make_runtime

TEXT = Dropped(field="lines.1.text", reason="no text lines here: the line's text is not sent")
SERIALS = Dropped(field="lines.0.serial_numbers", reason="no serial numbers here: not sent")


def test_the_warnings_are_kept_on_the_job_and_shown_in_its_public_view() -> None:
    rt, connector, _ = make_runtime()
    connector.drops = [TEXT, SERIALS]
    decision = apply_event(rt, "shop", event_from_canonical(Order.model_validate(order("W-1"))))
    assert (decision.status, decision.warnings) == (202, (TEXT, SERIALS))
    assert decision.job_id is not None
    job = job_of(rt, decision.job_id)
    assert job.warnings == [TEXT, SERIALS]
    assert job.public_view()["warnings"] == [TEXT.model_dump(), SERIALS.model_dump()]


def test_each_warning_is_logged_once_with_the_job_and_no_customer_data() -> None:
    rt, connector, _ = make_runtime()
    connector.drops = [TEXT, SERIALS]
    with capture_logs() as logs:
        decision = apply_event(rt, "shop", event_from_canonical(Order.model_validate(order("W-2"))))
        apply_event(rt, "shop", event_from_canonical(Order.model_validate(order("W-2"))))
    dropped = [entry for entry in logs if entry["event"] == "order.field_dropped"]
    assert [(e["field"], e["reason"]) for e in dropped] == [
        (TEXT.field, TEXT.reason),
        (SERIALS.field, SERIALS.reason),
    ]  # the repeat of the order logs nothing more
    assert {e["job_id"] for e in dropped} == {decision.job_id}
    assert {e["connection"] for e in dropped} == {"shop"}
    assert not any("kari" in str(value).lower() for e in dropped for value in e.values())


def test_a_repeat_read_with_its_state_names_the_existing_jobs_warnings() -> None:
    rt, connector, _ = make_runtime()
    connector.drops = [TEXT]
    event = event_from_canonical(Order.model_validate(order("W-3")))
    apply_event(rt, "shop", event)
    again = apply_event(rt, "shop", event, with_state=True)
    assert (again.status, again.warnings) == (200, (TEXT,))


def test_an_order_the_erp_takes_whole_has_no_warnings() -> None:
    rt, _, _ = make_runtime()
    decision = apply_event(rt, "shop", event_from_canonical(Order.model_validate(order("W-4"))))
    assert decision.job_id is not None
    assert job_of(rt, decision.job_id).warnings == []
    assert decision.warnings == ()


def test_a_job_stored_before_warnings_existed_loads_with_none() -> None:
    rt, _, _ = make_runtime()
    decision = apply_event(rt, "shop", event_from_canonical(Order.model_validate(order("W-5"))))
    assert decision.job_id is not None
    stored = job_of(rt, decision.job_id).model_dump(mode="json")
    del stored["warnings"]
    assert Job.model_validate(stored).warnings == []
