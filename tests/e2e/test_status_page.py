"""The status page in a real headless Chromium: log in with the form, see a dead letter, click
Replay, see it gone and the job done; the store agrees.

Real Redis, a real worker process and the PowerOffice simulator over HTTP (`Cluster`); the browser
is Debian's `chromium` driven by Selenium (`tests/support/browser.py`). Skipped only when no
chromium binary exists.
"""

from __future__ import annotations

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.browser import find_chromium, headless_chromium
from tests.support.cluster import OPERATOR_TOKEN, Cluster, poll
from tests.support.factories import order

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="no chromium binary (Debian package "
        "`chromium`, with `chromium-driver`; `make test` installs them)",
    ),
]


def cell(browser: WebDriver, connection: str, field: str) -> str:
    """A figure's text ("" while the live refresh is replacing the table under us)."""
    try:
        found = browser.find_elements(
            By.CSS_SELECTOR, f'tr[data-connection="{connection}"] td[data-field="{field}"]'
        )
        return found[0].text if found else ""
    except StaleElementReferenceException:
        return ""


def replay_row(browser: WebDriver, *needles: str) -> bool:
    """Click Replay on the dead letter's row once it shows every needle; False (try again)
    while the live refresh replaces the row between finding and clicking."""
    try:
        row = browser.find_element(By.CSS_SELECTOR, "tr[data-dead-letter]")
        if not all(needle in row.text for needle in needles):
            return False
        row.find_element(By.CSS_SELECTOR, "button.replay").click()
        return True
    except StaleElementReferenceException:
        return False


def test_replay_a_dead_letter_by_clicking(cluster: Cluster) -> None:
    # Given an order the ERP refused once (400 on the create: a dead letter at once)
    cluster.sim.fault(match="POST /SalesOrders/Complete", mode="status", status=400, count=1)
    job_id = cluster.accept(order("ST-1001"))
    assert cluster.wait_final(job_id, 30)["state"] == "dead"
    letters, _ = cluster.store.dead_letters()
    assert [(d.job_id, d.step, d.erp_status) for d in letters] == [(job_id, "create_draft", 400)]
    reference = letters[0].reference

    with headless_chromium() as browser:
        # When the operator opens the page, gets the login form and logs in
        browser.get(f"http://127.0.0.1:{cluster.intake_port}/status")
        assert browser.find_elements(By.ID, "login") and "Dead letters" not in browser.page_source
        browser.find_element(By.ID, "token").send_keys(OPERATOR_TOKEN)
        browser.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
        poll(
            lambda: browser.find_elements(By.ID, "connections"),
            10,
            what="the page after logging in",
        )
        assert browser.current_url.endswith("/status")  # no token in the address
        assert browser.execute_script("return document.cookie") == ""  # HttpOnly

        # Then the connection shows one dead letter, and the letter its order and reason
        poll(
            lambda: cell(browser, "shop", "dead-letters") == "1",
            10,
            what="one dead letter in the figures",
        )
        # When they click Replay on its row (showing its order, step and the ERP's status)
        poll(
            lambda: replay_row(browser, reference, "create_draft", "400"),
            10,
            what="the dead letter's row, clicked",
        )

        # Then the row is gone, the job is followed to done, and the figures say so
        poll(
            lambda: not browser.find_elements(By.CSS_SELECTOR, "tr[data-dead-letter]"),
            10,
            what="the dead letter's row to go",
        )
        poll(
            lambda: browser.find_elements(
                By.CSS_SELECTOR, f'.notice[data-job="{job_id}"][data-state="done"]'
            ),
            20,
            what="the page to report the job done",
        )
        poll(
            lambda: (
                cell(browser, "shop", "done-today") == "1"
                and cell(browser, "shop", "dead-letters") == "0"
            ),
            10,
            what="the live figures to show the job done",
        )
        assert browser.find_elements(By.ID, "no-dead-letters")

    # And the store agrees: the job is done with its sales order, no dead letter is left
    job = cluster.store.load_job(job_id)
    assert job is not None and job.state == "done" and job.erp.get("order_id")
    assert cluster.store.dead_letters(limit=1)[1] == 0
