"""Spot Smart Sync in chromium (Playwright with Debian's chromium, conftest.py here): a follower
copies a lead who leads futures and spot through the wizard, choosing Spot and Buy Existing Assets
(the live preview shows the lead's holding), and Copy Trade Details shows the copied holding; the
lead's console quotes a spot buy as the lead types and buys. At 1280 and 390 px; any
Content-Security-Policy violation, console error or page wider than the screen fails.

Figures by hand (SPEC §6; BTC-USDT lot 1e-8, taker fee 0.1%, BTC at 50,000 throughout):
- the lead's spot account: 10,000, then a buy of 1,000 USDT of BTC: 0.02 BTC, fee 1 -> cash
  8,999, equity 9,999; the holding's weight is 1,000 / 9,999.
- Buy Existing Assets with 1,000: 1,000 x 1,000 / 9,999 = 100.0100.. USDT -> 0.0020002 BTC
  (lot 1e-8), cost 100.01 USDT, fee 0.10001 USDT; the copy keeps 899.88999 cash.
- the follower's main account: 5,000 - 1,000 = 4,000.
- the lead's quote for 500 USDT: 500 / 50,000 = 0.01 BTC, fee 0.50 USDT on top.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.test import Client

from apps.copies.models import Copy
from apps.ledger.services import account_main, deposit_credit
from apps.positions.models import Position
from apps.traders.services import lead_spot_buy, lead_transfer
from tests.factories.trading import follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def spot_lead(live_server):
    for name, price in (("BTC-USDT", "50000"), ("ETH-USDT", "3000"), ("SOL-USDT", "150")):
        set_price(name, price)
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000", nickname="SpotWhale")  # leads futures too
    deposit_credit(user=lead.user, amount=Decimal("10000"), key="browser-spot-lead")
    lead_transfer(lead=lead, market="spot", direction="in", amount="10000")
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    return lead


def _signed_in_page(chromium_browser, live_server, user, width: int):
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
        width_now = page.evaluate("document.documentElement.scrollWidth")
        assert width_now <= width, f"{where}: the page is {width_now} px wide at {width} px"

    page.check = check
    return page


@pytest.mark.parametrize("width", [1280, 390])
def test_a_follower_copies_a_spot_trader_with_buy_existing_assets(
    chromium_browser, live_server, spot_lead, width
):
    from playwright.sync_api import expect

    follower = follower_make("5000")
    page = _signed_in_page(chromium_browser, live_server, follower, width)

    # the lead leads both markets: the wizard asks which one first
    page.goto(f"/copies/new/?trader={spot_lead.pk}")
    expect(page.get_by_role("heading", name="Futures or Spot")).to_be_visible()
    page.check("market choice")
    page.get_by_role("radio", name="Spot").check()
    page.get_by_role("button", name="Next: Total Investment").click()
    expect(page.get_by_role("heading", name="Total Investment")).to_be_visible()

    # Buy Existing Assets: the live preview shows the lead's holding and what 1,000 buys
    page.get_by_role("textbox", name="Total Investment").fill("1,000")
    page.get_by_label("Buy Existing Assets").check()
    preview = page.locator("#ongoing-preview")
    expect(preview).to_contain_text("What is bought now with 1,000.00 USDT")
    expect(preview.locator("td[data-label='Lead holds']")).to_contain_text("0.02 BTC")
    expect(preview.locator("td[data-label='You buy']")).to_have_text("0.0020002 BTC")
    expect(preview.locator("td[data-label='Amount (USDT)']")).to_have_text("100.01")
    preview.get_by_text("Why this size").click()
    expect(preview.get_by_text("Weight: this holding is about 10.001%")).to_be_visible()
    page.check("preview")

    # no stop loss, then the review says what happens to the money
    page.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
    expect(page.get_by_text("Sell all holdings at market")).to_be_visible()
    page.get_by_role("button", name="Next: Review").click()
    expect(page.get_by_text("1,000.00 USDT moves from your main account")).to_be_visible()
    expect(page.get_by_text("every holding is sold at market", exact=False)).to_be_visible()
    page.check("review")
    page.get_by_role("button", name="Confirm and copy SpotWhale").dblclick()

    # Copy Trade Details shows the copied holding
    expect(page.get_by_role("heading", name="Copy Trade Details")).to_be_visible()
    expect(page.get_by_text("You are now copying SpotWhale's spot trades")).to_be_visible()
    holdings = page.locator("#open-positions")
    expect(holdings.locator("td[data-label='Quantity']")).to_have_text("0.0020002 BTC")
    expect(holdings.locator("td[data-label='Value (USDT)']")).to_have_text("100.01")
    holdings.get_by_text("Why this size").click()
    expect(holdings.get_by_text("Buy Existing Assets, when the copy started")).to_be_visible()
    page.check("details")

    copy = Copy.objects.get(follower=follower)
    assert copy.market == "spot" and copy.copy_ongoing_positions
    held = Position.objects.get(account_id=copy.account_id)
    assert (held.size, held.margin, held.fees) == (
        Decimal("0.0020002"),
        Decimal("100.01"),
        Decimal("0.10001"),
    )
    assert account_main(user=follower).balance == Decimal("4000")
    page.context.close()


def test_the_lead_quotes_and_buys_spot_from_the_console(chromium_browser, live_server, spot_lead):
    from playwright.sync_api import expect

    page = _signed_in_page(chromium_browser, live_server, spot_lead.user, 1280)
    page.goto("/lead/")
    expect(page.get_by_role("heading", name="Lead spot account")).to_be_visible()
    page.get_by_label("Asset").select_option("BTC-USDT")
    page.get_by_role("textbox", name="Amount to spend").fill("500")
    quote = page.locator("#spot-quote")
    expect(quote).to_contain_text("0.01 BTC")  # refreshed by htmx as the lead typed
    expect(quote).to_contain_text("0.50 USDT")
    page.check("quote")
    page.get_by_role("button", name="Buy", exact=True).click()
    expect(page.get_by_text("Bought 0.01 BTC at 50,000.00 USDT, fee 0.50 USDT.")).to_be_visible()
    expect(page.locator("#holdings td[data-label='Quantity']")).to_have_text("0.03 BTC")
    page.check("bought")
    page.context.close()
