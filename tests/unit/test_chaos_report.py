"""The chaos run's arithmetic: what counts as lost, duplicated, expected or unexpected, and the
verdict that needs every run to pass."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from bench.chaos_count import count_run, repeated
from bench.chaos_report import markdown, verdict
from bench.chaos_run import RunReport


def job(ref: str, state: str = "done") -> dict[str, str]:
    return {"reference": ref, "state": state}


def customer(ref: str, email: str) -> dict[str, str]:
    return {"ExternalImportReference": ref, "EmailAddress": email}


def clean_inputs() -> tuple[dict[str, str], set[str], dict, list, dict]:
    """Three valid orders in the ERP once each, one invalid order dead-lettered."""
    accepted = {"o1": "j1", "o2": "j2", "o3": "j3", "bad": "j4"}
    jobs = {"j1": job("R1"), "j2": job("R2"), "j3": job("R3"), "j4": job("RB", "dead")}
    state = {
        "SalesOrders": [{"ExternalImportReference": r} for r in ("R1", "R2", "R3")],
        "Customers": [customer("id:c1", "c1@x.no"), customer("id:c2", "c2@x.no")],
        "Products": [{"Code": "A"}, {"Code": "B"}],
    }
    return accepted, {"bad"}, state, [{"external_id": "bad"}], jobs


def test_a_clean_run_passes_with_its_expected_dead_letter() -> None:
    counts = count_run(*clean_inputs())
    assert (counts.orders_in, counts.invalid_in, counts.documents) == (4, 1, 3)
    assert counts.dead_expected == 1 and counts.dead_unexpected == []
    assert counts.lost == [] and counts.duplicates == [] and counts.not_final == []
    assert counts.states == {"dead": 1, "done": 3}
    assert counts.passed and counts.problems() == []


def test_an_order_without_document_or_dead_letter_is_lost() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    state["SalesOrders"] = state["SalesOrders"][:2]  # R3 never arrived
    counts = count_run(accepted, invalid, state, dead, jobs)
    assert counts.lost == ["o3"] and counts.documents == 2
    assert not counts.passed
    assert counts.problems() == ["lost: 1 (o3)"]


def test_an_order_whose_job_still_runs_is_not_final_rather_than_lost() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    state["SalesOrders"] = state["SalesOrders"][:2]
    jobs["j3"]["state"] = "queued"
    jobs["j4"]["state"] = "running"
    counts = count_run(accepted, invalid, state, [], jobs)
    assert counts.lost == [] and counts.invalid_not_dead == []
    assert counts.not_final == ["bad", "o3"] and not counts.passed
    jobs.pop("j3")  # gone from the store: lost
    assert count_run(accepted, invalid, state, [], jobs).lost == ["o3"]


def test_a_reference_on_two_sales_orders_is_a_duplicate() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    state["SalesOrders"].append({"ExternalImportReference": "R2"})
    counts = count_run(accepted, invalid, state, dead, jobs)
    assert counts.duplicates == ["o2"] and counts.extra_documents == 1
    assert counts.documents == 4 and counts.lost == []
    assert not counts.passed


def test_a_dead_letter_of_a_valid_order_is_unexpected_and_not_lost() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    state["SalesOrders"] = state["SalesOrders"][:2]
    dead.append({"external_id": "o3"})
    counts = count_run(accepted, invalid, state, dead, jobs)
    assert counts.dead_unexpected == ["o3"] and counts.lost == []
    assert counts.dead_expected == 1
    assert not counts.passed


def test_an_invalid_order_that_reached_the_erp_or_was_not_dead_lettered_fails() -> None:
    accepted, invalid, state, _, jobs = clean_inputs()
    counts = count_run(accepted, invalid, state, [], jobs)
    assert counts.invalid_not_dead == ["bad"] and counts.dead_expected == 0
    assert not counts.passed
    state["SalesOrders"].append({"ExternalImportReference": "RB"})
    counts = count_run(accepted, invalid, state, [], jobs)
    assert counts.invalid_with_document == ["bad"] and counts.invalid_not_dead == []
    assert not counts.passed


def test_twin_customers_by_reference_or_by_email_and_twin_articles_fail() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    state["Customers"].append(customer("id:c1", "other@x.no"))
    state["Customers"].append(customer(None, "C2@x.no"))  # same mail, no reference
    state["Products"].append({"Code": "B"})
    counts = count_run(accepted, invalid, state, dead, jobs)
    assert counts.duplicate_customers == ["email:c2@x.no", "id:c1"]
    assert counts.duplicate_products == ["B"]
    assert not counts.passed


def test_a_job_still_running_fails_and_foreign_documents_are_noticed() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    jobs["j1"] = job("R1", "running")
    state["SalesOrders"].append({"ExternalImportReference": "SOMEONE-ELSE"})
    counts = count_run(accepted, invalid, state, dead, jobs)
    assert counts.not_final == ["o1"] and counts.foreign_documents == 1
    assert counts.documents == 3
    assert not counts.passed


def test_repeated_ignores_none_and_single_values() -> None:
    assert repeated(["a", None, "b", "a", None, "c", "b"]) == ["a", "b"]


def run_report(run: int, passed: bool) -> RunReport:
    accepted, invalid, state, dead, jobs = clean_inputs()
    if not passed:
        state["SalesOrders"] = []
    report = RunReport(run, Path("/tmp/x"))
    report.counts = count_run(accepted, invalid, state, dead, jobs)
    return report


def test_the_verdict_needs_every_run_to_pass() -> None:
    assert verdict([run_report(1, True), run_report(2, True), run_report(3, True)]) == "PASS 3/3"
    assert verdict([run_report(1, True), run_report(2, False), run_report(3, True)]) == "FAIL 2/3"
    assert verdict([]) == "FAIL 0/0"
    errored = run_report(1, True)
    errored.error = "RuntimeError: worker did not start"
    assert verdict([errored]) == "FAIL 0/1"


def test_the_report_shows_each_run_and_the_verdict() -> None:
    from bench.chaos import parse_args

    args: argparse.Namespace = parse_args(["--orders", "4", "--runs", "2"])
    text = markdown(
        args,
        [run_report(1, True), run_report(2, False)],
        datetime(2026, 12, 1, tzinfo=UTC),
        60.0,
        "python -m bench.chaos",
        "/tmp/x",
    )
    assert "## Verdict: FAIL 1/2" in text
    assert "| 1 | chaos | 4 | 3 | 0 | 0 | 0 | 0 | 1 of 1 | 0 | 0 | timeout | PASS |" in text
    assert "- run 2: lost: 3 (o1, o2, o3)" in text


def test_retried_jobs_and_recovered_drafts_are_counted_from_the_ledgers() -> None:
    accepted, invalid, state, dead, jobs = clean_inputs()
    jobs["j1"]["steps"] = [
        {"name": "upsert_customer", "attempts": 1},
        {"name": "create_draft", "attempts": 2, "result": {"recovered": True}},
    ]
    jobs["j2"]["steps"] = [{"name": "create_draft", "attempts": 3, "result": {}}]
    counts = count_run(accepted, invalid, state, dead, jobs)
    assert (counts.retried_jobs, counts.recovered_drafts) == (2, 1)
    assert counts.passed
