"""The pages run under the Content-Security-Policy in chromium: no violation is reported while a
visitor, a signed-in user and an operator use them, and the pieces that depend on script work
(Swagger UI renders its operations, htmx's "Mark all as read" swaps the list).

A violation shows up twice: as a ``securitypolicyviolation`` event (recorded by an init script,
which runs outside the page's policy) and as a console message ("Refused to ... Content Security
Policy", or static/js/app.js's "CSP: htmx needed eval"); either fails the test, and so does an
uncaught script error (a script the policy broke).
"""

from __future__ import annotations

import re

import pytest

from apps.accounts.services import notification_create
from apps.traders.services import lead_position_open
from tests.factories.accounts import PASSWORD, StaffFactory, UserFactory
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


_CSP_MESSAGE = re.compile(r"Content Security Policy|Refused to|\bCSP\b")


@pytest.fixture
def watched(browser_page):
    """The page, recording CSP violations and script errors; ``check()`` asserts none."""
    page = browser_page
    errors: list[str] = []
    page.add_init_script(_RECORD_VIOLATIONS)
    page.on("console", lambda m: errors.append(m.text) if _CSP_MESSAGE.search(m.text) else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def check(where: str):
        violations = page.evaluate("window.__csp || []")
        assert violations == [], f"{where}: CSP violations {violations}"
        assert errors == [], f"{where}: console errors {errors}"

    page.check = check
    return page


@pytest.fixture
def market(live_server):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="CspWhale")
    copy_make(lead, investment="1000")
    lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    return lead


def test_public_pages_run_under_the_policy(watched, market):
    from playwright.sync_api import expect

    page = watched
    page.goto("/")
    expect(page.get_by_role("heading", name="Smart Sync copy trading")).to_be_visible()
    page.check("home")
    page.goto("/traders/")
    expect(page.get_by_role("link", name="CspWhale")).to_be_visible()
    page.check("/traders/")
    page.get_by_role("link", name="CspWhale").click()
    expect(page).to_have_url(re.compile(rf"/traders/{market.pk}/$"))
    expect(page.get_by_role("row").filter(has_text="BTC-USDT-SWAP")).to_be_visible()
    page.check("trader profile")


def test_api_docs_render_their_operations_under_the_policy(watched):
    from playwright.sync_api import expect

    page = watched
    page.goto("/api/docs/")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    expect(page.get_by_text("Smart Sync copy trading API").first).to_be_visible()
    # open one operation: its parameters and responses render too
    page.locator(".opblock-summary").filter(has_text="/api/v1/copies/").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    expect(page.locator(".responses-wrapper").first).to_be_visible()
    page.check("/api/docs/")


def test_signed_in_pages_and_htmx_run_under_the_policy(watched, live_server):
    from playwright.sync_api import expect

    page = watched
    user = UserFactory(email="csp-reader@example.com")
    notification_create(user=user, kind="info", message="Read me under the policy")
    # sign in through the allauth form (its CSRF token and redirect included)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.goto("/notifications/")
    expect(page.get_by_text("Read me under the policy")).to_be_visible()
    expect(page.get_by_role("heading", name="1 unread")).to_be_visible()
    # htmx posts with the CSRF header and swaps the list in place
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("heading", name="All caught up")).to_be_visible()
    expect(page.locator("#nav-unread")).to_be_hidden()
    page.check("/notifications/")


def test_admin_login_runs_under_the_policy(watched, live_server):
    from playwright.sync_api import expect

    page = watched
    staff = StaffFactory(email="csp-admin@example.com", is_superuser=True)
    page.goto("/admin/login/")
    page.check("/admin/login/")
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Operations")).to_be_visible()
    page.check("/admin/")
    # a list with its filters and actions, and a change form with its widgets
    page.goto("/admin/accounts/user/")
    expect(page.get_by_role("link", name=staff.email)).to_be_visible()
    page.check("/admin/accounts/user/")
    page.get_by_role("link", name=staff.email).click()
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    page.check("/admin/accounts/user/{id}/change/")
