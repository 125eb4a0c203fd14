"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium, driven by Playwright's sync API.

One browser per module (starting Chromium costs about a second); each test gets a fresh context, so
cookies and sessions never leak from one test to the next. No browser is ever downloaded: the tests
skip, saying what to install, when Debian's chromium is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.ward import Ward, make_ward

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page
    from pytest_django.live_server_helper import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
# --no-sandbox: the tests may run as root, where Chromium refuses its sandbox. The rest keeps an
# offline machine from waiting on update checks, sync or QUIC probes.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000  # a page that has not answered in 10 s is broken; fail instead of hanging


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium: apt-get install chromium")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="install the dev extras: pip install -e '.[dev]'"
    )
    # Playwright's sync API keeps an asyncio loop running in this thread, and Django's ORM refuses to
    # run beside a running loop. Nothing here is concurrent (the live server has its own thread), so it
    # is safe; the switch is on only while the browser is.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_api.sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_errors() -> list[str]:
    """What the page logged as an error or threw, filled in by the `page` fixture."""
    return []


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, browser_errors: list[str]) -> Iterator[Page]:
    """A fresh tab on the live server (relative URLs work); console errors and uncaught exceptions
    land in `browser_errors`."""
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            browser_errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_page_error(error: Error) -> None:
        browser_errors.append(f"uncaught: {error.message}")

    tab.on("console", on_console)
    tab.on("pageerror", on_page_error)
    yield tab
    context.close()


@pytest.fixture
def ward(transactional_db: None) -> Ward:
    """One clinician's team with one patient, three model-inferred scores, a questionnaire and the
    alerts they open (tests/browser/ward.py)."""
    return make_ward()
