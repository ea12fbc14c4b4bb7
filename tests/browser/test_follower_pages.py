"""The follower pages in chromium (Playwright with Debian's chromium, conftest.py here):
the wizard's live htmx parts (the Copy Ongoing Positions preview follows the typed amount, the
stop-loss line follows the typed %), a refusal next to its field, confirm, "why this size",
Modify, Stop copying; no Content-Security-Policy violation on the way; at 390 px the tables
are cards and nothing is wider than the screen.

Figures: the lead (10,000 equity) holds 1,000 margin 5x long BTC at 50,000 (fee 2.50, equity
9,997.50); a Total Investment of 1,000 copies it as 1.00 contract, margin 100.00, fee 0.25.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.test import Client

from apps.copies.models import Copy
from apps.ledger.services import account_main
from apps.traders.services import lead_position_open
from tests.factories.trading import follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def market(live_server):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000", nickname="BrowserWhale")
    lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    return lead


def _signed_in_page(chromium_browser, live_server, user, width: int):
    """A browser page already signed in as ``user`` (the session cookie of a test client)."""
    client = Client()
    client.force_login(user)
    context = chromium_browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(10_000)
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.add_init_script(_RECORD_VIOLATIONS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def check(where: str):
        assert page.evaluate("window.__csp || []") == [], f"{where}: CSP violations"
        assert errors == [], f"{where}: console errors {errors}"

    page.check = check
    return page


def test_follower_copies_modifies_and_stops_in_the_browser(chromium_browser, live_server, market):
    from playwright.sync_api import expect

    follower = follower_make("5000")
    page = _signed_in_page(chromium_browser, live_server, follower, 1280)

    # the trader's Copy button opens the wizard
    page.goto(f"/traders/{market.pk}/")
    page.get_by_role("link", name="Copy", exact=True).click()
    expect(page.get_by_role("heading", name="Copy BrowserWhale with Smart Sync")).to_be_visible()
    page.check("wizard")

    # 50 is refused next to the field, the typed value stays
    amount = page.get_by_role("textbox", name="Total Investment")
    amount.fill("50")
    page.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
    expect(page.locator("#field-total_investment .field-error")).to_have_text(
        re.compile("The minimum Total Investment is 100.00 USDT.")
    )
    expect(amount).to_have_value("50")

    # the live preview follows the typed amount (htmx, no reload)
    amount.fill("1,000")
    page.get_by_label("Copy Ongoing Positions").check()
    preview = page.locator("#ongoing-preview")
    expect(preview).to_contain_text("What opens now with 1,000.00 USDT")
    expect(preview.locator("td[data-label=Contracts]")).to_have_text("1.00")
    expect(preview.locator("td[data-label='Margin (USDT)']")).to_have_text("100.00")
    page.check("preview")

    # step 2: 15 % of the investment, and the trigger level it means
    page.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
    page.get_by_role("textbox", name="Total Stop Loss for Trader").fill("15")
    page.get_by_label("% of the Total Investment").check()
    expect(page.locator("#stop-loss-level")).to_contain_text("PnL reaches −150.00 USDT")
    expect(page.locator("#stop-loss-level")).to_contain_text("equity falls to 850.00 USDT")
    page.get_by_role("button", name="Next: Review").click()

    # review says what happens to the money, then confirm
    expect(page.get_by_text("1,000.00 USDT moves from your main account")).to_be_visible()
    page.check("review")
    page.get_by_role("button", name="Confirm and copy BrowserWhale").dblclick()
    expect(page.get_by_role("heading", name="Copy Trade Details")).to_be_visible()
    expect(page.get_by_text("You are now copying BrowserWhale with 1,000.00 USDT.")).to_be_visible()
    assert Copy.objects.filter(follower=follower).count() == 1

    # the position with its explanation in words
    page.get_by_text("Why this size").first.click()
    expect(page.get_by_text("Target margin:")).to_be_visible()
    expect(page.get_by_text("Result: 1.00 contract at 50,000.00 USDT")).to_be_visible()
    page.check("details")

    # Modify, then Stop copying
    page.get_by_role("link", name="Settings").first.click()
    page.get_by_role("textbox", name="New Total Investment").fill("1,500")
    page.get_by_role("button", name="Modify").click()
    expect(page.get_by_text("Total Investment increased to 1,500.00 USDT")).to_be_visible()
    page.get_by_role("link", name="Stop copying…").click()
    expect(page.get_by_text("returns to your main account")).to_be_visible()
    page.get_by_role("button", name="Stop copying").click()
    expect(
        page.get_by_text(re.compile(r"You stopped copying BrowserWhale: .* returned"))
    ).to_be_visible()
    page.check("stopped")
    copy = Copy.objects.get(follower=follower)
    assert copy.status == "stopped"
    # at an unchanged price: 5,000 - 0.25 - 0.25 (open and close fees), nothing to share
    assert account_main(user=follower).balance == Decimal("4999.50")
    page.context.close()


def test_my_copies_at_390_px_are_cards(chromium_browser, live_server, market):
    from playwright.sync_api import expect

    from tests.factories.trading import copy_make

    follower = follower_make("5000")
    copy_make(market, follower=follower, investment="1000", copy_ongoing_positions=True)
    page = _signed_in_page(chromium_browser, live_server, follower, 390)
    for url in ("/copies/", f"/copies/{Copy.objects.get(follower=follower).pk}/"):
        page.goto(url)
        expect(page.locator("table.table-cards").first).to_be_visible()
        # the header row is hidden, each cell carries its label, nothing is cropped
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        label = page.evaluate(
            "getComputedStyle(document.querySelector('td[data-label]'), '::before').content"
        )
        assert label not in ("none", "normal", '""')
        page.check(url)
    page.context.close()
