"""Risk and fees on the pages, in chromium (issue 8): a follower whose Total Stop Loss for Trader
handed a position over sees "Stopping", the handed-over position with its liquidation price and
margin level, funding and profit share; the live positions part follows a price change without
closing an open disclosure; My Copies and the lead console's earnings fit at 1280 and 390 px
(no table wider than its box, nothing wider than the screen) with no Content-Security-Policy
violation or console error.

Figures: the lead (10,000 equity) opens 1,000 margin 5x isolated long BTC at 50,000; a 1,000 copy
holds 1 contract with 100 margin: liquidation price 40,180.8137 (SPEC §4). Stop loss 50, hand
over: at 45,000 the copy's PnL is 0.01 x -5,000 - 0.25 = -50.25, so it triggers; the margin level
is then (100 - 50) / (0.01 x 45,000 x 0.0045) = 2,469.13%, and at 44,000
(100 - 60) / (0.01 x 44,000 x 0.0045) = 40 / 1.98 = 2,020.20%.
"""

from __future__ import annotations

import pytest

from apps.copies.models import Copy
from apps.positions.models import Position
from apps.traders.services import lead_position_open
from tests.browser.test_follower_pages import _signed_in_page
from tests.factories.trading import copy_make, follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)

NO_CLIPPED_TABLES = """
() => [...document.querySelectorAll('.table-wrap')]
  .filter(w => w.scrollWidth > w.clientWidth + 1)
  .map(w => w.parentElement.id || w.className)
"""


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.evaluate(NO_CLIPPED_TABLES) == [], "a table is wider than its box"


@pytest.fixture
def handed_over(live_server):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000", nickname="RiskWhale")
    follower = follower_make("1000")
    copy = copy_make(
        lead,
        follower=follower,
        investment="1000",
        total_stop_loss="50",
        stop_loss_action="hand_over",
    )
    lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="isolated",
        leverage=5,
        margin="1000",
    )
    set_price("BTC-USDT-SWAP", "45000")  # the risk pass runs on the price change
    copy.refresh_from_db()
    assert copy.is_stopping
    pos = Position.objects.get(account=copy.account)
    assert pos.handed_over
    return lead, copy, pos


@pytest.mark.parametrize("width", [1280, 390])
def test_a_stopping_copy_with_a_handed_over_position(
    chromium_browser, live_server, handed_over, width
):
    from playwright.sync_api import expect

    lead, copy, pos = handed_over
    page = _signed_in_page(chromium_browser, live_server, copy.follower, width)
    page.goto(f"/copies/{copy.pk}/")
    state = page.locator("#copy-state")
    expect(state).to_contain_text("Stopping: Total Stop Loss for Trader triggered on")
    expect(state).to_contain_text("at PnL -50.25 USDT (your stop loss: 50.00 USDT)")
    expect(state).to_contain_text("open positions are yours to close")
    expect(page.locator(f"#handed-over-{pos.pk}")).to_contain_text("Handed over to you")
    liq = page.locator("td[data-label='Liquidation price (USDT)']")
    expect(liq).to_have_text("40,180.8137")
    level = page.locator("td[data-label='Margin level']")
    expect(level).to_have_text("2,469.13%")
    _fits(page, width)
    page.check("details")

    # the live part follows the price; an open explanation stays open across the swap
    page.get_by_text("How margin level, liquidation price and funding work").click()
    set_price("BTC-USDT-SWAP", "44000")
    with page.expect_response(lambda r: "/live/positions/" in r.url, timeout=8000):
        pass
    expect(level).to_have_text("2,020.20%")
    expect(page.locator("#risk-help")).to_have_attribute("open", "")
    page.check("after the live swap")

    # its close says the copy stops and what returns
    page.locator(f"#handed-over-{pos.pk} a").click()
    expect(page.get_by_text("It is the last open position of this copy")).to_be_visible()
    _fits(page, width)
    page.check("close confirmation")

    page.goto("/copies/")
    expect(page.locator(f"#copy-{copy.pk}-state")).to_contain_text("Stopping:")
    _fits(page, width)
    page.check("my copies")
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_lead_console_earnings_fit(chromium_browser, live_server, handed_over, width):
    from playwright.sync_api import expect

    lead, copy, _ = handed_over
    for _ in range(2):
        copy_make(lead, investment="200")
    page = _signed_in_page(chromium_browser, live_server, lead.user, width)
    page.goto("/lead/")
    earnings = page.locator("#earnings")
    expect(earnings).to_contain_text("Earned in total")
    expect(page.locator(f"#earning-{copy.pk}")).to_contain_text("Stopping")
    expect(page.locator("td[data-label='Liquidation price (USDT)']")).to_have_text("40,180.8137")
    assert Copy.objects.filter(lead=lead).count() == 3
    _fits(page, width)
    page.check("console")
    page.context.close()
