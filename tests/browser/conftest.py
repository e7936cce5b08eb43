"""The simulator's page in a real browser: Debian's Chromium driven by Playwright (sync API), against
the end-to-end harness (live server, in-process Celery worker, real signed webhooks).

There is no skip: without Chromium (/usr/bin/chromium, or CHROMIUM_PATH) these tests fail, because
the page is then untested.
"""

from collections.abc import Iterator

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scripts.chromium import launch

# The e2e fixtures, imported so that pytest sees them here too.
from tests.e2e.conftest import WAIT_SECONDS, e2e_api, funded_org, ledger_is_consistent, money_path

__all__ = ["e2e_api", "funded_org", "ledger_is_consistent", "money_path"]

BANK_PAGE = "/fake-bank/"


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Browser]:
    """A headless Chromium for one test.

    Playwright's sync API runs an asyncio event loop in this (the test's) thread for as long as it
    is started, and Django refuses ORM calls from a thread with a running loop
    (SynchronousOnlyOperation), although the test's own queries are plain blocking calls that never
    run inside the loop. DJANGO_ALLOW_ASYNC_UNSAFE lifts that check for tests only, and only while
    this fixture lives: monkeypatch sets it before Playwright starts and removes it after Playwright
    has stopped, so no other test in the session runs without the check.
    """
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
            # While Playwright runs, asgiref sees a running loop in this thread and Django keeps the
            # thread's database connections in a context-local store, apart from the ones
            # pytest-django closes. Close them before the loop stops, or they outlive the test and
            # block dropping the test database.
            connections.close_all()


@pytest.fixture
def bank_page(browser: Browser, money_path: str) -> Iterator[Page]:
    """The simulator's page, open on the live server."""
    context = browser.new_context(base_url=money_path, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(WAIT_SECONDS * 1000)
    expect.set_options(timeout=WAIT_SECONDS * 1000)
    page.goto(BANK_PAGE)
    try:
        yield page
    finally:
        context.close()
