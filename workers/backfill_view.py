"""`orderbridge backfill` on a terminal: the period from the command line, a progress bar while
it runs (how much of the period is done, with the counts so far), and the summary after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from schemas.backfill import BackfillProgress

STEPS = 1000  # the bar's resolution: thousandths of the period


def moment(text: str) -> datetime:
    """`2026-11-01` (midnight UTC) or an ISO time (`2026-11-01T06:00:00+01:00`; UTC when it has
    no offset), as an aware datetime. Raises ValueError for anything else."""
    text = text.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def counts(view: BackfillProgress) -> str:
    s = view.summary
    return f"found {s.found}, new {s.new}, known {s.known}, refused {s.refused}"


class Bar:
    """A rich progress bar fed with the backfill's progress after each page."""

    def __init__(self, console: Console, title: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task(escape(title), total=STEPS)
        self.title = title

    def __enter__(self) -> Bar:
        self.progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.progress.stop()

    def show(self, view: BackfillProgress) -> None:
        self.progress.update(
            self.task,
            completed=round(view.done_fraction * STEPS),
            description=escape(f"{self.title}: {counts(view)}"),
        )


def show_summary(console: Console, view: BackfillProgress) -> None:
    mode = "dry run" if view.dry_run else "backfill"
    table = Table(
        "", "orders", title=f"{mode} {view.id} of {view.connection}: {view.state}", min_width=40
    )
    s = view.summary
    for label, value in (("found", s.found), ("new", s.new), ("already known", s.known)):
        table.add_row(label, str(value))
    table.add_row("refused", str(s.refused))
    for reason, count in s.by_reason.items():
        table.add_row(f"  {escape(reason)}", str(count))
    for verdict, count in s.by_verdict.items():
        table.add_row(f"verdict {escape(verdict)}", str(count))
    console.print(table)
    console.print(
        f"period {view.since.isoformat()} to {view.until.isoformat()} (exclusive), "
        f"{view.pages} page(s)",
        markup=False,
    )
    if view.error:
        console.print(f"stopped: {view.error}", style="red", markup=False)
        console.print("run the same command again to continue where it stopped", markup=False)
