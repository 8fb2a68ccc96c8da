"""The thread every worker runs for the work after the order: the invoice watch and the
delivery of its events. Apart from the sweeper, because a subscriber or an ERP that answers
slowly must not hold up the recovery of jobs."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from tasks.background import BackgroundLoop
from tasks.delivery import deliver_due
from tasks.invoicewatch import watch_due


def watched(rt: Runtime) -> bool:
    return any(conn.events is not None for conn in rt.settings.connections.values())


class AfterOrderThread(BackgroundLoop):
    name = "orderbridge-afterorder"
    failure_event = "afterorder.failed"

    client: httpx.Client | None = None  # for the subscribers' webhooks, made on the thread

    def wanted(self) -> bool:
        return watched(self.rt)

    def one_round(self) -> None:
        if self.client is None:
            self.client = httpx.Client(follow_redirects=False)
        watch_due(self.rt)
        deliver_due(self.rt, self.client)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
