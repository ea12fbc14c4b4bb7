"""A visitor walks the public pages, signs up and finds their notifications, in chromium."""

import re

import pytest

from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def market(live_server, django_capture_on_commit_callbacks):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="AlphaWhale")
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


def test_visitor_finds_a_trader_and_sees_the_open_position(browser_page, market):
    from playwright.sync_api import expect

    page = browser_page
    # given the home page with its price board and lead traders
    page.goto("/")
    expect(page.get_by_role("heading", name="Smart Sync copy trading")).to_be_visible()
    expect(page.get_by_role("cell", name="BTC-USDT-SWAP")).to_be_visible()
    # when the visitor opens the trader directory from the nav and picks AlphaWhale
    page.get_by_role("navigation").get_by_role("link", name="Traders").click()
    expect(page.get_by_role("heading", name="Lead traders")).to_be_visible()
    page.get_by_role("link", name="AlphaWhale").click()
    # then the profile shows the open position with units, and the copier
    expect(page).to_have_url(re.compile(rf"/traders/{market.pk}/$"))
    expect(page.get_by_role("heading", name="AlphaWhale")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="BTC-USDT-SWAP")
    expect(row).to_contain_text("5x")
    expect(row).to_contain_text("1,000.00")  # margin (USDT)
    expect(page.get_by_text("USDT").first).to_be_visible()


def test_visitor_signs_up_and_sees_notifications(browser_page, live_server):
    from playwright.sync_api import expect

    page = browser_page
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    # a wrong confirmation is refused on the page, with a message
    page.get_by_label("Email").fill("newcomer@example.com")
    page.get_by_label("Password:", exact=True).fill("a-long-pass-2026")
    page.get_by_label("Password (again):", exact=True).fill("something-else-2026")
    page.get_by_role("button", name="Sign Up").click()
    expect(page.get_by_text("You must type the same password each time.")).to_be_visible()
    # then a correct form signs the visitor in (e-mail verification is optional by default)
    page.get_by_label("Password:", exact=True).fill("a-long-pass-2026")
    page.get_by_label("Password (again):", exact=True).fill("a-long-pass-2026")
    page.get_by_role("button", name="Sign Up").click()
    page.get_by_role("link", name=re.compile("Notifications")).click()
    expect(page.get_by_text("No notifications yet")).to_be_visible()
