"""A real headless browser for the tests: Debian's `chromium`, driven by Selenium through the
`chromedriver` of the `chromium-driver` package (the same build, so their versions match).

No browser is downloaded: a tool's own installer (`playwright install`, Selenium Manager) cannot
fetch one here, and the repo's test setup installs the Debian packages instead (`make test`).
`ORDERBRIDGE_CHROMIUM` and `ORDERBRIDGE_CHROMEDRIVER` name other binaries.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")


def _first(env: str, names: tuple[str, ...]) -> str | None:
    named = os.environ.get(env)
    if named:
        return named if Path(named).exists() else None
    return next((found for name in names if (found := shutil.which(name))), None)


def find_chromium() -> str | None:
    return _first("ORDERBRIDGE_CHROMIUM", BROWSERS)


def find_chromedriver() -> str | None:
    return _first("ORDERBRIDGE_CHROMEDRIVER", DRIVERS)


@contextmanager
def headless_chromium(timeout: float = 10) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium (its own empty profile), quit afterwards."""
    binary, driver = find_chromium(), find_chromedriver()
    if binary is None:
        raise RuntimeError("no chromium binary (apt-get install chromium chromium-driver)")
    if driver is None:
        raise RuntimeError(
            f"chromium is {binary} but no chromedriver was found (apt-get install chromium-driver)"
        )
    with tempfile.TemporaryDirectory(prefix="orderbridge-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--window-size=1280,900",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(arg)
        browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
        try:
            browser.set_page_load_timeout(timeout)
            yield browser
        finally:
            browser.quit()
