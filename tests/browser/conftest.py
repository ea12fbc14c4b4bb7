"""Browser tests: Playwright (sync API) driving Debian's chromium against pytest-django's live_server.

- ``browser_page``: a fresh browser context per test, ``base_url`` = the live server, so tests
  write ``page.goto("/admin/login/")``. On failure a screenshot lands in tests/screenshots/.
- chromium is /usr/bin/chromium (``playwright install`` cannot download browsers here). Without
  it the tests skip, unless REQUIRE_SERVICES=1 (CI), where they fail.
- Tests are transactional (live_server): rows created by data migrations (instruments) may have
  been flushed by an earlier test; create what a test needs with tests/factories (e.g.
  ``tests.factories.market.instrument(name)``). serialized_rollback is not used: it conflicts
  with the content types that post_migrate recreates after a flush.
- Playwright's sync API runs an event loop in the test thread, so Django's async-safety guard
  must be relaxed for the ORM calls tests make (DJANGO_ALLOW_ASYNC_UNSAFE).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import missing_service

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"


def pytest_collection_modifyitems(items):
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def chromium_browser():
    if not os.path.exists(CHROMIUM):
        missing_service(f"chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(request, chromium_browser, live_server):
    context = chromium_browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        SCREENSHOTS.mkdir(exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        page.screenshot(path=str(SCREENSHOTS / f"FAILED-{name}.png"), full_page=True)
    context.close()
