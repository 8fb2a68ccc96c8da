"""What a chaos run left behind, counted from the ERP simulator's state: the verdict's arithmetic.

Pure functions over plain data (the orders the intake accepted, the simulator's `/_sim/state`,
the dead letters and job states read from Redis), so that the counting rules, which decide
PASS or FAIL, are unit-tested without processes (`tests/unit/test_chaos_report.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.job import FINAL_STATES

FINAL = FINAL_STATES  # the job states that end a job


@dataclass
class Counts:
    """The figures of one run. Lists hold order external ids (or ERP keys), for the evidence."""

    orders_in: int = 0  # accepted by the intake (202, or 200 for a re-POST)
    invalid_in: int = 0  # of those, made permanently invalid on purpose
    documents: int = 0  # sales orders in the ERP carrying one of our references
    duplicates: list[str] = field(default_factory=list)  # references on more than one document
    extra_documents: int = 0  # documents beyond one per reference
    # accepted, no document and no dead letter, and its job final or gone (one still running is
    # `not_final`, not lost: it may yet arrive)
    lost: list[str] = field(default_factory=list)
    dead_expected: int = 0  # dead letters of the invalid orders
    dead_unexpected: list[str] = field(default_factory=list)  # dead letters of valid orders
    invalid_with_document: list[str] = field(default_factory=list)  # should have been refused
    invalid_not_dead: list[str] = field(default_factory=list)  # refused order, no dead letter
    duplicate_customers: list[str] = field(default_factory=list)  # customer keys seen twice
    duplicate_products: list[str] = field(default_factory=list)  # article codes seen twice
    not_final: list[str] = field(default_factory=list)  # jobs still running at the end
    states: dict[str, int] = field(default_factory=dict)  # job states at the end
    foreign_documents: int = 0  # documents whose reference is none of ours
    recovered_drafts: int = 0  # create_draft found the order an earlier, lost attempt created
    retried_jobs: int = 0  # jobs with a step that took more than one attempt

    @property
    def passed(self) -> bool:
        """Nothing lost, nothing duplicated (documents, customers, articles), every job final,
        and exactly the invalid orders dead-lettered."""
        return not (
            self.lost
            or self.duplicates
            or self.duplicate_customers
            or self.duplicate_products
            or self.dead_unexpected
            or self.not_final
            or self.invalid_with_document
            or self.invalid_not_dead
            or self.foreign_documents
        )

    def problems(self) -> list[str]:
        """One line per failed rule, naming a few of the orders concerned."""

        def few(items: list[str]) -> str:
            return ", ".join(items[:5]) + (f" (+{len(items) - 5})" if len(items) > 5 else "")

        rules = [
            ("lost", self.lost),
            ("duplicated", self.duplicates),
            ("duplicate customers", self.duplicate_customers),
            ("duplicate articles", self.duplicate_products),
            ("unexpected dead letters", self.dead_unexpected),
            ("not final", self.not_final),
            ("invalid but in the ERP", self.invalid_with_document),
            ("invalid but not dead-lettered", self.invalid_not_dead),
        ]
        lines = [f"{name}: {len(items)} ({few(items)})" for name, items in rules if items]
        if self.foreign_documents:
            lines.append(f"documents with unknown references: {self.foreign_documents}")
        return lines


def repeated(values: Iterable[str | None]) -> list[str]:
    """The values that occur more than once (None ignored), sorted."""
    counts = Counter(v for v in values if v is not None)
    return sorted(v for v, n in counts.items() if n > 1)


def count_run(
    accepted: Mapping[str, str],
    invalid: set[str],
    state: Mapping[str, list[Any]],
    dead_letters: list[Mapping[str, Any]],
    jobs: Mapping[str, Mapping[str, Any]],
) -> Counts:
    """Count one run.

    accepted: external id -> job id of every order the intake accepted;
    invalid: external ids of the orders built to be refused by the ERP;
    state: the simulator's `/_sim/state` (SalesOrders, Customers, Products);
    dead_letters: the dead letters (their `external_id`);
    jobs: job id -> stored job (its `reference` and `state`).
    """
    counts = Counts(orders_in=len(accepted), invalid_in=len(invalid & set(accepted)))
    ref_of = {ext: jobs.get(job_id, {}).get("reference", ext) for ext, job_id in accepted.items()}
    ours = set(ref_of.values())
    refs = Counter(o.get("ExternalImportReference") for o in state.get("SalesOrders", []))
    counts.documents = sum(n for ref, n in refs.items() if ref in ours)
    counts.foreign_documents = sum(n for ref, n in refs.items() if ref not in ours)
    counts.duplicates = sorted(ext for ext, ref in ref_of.items() if refs.get(ref, 0) > 1)
    counts.extra_documents = sum(n - 1 for ref, n in refs.items() if ref in ours and n > 1)
    dead = {str(letter.get("external_id")) for letter in dead_letters}
    for ext in sorted(accepted):
        has_document = refs.get(ref_of[ext], 0) > 0
        job_state = str(jobs.get(accepted[ext], {}).get("state", "missing"))
        running = job_state not in {*FINAL, "missing"}
        if ext in invalid:
            if has_document:
                counts.invalid_with_document.append(ext)
            if ext in dead:
                counts.dead_expected += 1
            elif not has_document and not running:
                counts.invalid_not_dead.append(ext)
        else:
            if ext in dead:
                counts.dead_unexpected.append(ext)
            elif not has_document and not running:
                counts.lost.append(ext)
    customers = state.get("Customers", [])
    counts.duplicate_customers = sorted(
        set(repeated(c.get("ExternalImportReference") for c in customers))
        | {
            f"email:{e}"
            for e in repeated((c.get("EmailAddress") or "").lower() or None for c in customers)
        }
    )
    counts.duplicate_products = repeated(p.get("Code") for p in state.get("Products", []))
    states: Counter[str] = Counter()
    for ext, job_id in sorted(accepted.items()):
        job_state = str(jobs.get(job_id, {}).get("state", "missing"))
        states[job_state] += 1
        if job_state not in FINAL:
            counts.not_final.append(ext)
    counts.states = dict(sorted(states.items()))
    for job_id in accepted.values():
        steps = jobs.get(job_id, {}).get("steps") or []
        if any(step.get("attempts", 0) > 1 for step in steps):
            counts.retried_jobs += 1
        if any(
            step.get("name") == "create_draft" and (step.get("result") or {}).get("recovered")
            for step in steps
        ):
            counts.recovered_drafts += 1
    return counts
