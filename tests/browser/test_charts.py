"""The vendored chart library under the Content-Security-Policy, in chromium: the home page's
price chart (templates/includes/chart.html + static/js/charts.js) draws its canvas from the
candles API, switches instrument, is drawn again when htmx swaps it in, keeps a text
alternative, fits 1280 and 390 px wide, and causes no CSP violation and no console error.

Screenshots land in tests/screenshots/ (charts-1280.png, charts-390.png) to be looked at.
"""

from __future__ import annotations

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.market.candles import candles_aggregate
from apps.market.models import PriceTick
from tests.browser.conftest import SCREENSHOTS
from tests.factories.market import instrument
from tests.factories.trading import set_price

pytestmark = pytest.mark.django_db(transaction=True)

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
BASES = {"BTC-USDT-SWAP": 60000, "ETH-USDT-SWAP": 3000, "SOL-USDT-SWAP": 150}


@pytest.fixture
def price_history(live_server):
    """72 hours of ticks every 10 minutes for BTC, ETH and SOL (a smooth wave with a little
    noise, so the hourly candles have bodies and wicks), aggregated into candles."""
    now = timezone.now().replace(second=0, microsecond=0)
    rows = []
    for name, base in BASES.items():
        inst = instrument(name)
        for i in range(72 * 6):
            wave = 0.03 * math.sin(i / 40) + 0.004 * math.sin(i * 1.7) + 0.0001 * i
            price = Decimal(str(round(base * (1 + wave), 2)))
            at = now - timedelta(minutes=10 * (72 * 6 - i))
            rows.append(PriceTick(instrument=inst, price=price, source="seed", created_at=at))
        set_price(name, str(base))
    PriceTick.objects.bulk_create(rows)
    candles_aggregate()


@pytest.fixture
def watched(browser_page):
    page = browser_page
    errors: list[str] = []
    page.add_init_script(_RECORD_VIOLATIONS)
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def check(where: str):
        violations = page.evaluate("window.__csp || []")
        assert violations == [], f"{where}: CSP violations {violations}"
        assert errors == [], f"{where}: console errors {errors}"

    page.check = check
    return page


def _chart_drawn(page, selector="#price-chart"):
    from playwright.sync_api import expect

    expect(page.locator(f"{selector} canvas").first).to_be_attached()
    expect(page.locator(selector)).to_have_attribute("data-chart-state", "ready")


def test_home_price_chart_draws_under_the_policy(watched, price_history):
    from playwright.sync_api import expect

    page = watched
    page.goto("/")
    _chart_drawn(page)
    chart = page.locator("#price-chart")
    expect(chart).to_have_attribute("role", "img")
    expect(chart).to_have_attribute("aria-label", "BTC-USDT-SWAP price chart, 1-hour candles")
    # the visible text alternative was written from the data
    summary = page.locator("#price-chart-summary")
    expect(summary).to_contain_text("BTC-USDT-SWAP price chart, 1-hour candles from ")
    expect(summary).to_contain_text("high ")
    expect(page.get_by_role("link", name="Data (JSON)")).to_have_attribute(
        "href", "/api/v1/prices/BTC-USDT-SWAP/candles/?interval=1h&limit=72"
    )
    expect(
        page.get_by_role("link", name="Charts by TradingView Lightweight Charts™")
    ).to_be_visible()
    # the canvas fills the card's width and the box's height
    box = chart.bounding_box()
    canvas = page.locator("#price-chart canvas").first.bounding_box()
    assert box["height"] == pytest.approx(260, abs=2) and canvas["width"] > 0.5 * box["width"]
    page.locator("#price-board").screenshot(path=str(_shot("charts-1280.png")))
    page.check("home at 1280 px")

    # switch to SOL: the chart fetches SOL's candles and says so
    page.get_by_role("button", name="SOL").click()
    expect(page.get_by_role("button", name="SOL")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="BTC")).to_have_attribute("aria-pressed", "false")
    expect(summary).to_contain_text("SOL-USDT-SWAP price chart")
    _chart_drawn(page)
    expect(page.get_by_role("link", name="Data (JSON)")).to_have_attribute(
        "href", "/api/v1/prices/SOL-USDT-SWAP/candles/?interval=1h&limit=72"
    )
    page.check("home after switching to SOL")


def test_chart_is_drawn_again_when_htmx_swaps_it_in(watched, price_history):
    from playwright.sync_api import expect

    page = watched
    page.goto("/")
    _chart_drawn(page)
    page.evaluate("document.getElementById('price-chart').dataset.old = 'yes'")
    # an htmx swap of the whole price card (as a live refresh of it would do)
    page.evaluate(
        "htmx.ajax('GET', '/', {target: '#price-board', select: '#price-board', swap: 'outerHTML'})"
    )
    fresh = page.locator("#price-chart:not([data-old])")
    expect(fresh).to_have_count(1)
    _chart_drawn(page, "#price-chart:not([data-old])")
    assert page.locator("#price-chart").count() == 1
    assert page.locator(".chart-credit").count() == 1
    page.check("home after an htmx swap")


def test_home_price_chart_fits_a_phone(watched, price_history):
    page = watched
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    _chart_drawn(page)
    box = page.locator("#price-chart").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert box["height"] == pytest.approx(220, abs=2)
    figure = page.locator(".chart-figure").bounding_box()
    assert figure["x"] + figure["width"] <= 390
    page.locator("#price-board").screenshot(path=str(_shot("charts-390.png")))
    page.check("home at 390 px")


def test_a_chart_without_history_says_so(watched, live_server):
    from playwright.sync_api import expect

    page = watched
    set_price("BTC-USDT-SWAP", "60000")  # a price, but no candle yet
    PriceTick.objects.all().delete()
    page.goto("/")
    expect(page.locator("#price-chart")).to_have_attribute("data-chart-state", "empty")
    expect(page.locator("#price-chart-summary")).to_have_text(
        "BTC-USDT-SWAP price chart, 1-hour candles: no history yet."
    )
    page.check("home without price history")


def _shot(name: str):
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS / name
