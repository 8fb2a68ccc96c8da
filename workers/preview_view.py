"""A dry run's report for a person at a terminal: per step what would be found or sent, the
request bodies, the ERP's amounts beside the shop's, refusals and what the ERP will not get."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.preview import Preview

VERDICTS = {
    "would_send": "[green]would be sent[/green]",
    "would_refuse": "[red]would be refused[/red]",
    "duplicate": "[yellow]already in the ERP: would be recorded as a duplicate[/yellow]",
}


def show_preview(console: Console, report: Preview) -> None:
    console.print(
        f"{escape(report.connection)} ({report.erp}) {escape(report.reference)}: "
        f"{VERDICTS[report.verdict]}; nothing was written to the ERP "
        f"({report.reads} read request{'' if report.reads == 1 else 's'})"
    )
    for step in report.steps:
        detail = ", ".join(f"{k}={v}" for k, v in step.detail.items())
        console.print(f"[bold]{step.step}[/bold]: {step.outcome} {escape(detail)}")
        for write in step.writes:
            target = write.path + (f"?{write.query}" if write.query else "")
            console.print(f"  {write.method} {escape(target)} → {write.status}")
            console.print(escape(json.dumps(write.body, indent=2, ensure_ascii=False)))
    for refusal in report.refusals:
        where = f"{refusal.step}" + (f" {refusal.field}" if refusal.field else "")
        console.print(f"[red]refused at {escape(where)}: {escape(refusal.message)}[/red]")
    if report.shop_amounts or report.erp_amounts:
        table = Table("amount", "shop", "ERP (predicted)")
        for key in sorted({*report.shop_amounts, *report.erp_amounts}):
            table.add_row(key, report.shop_amounts.get(key, ""), report.erp_amounts.get(key, ""))
        console.print(table)
    for dropped in report.dropped:
        console.print(
            f"[yellow]not sent: {escape(dropped.field)}: {escape(dropped.reason)}[/yellow]"
        )
