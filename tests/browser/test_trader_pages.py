"""The trader pages in chromium under the Content-Security-Policy (issue 9's "Done when"): the
directory sorted and filtered (htmx swaps, the URL follows), a profile whose daily chart is
drawn and switched, its period switch, and a simulation run from the profile's form with its
equity chart beside the lead's; at 1280 and 390 px, no CSP violation, no console error, no page
wider than the screen. Screenshots land in tests/screenshots/ (traders-*.png) to be looked at.

The world trades over the last three UTC days through the real services (the clock set per
step, as tests/stats/conftest.at does), then the nightly snapshots and stats run, so the
profile has stats and a daily series and the simulator finds the lead's events in its period.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from apps.market.candles import candles_aggregate
from apps.stats.services import snapshots_take, trader_stats_refresh
from apps.traders.services import lead_position_close, lead_position_open
from tests.browser.conftest import SCREENSHOTS
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}:${e.columnNumber} ${e.sample}`);
});
"""


@contextmanager
def clock(moment: datetime):
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture
def world(live_server):
    """Three days ago Alpha (20,000) is copied with 1,000, opens BTC long 5x with 1,000 margin
    at 50,000 and the next day closes it at 51,000 (+100 before fees); yesterday it opens 3
    USDT at 2x, too small for the copy (a miss). Bravo does nothing; Delta is full."""
    today = timezone.now().date()
    day = [datetime.combine(today - timedelta(days=n), time(0), tzinfo=UTC) for n in (3, 2, 1)]
    with clock(day[0] + timedelta(hours=9)):
        set_price("BTC-USDT-SWAP", "50000")
        alpha = lead_make(nickname="Alpha", equity="20000")
        bravo = lead_make(nickname="Bravo")
        delta = lead_make(nickname="Delta", max_copiers=1)
        copy_make(alpha, investment="1000")
        copy_make(delta, investment="500")
    with clock(day[0] + timedelta(hours=12)):
        p = lead_position_open(
            lead=alpha, instrument="BTC-USDT-SWAP", side="long", margin_mode="cross",
            leverage=5, margin="1000",
        )  # fmt: skip
    with clock(day[1] + timedelta(hours=12)):
        set_price("BTC-USDT-SWAP", "51000")
    with clock(day[1] + timedelta(hours=13)):
        lead_position_close(lead=alpha, position=p.pk, fraction="1")
    with clock(day[2] + timedelta(hours=10)):
        lead_position_open(
            lead=alpha, instrument="BTC-USDT-SWAP", side="long", margin_mode="isolated",
            leverage=2, margin="3",
        )  # fmt: skip
    for d in day:
        snapshots_take(day=d.date())
    trader_stats_refresh(as_of=day[2].date())
    candles_aggregate()
    return {"alpha": alpha, "bravo": bravo, "delta": delta}


@pytest.fixture
def watched(chromium_browser, live_server, request):
    pages = []

    def open_page(width: int):
        context = chromium_browser.new_context(
            base_url=live_server.url, viewport={"width": width, "height": 900}
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors: list[str] = []
        page.add_init_script(_RECORD_VIOLATIONS)
        page.on(
            "console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

        def check(where: str):
            violations = page.evaluate("window.__csp || []")
            assert violations == [], f"{where}: CSP violations {violations}"
            assert errors == [], f"{where}: console errors {errors}"
            width_now = page.evaluate("document.documentElement.scrollWidth")
            assert width_now <= width, f"{where}: the page is {width_now} px wide"

        page.check = check
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "FAILED-trader-pages.png"), full_page=True)
        page.context.close()


def _names(page) -> list[str]:
    return page.locator("#directory tbody td.trader-cell strong").all_inner_texts()


def _chart_ready(page, selector: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(f"{selector} canvas").first).to_be_attached()
    expect(page.locator(selector)).to_have_attribute("data-chart-state", "ready")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_directory_sorts_and_filters(watched, world, width):
    from playwright.sync_api import expect

    page = watched(width)
    page.goto("/traders/")
    expect(page.locator("#directory")).to_contain_text("3 lead traders")
    assert _names(page) == ["Alpha", "Bravo", "Delta"]  # best 30-day ROI first
    if width > 600:  # the column header sorts (below 600 px the table is cards)
        page.locator("th").filter(has_text="ROI").get_by_role("link").click()
    else:  # the Sort by select does it on a phone
        page.get_by_label("Sort by").select_option("roi_30d")
    expect(page).to_have_url(re.compile(r"ordering=roi_30d"))
    expect(page.locator("#directory tbody tr").first).to_contain_text("Bravo")
    page.get_by_label("Only traders with room to copy").check()
    expect(page.locator("#directory")).not_to_contain_text("Delta")
    page.get_by_label("Search by nickname").fill("alp")
    expect(page.locator("#directory h2")).to_contain_text("1 lead trader matching")
    assert _names(page) == ["Alpha"]
    expect(page).to_have_url(re.compile(r"q=alp"))
    page.screenshot(
        path=str(SCREENSHOTS / f"traders-directory-{width}.png"), full_page=True, caret="initial"
    )
    page.check("directory")


@pytest.mark.parametrize("width", [1280, 390])
def test_a_profile_draws_its_chart_and_runs_a_simulation(watched, world, width):
    from playwright.sync_api import expect

    page = watched(width)
    alpha = world["alpha"]
    page.goto(f"/traders/{alpha.pk}/")
    expect(page.get_by_role("heading", name="Performance")).to_be_visible()
    _chart_ready(page, "#trader-chart")
    _chart_ready(page, "#price-chart")
    # the chart's text alternative was filled in from the data (three days of ROI)
    expect(page.locator("#trader-chart-summary")).to_contain_text("ROI since the period's start")
    # switch the chart to equity, then the period (htmx swaps the stats part, the URL follows)
    page.get_by_role("button", name="Equity").click()
    expect(page.locator("#trader-chart")).to_have_attribute("data-value-field", "equity_usdt")
    _chart_ready(page, "#trader-chart")
    page.locator("#profile-stats").get_by_role("link", name="7 days").click()
    expect(page).to_have_url(re.compile(r"period=7d"))
    expect(page.locator("#profile-stats")).to_contain_text("7 days to the end of")
    _chart_ready(page, "#trader-chart")
    # what would I have made: 1,000 over 7 days
    page.get_by_role("textbox", name="Total Investment").fill("1,000")
    page.get_by_label("7 days", exact=True).check()
    page.get_by_role("button", name="Replay").click()
    result = page.locator(".sim-result")
    expect(result).to_contain_text("Copying Alpha with 1,000.00 USDT over the last 7 days")
    expect(result).to_contain_text("would have made")
    expect(result).to_contain_text("below minimum size")
    expect(result).to_contain_text("not a promise")
    _chart_ready(page, "#simulation-chart")
    _chart_ready(page, "#simulation-lead-chart")
    # caret="initial": hiding the caret leaves style="" on the inputs, which htmx's settle
    # would copy onto the next form (a CSP violation no person's browser would see)
    page.screenshot(
        path=str(SCREENSHOTS / f"traders-profile-{width}.png"), full_page=True, caret="initial"
    )
    page.check("profile with a simulation")
    # a refusal lands next to its field, the typed value kept
    page.get_by_role("textbox", name="Total Investment").fill("50")
    page.get_by_role("button", name="Replay").click()
    expect(page.locator("#field-investment .field-error")).to_contain_text(
        "The minimum Total Investment is 100.00 USDT."
    )
    expect(page.get_by_role("textbox", name="Total Investment")).to_have_value("50")
    page.check("a refused simulation")
