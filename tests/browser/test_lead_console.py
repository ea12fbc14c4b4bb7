"""The lead console in chromium, under the Content-Security-Policy: the quote follows what the
lead types (htmx), a refusal swaps back next to its field, an open shows up in the positions,
a partial close works from the position page, and the wallet and notifications pages show
the result. No CSP violation or script error on the way.

(Do not take element screenshots, ``locator.screenshot()``, in a CSP test: Playwright puts
``style`` attributes on the elements, and htmx's settling then copies them into the swapped
content, which the policy reports as inline styles.)"""

from __future__ import annotations

import re

import pytest

from apps.positions.models import Position
from tests.browser.test_csp import watched  # noqa: F401 (fixture)
from tests.factories.accounts import PASSWORD
from tests.factories.trading import lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lead(live_server):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="BrowserWhale")
    lead.user.set_password(PASSWORD)
    lead.user.save()
    return lead


def _login(page, email):
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/$"))


@pytest.mark.parametrize("width", [1280, 390])
def test_a_lead_trades_from_the_console(watched, lead, width):  # noqa: F811
    from playwright.sync_api import expect

    page = watched
    page.set_viewport_size({"width": width, "height": 900})
    _login(page, lead.user.email)
    page.goto("/lead/")
    expect(page.get_by_role("heading", name="Lead console")).to_be_visible()
    quote = page.locator("#open-quote")
    # the quote follows the typed margin: too small, then 1 contract
    page.get_by_label("Margin", exact=True).fill("0.5")
    expect(quote).to_contain_text("Margin too small: the minimum size 0.01 contracts needs 1.00")
    page.get_by_label("Margin", exact=True).fill("100")
    expect(quote).to_contain_text("1.00 contracts")
    expect(quote).to_contain_text("0.25 USDT")
    # a refusal comes back next to the field, the typed value kept
    page.get_by_label("Margin", exact=True).fill("20000")
    page.get_by_role("button", name="Open position").click()
    expect(page.locator("#field-margin .field-error")).to_contain_text("exceeds the 10,000.00")
    expect(page.get_by_label("Margin", exact=True)).to_have_value("20000")
    # then the open
    page.get_by_label("Margin", exact=True).fill("100")
    page.get_by_role("button", name="Open position").click()
    expect(page.locator("#messages")).to_contain_text("Opened BTC-USDT-SWAP long 5x cross")
    expect(page.locator("#positions")).to_contain_text("BTC-USDT-SWAP")
    page.check("after the open")
    # close half from the position page
    page.locator("#positions").get_by_role("link", name=re.compile("Manage")).click()
    page.get_by_label("Percentage to close").fill("150")
    page.locator("#close-form").get_by_role("button", name="Close", exact=True).click()
    expect(page.locator("#field-percent .field-error")).to_contain_text("at most 100")
    page.get_by_role("button", name="50%").click()
    expect(page.locator("#messages")).to_contain_text("Closed 50% of your BTC-USDT-SWAP position")
    assert Position.objects.get(account_id=lead.futures_account_id).size == 0.5
    page.check("after the close")
    # the wallet and the notifications render too
    page.goto("/wallet/")
    expect(page.get_by_role("heading", name="Movements")).to_be_visible()
    expect(page.locator("#statement")).to_contain_text("Realized PnL")
    page.goto("/notifications/")
    expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    page.check("wallet and notifications")


def test_the_quote_shows_the_last_typed_margin_when_an_earlier_quote_is_slow(watched, lead):  # noqa: F811
    """A quote still in flight when the lead types again must not win: the typed margin's quote
    shows at once, not at the next 5 s refresh. The first quote answer is held 1.5 s; without
    hx-sync="this:replace" the second request waited behind it and was dropped when the first
    answer swapped the quote out, so "100" kept showing the quote for 40."""
    import threading

    from playwright.sync_api import expect

    page = watched
    _login(page, lead.user.email)
    page.goto("/lead/")
    held = threading.Event()

    def hold_first_quote(route):
        if not held.is_set():
            held.set()
            page.wait_for_timeout(1500)
        route.continue_()

    page.route(re.compile(r"/lead/quote/"), hold_first_quote)
    quote = page.locator("#open-quote")
    page.get_by_label("Margin", exact=True).fill("40")
    page.wait_for_timeout(600)  # past the 400 ms debounce: the held request is in flight
    page.get_by_label("Margin", exact=True).fill("100")
    # 100 USDT x 5 / 50,000 = 0.01 BTC = 1.00 contract (0.01 BTC each), fee 0.25 USDT;
    # 40 USDT would be 0.40 contracts. Well before the 5 s refresh:
    expect(quote).to_contain_text("1.00 contracts", timeout=3_000)
    expect(quote).not_to_contain_text("0.40 contracts")
    # let the held handler finish here, not inside the next test's browser
    page.unroute_all(behavior="wait")
