"""The profile page /traders/<id>/ (issue 9 items 5, 6 and 8): the stats with a period switch
(htmx, and ?period= without JavaScript), the daily chart's series, the main instrument's price
chart, current positions, position history (paged), tracking, the Copy button, and the copy
simulator's form and result. Figures by hand: tests/traders/stats_world.py (history) and
tests/stats/test_simulate_api.py (the simulation: a lead of 20,000 trading now)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price
from tests.stats.conftest import copies_bulk
from tests.traders import stats_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return stats_world.build(django_capture_on_commit_callbacks)


def figure(html: str, label: str) -> str:
    """The text of a <dt>label</dt><dd>...</dd> figure (sub-lines included)."""
    match = re.search(
        rf"<dt>(?:<abbr[^>]*>)?{re.escape(label)}(?:</abbr>)?</dt><dd[^>]*>(.*?)</dd>", html, re.S
    )
    assert match, label
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_the_profile_shows_the_period_stats(client, world):
    html = client.get(f"/traders/{world.alpha.pk}/").content.decode()
    stats = html[html.index('id="profile-stats"') : html.index('id="positions"')]
    assert figure(stats, "ROI") == "+0.94%"
    assert figure(stats, "PnL") == "+94.95 USDT"
    assert figure(stats, "Max drawdown") == "0.02%"
    assert figure(stats, "Win rate") == "100.0% 1 of 1 closed positions in profit"
    assert figure(stats, "Trades per week") == "3.5 1 opened"
    assert figure(stats, "Average holding time") == "17 h"
    assert "30 days to the end of 3 Mar 2026 (UTC), 2 days of history" in stats
    # live figures in the head: copiers now / max, AUM, copiers' PnL, profit share
    head = html[: html.index('id="profile-stats"')]
    assert "1 <span" in head and "/ 1,000" in head
    assert "1,009.49" in head and "+9.49" in head and "10%" in head


def test_the_period_switch_works_with_and_without_htmx(client, world):
    url = f"/traders/{world.alpha.pk}/"
    html = client.get(url + "?period=7d").content.decode()
    assert re.search(r'href="\?period=7d"[^>]*aria-current="page">7 days', html)
    assert "7 days to the end of 3 Mar 2026" in html
    # the chart reads the profile API's daily series of that period
    assert f'data-series-url="/api/v1/traders/{world.alpha.pk}/?period=7d"' in html
    part = client.get(url + "?period=all", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="profile-stats")
    text = part.content.decode()
    assert text.lstrip().startswith('<section id="profile-stats"') and "<html" not in text
    assert "All time to the end of 3 Mar 2026" in text


def test_charts_have_their_series(client, world):
    html = client.get(f"/traders/{world.alpha.pk}/").content.decode()
    # ROI (a ratio drawn as %), PnL per day (bars) and equity switch the same chart
    assert 'data-value-field="roi" data-scale="100" data-unit="%"' in html
    assert 'data-kind="histogram" data-time-field="date" data-value-field="pnl_usdt"' in html
    assert 'data-value-field="equity_usdt"' in html
    # the price of the instrument it trades most: 1-hour candles
    assert "the instrument Alpha trades most" in html
    assert (
        'data-series-url="/api/v1/prices/BTC-USDT-SWAP/candles/?interval=1h&amp;limit=168"' in html
    )
    # the series the chart reads answers the days by hand
    body = client.get(f"/api/v1/traders/{world.alpha.pk}/?period=30d").json()
    assert [(d["date"], d["equity_usdt"], d["roi"]) for d in body["daily"]] == [
        ("2026-03-02", "10097.50000000", "0.00975000"),
        ("2026-03-03", "10094.95000000", "0.00949500"),
    ]


def test_position_history_and_tracking(client, world):
    html = client.get(f"/traders/{world.alpha.pk}/").content.decode()
    history = html[html.index('id="position-history"') : html.index('id="tracking"')]
    assert "1 closed" in history
    assert 'data-label="Realized (USDT)">+100.00</td>' in history
    assert 'data-label="Fees (USDT)">5.05</td>' in history
    assert 'data-label="Net PnL (USDT)"><strong>+94.95</strong>' in history
    assert 'data-label="Held">17 h</td>' in history
    tracking = html[html.index('id="tracking"') :]
    assert figure(tracking, "Alpha's ROI") == "+0.94%"
    assert figure(tracking, "Copiers' median ROI").startswith("+0.94%")
    assert figure(tracking, "Median gap to the lead").startswith("0.00%")
    assert figure(tracking, "Lead trades not copied") == "0.0% 0 of 2 copy outcomes"


def test_position_history_pages(client, django_capture_on_commit_callbacks):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="Busy")
    for _ in range(12):
        p = lead_position_open(
            lead=lead, instrument="BTC-USDT-SWAP", side="short", margin_mode="cross",
            leverage=2, margin="100",
        )  # fmt: skip
        lead_position_close(lead=lead, position=p.pk, fraction="1")
    html = client.get(f"/traders/{lead.pk}/").content.decode()
    assert "12 closed" in html and "Page 1 of 2" in html
    part = client.get(
        f"/traders/{lead.pk}/?history=2", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="position-history"
    ).content.decode()
    assert part.lstrip().startswith('<section class="card" id="position-history"')
    assert "Page 2 of 2" in part and part.count('data-label="Net PnL (USDT)"') == 2


def test_the_copy_button(client, world):
    html = client.get(f"/traders/{world.alpha.pk}/").content.decode()
    assert f'href="/copies/new/?trader={world.alpha.pk}">Copy</a>' in html
    full = client.get(f"/traders/{world.delta.pk}/").content.decode()
    assert "Full: 1 of 1 copiers" in full and "/copies/new/" not in full
    ended = client.get(f"/traders/{world.charlie.pk}/").content.decode()
    assert "ended their strategy" in ended and "/copies/new/" not in ended


# --- the simulator ------------------------------------------------------------------------------
@pytest.fixture
def trading_now(django_capture_on_commit_callbacks):
    """The lead of tests/stats/test_simulate_api.py: a copy of 1,000 would have made 4.27275."""
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="Replayed", equity="20000")
    copy_make(lead, investment="5000")
    with django_capture_on_commit_callbacks(execute=True):
        p = lead_position_open(
            lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="cross",
            leverage=5, margin="1000",
        )  # fmt: skip
    set_price("BTC-USDT-SWAP", "51000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_close(lead=lead, position=p.pk, fraction="1")
        lead_position_open(
            lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="isolated",
            leverage=2, margin="3",
        )  # fmt: skip
    return lead


def test_a_simulation_on_the_profile(client, trading_now):
    html = client.get(f"/traders/{trading_now.pk}/?investment=1,000&days=7").content.decode()
    result = html[html.index('class="sim-result"') :]
    assert "Copying Replayed with 1,000.00 USDT over the last 7 days" in result
    assert "would have made" in result and "+4.27 USDT (+0.42%)" in result
    assert figure(result, "PnL") == "+4.27 USDT"
    # actions, not positions: an open and a close of one position are two
    assert figure(result, "Lead actions copied") == "2 opens, closes, leverage and margin changes"
    assert figure(result, "Lead actions missed") == "1"
    assert "below minimum size" in result and "× 1" in result
    assert figure(result, "Fees") == "0.25 USDT"
    assert figure(result, "Funding") == "0.00 USDT none"
    assert figure(result, "Profit share paid").startswith("0.47 USDT 10% of net realized profit")
    assert figure(result, "Gap to Replayed's ROI").startswith("—")  # no stats for the lead yet
    # in words: a replay, not a promise
    assert "replay" in result and "not a promise" in result
    # its equity chart (the simulate API) beside the lead's (the profile API, same days)
    assert (
        f'data-series-url="/api/v1/traders/{trading_now.pk}/simulate/?investment_usdt=1000&amp;days=7"'
        in result
    )
    assert f'data-series-url="/api/v1/traders/{trading_now.pk}/?period=7d"' in result
    # the typed values stay in the form
    assert 'value="1,000"' in html and re.search(r'value="7"[^>]*checked', html)


def test_the_simulator_refuses_next_to_the_field(client, trading_now):
    html = client.get(f"/traders/{trading_now.pk}/?investment=50&days=30").content.decode()
    assert re.search(
        r'id="field-investment">.*?The minimum Total Investment is 100.00 USDT.', html, re.S
    )
    assert 'value="50"' in html and "would have made" not in html and "would have lost" not in html
    html = client.get(
        f"/traders/{trading_now.pk}/?investment=1000&days=30&stop_loss=1000"
    ).content.decode()
    assert re.search(
        r'id="field-stop_loss">.*?Total Stop Loss for Trader must be more than 0', html, re.S
    )
    html = client.get(f"/traders/{trading_now.pk}/?investment=&days=30").content.decode()
    assert "Enter a Total Investment to replay" in html


def test_the_simulator_answers_its_part_to_htmx(client, trading_now):
    r = client.get(
        f"/traders/{trading_now.pk}/?investment=1000&days=7",
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="simulation",
    )
    text = r.content.decode()
    assert text.lstrip().startswith('<div id="simulation">') and "<html" not in text
    assert "+4.27 USDT (+0.42%)" in text


def test_the_simulator_is_throttled_like_its_api(client, trading_now, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                                   "simulate": "1/m"},
    }  # fmt: skip
    url = f"/traders/{trading_now.pk}/?investment=1000&days=7"
    assert "would have made" in client.get(url).content.decode()
    html = client.get(url).content.decode()
    assert "Too many simulations from your address just now" in html
    assert "would have made" not in html


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_profile_queries_do_not_grow_with_copies_or_positions(
    client, world, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    url = f"/traders/{world.alpha.pk}/"

    def open_one():
        with django_capture_on_commit_callbacks(execute=True):
            lead_position_open(
                lead=world.alpha, instrument="BTC-USDT-SWAP", side="long", margin_mode="cross",
                leverage=2, margin="100",
            )  # fmt: skip

    open_one()  # one open position, mirrored
    small = _count(client, url)
    # ten more copies, a dozen more closed positions, one more open
    copies_bulk(world.alpha, 10)
    for _ in range(12):
        with django_capture_on_commit_callbacks(execute=True):
            p = lead_position_open(
                lead=world.alpha, instrument="BTC-USDT-SWAP", side="long",
                margin_mode="cross", leverage=2, margin="100",
            )  # fmt: skip
            lead_position_close(lead=world.alpha, position=p.pk, fraction="1")
    open_one()
    assert _count(client, url) == small
    with django_assert_max_num_queries(20):
        client.get(url)
