"""The directory page /traders/ and the home page's board (issue 9 item 4): numbers from
stats.selectors.trader_directory (figures by hand in tests/traders/stats_world.py), sortable
columns that keep the other filters, market / room / search / period filters, a full or ended
trader that cannot be copied, pages, cards below 600 px (data-label on every cell), htmx
partials, and a query count that does not grow with copies."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.trading import lead_make
from tests.stats.conftest import copies_bulk
from tests.traders import stats_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(django_capture_on_commit_callbacks):
    return stats_world.build(django_capture_on_commit_callbacks)


def names(html: str) -> list[str]:
    """The traders in the table, in order."""
    return re.findall(
        r'data-label="Trader" class="trader-cell">\s*<a href="[^"]+" id="[^"]+"><strong>([^<]+)<',
        html,
    )


def cell(html: str, nickname: str, label: str) -> str:
    """The text of one cell of a trader's row."""
    at = html.index(f"<strong>{nickname}</strong>")
    row = html[html.rindex("<tr", 0, at) :]
    row = row[: row.index("</tr>")]
    match = re.search(rf'data-label="{re.escape(label)}"[^>]*>(.*?)</td>', row, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_directory_shows_each_traders_figures(client, world):
    html = client.get("/traders/").content.decode()
    # active first, best 30-day ROI first (ties by id), the ended trader last
    assert names(html) == ["Alpha", "Bravo", "Delta", "Charlie"]
    assert cell(html, "Alpha", "ROI (30 days)") == "+0.94%"
    assert cell(html, "Alpha", "PnL (30 days, USDT)") == "+94.95"
    assert cell(html, "Alpha", "Win rate (30 days)") == "100.0%"
    assert cell(html, "Alpha", "Max drawdown (30 days)") == "0.02%"
    assert cell(html, "Alpha", "AUM (USDT)") == "1,009.49"
    assert cell(html, "Alpha", "Copiers") == "1 / 1,000"
    assert cell(html, "Alpha", "Profit share") == "10%"
    assert cell(html, "Bravo", "ROI (30 days)") == "0.00%"
    assert "Stats to the end of 3 Mar 2026 (UTC)" in html
    # every cell is labelled for the cards below 600 px
    table = html[html.index("<tbody>") : html.index("</tbody>")]
    assert table.count("<td") == table.count("data-label=")


def test_a_full_or_ended_trader_cannot_be_copied(client, world):
    html = client.get("/traders/").content.decode()
    assert "Full" in cell(html, "Delta", "Trader")
    assert cell(html, "Delta", "") == "Full: cannot be copied now"
    assert "Ended" in cell(html, "Charlie", "Trader")
    assert cell(html, "Charlie", "") == "Strategy ended"
    assert f"/copies/new/?trader={world.alpha.pk}" in html
    assert f"/copies/new/?trader={world.delta.pk}" not in html
    assert f"/copies/new/?trader={world.charlie.pk}" not in html


def test_sorting_links_keep_the_other_filters(client, world):
    html = client.get("/traders/?q=a&period=7d").content.decode()
    # ROI is sorted descending now: its link sorts ascending and keeps the search and period
    assert re.search(
        r'aria-sort="descending">\s*<a class="sort sort-descending" href="\?q=a&amp;period=7d&amp;ordering=roi_7d"',
        html,
    )
    html = client.get("/traders/?ordering=roi_7d&period=7d").content.decode()
    assert names(html) == ["Bravo", "Delta", "Alpha", "Charlie"]  # lowest first, ended last
    html = client.get("/traders/?ordering=-aum_usdt").content.decode()
    assert names(html)[:2] == ["Alpha", "Delta"]  # 1,009.49 then 500
    html = client.get("/traders/?ordering=max_drawdown_30d").content.decode()
    assert names(html)[-2:] == ["Alpha", "Charlie"]  # 0.02% is the largest drawdown


def test_the_period_switches_the_roi_and_pnl_columns(client, world):
    html = client.get("/traders/?period=all&ordering=-roi_30d").content.decode()
    # a 30-day ordering follows the period shown
    assert "ROI (All time)" in html and 'value="-roi_all" selected' in html
    assert cell(html, "Alpha", "PnL (All time, USDT)") == "+94.95"


def test_filters(client, world):
    assert names(client.get("/traders/?q=ALP").content.decode()) == ["Alpha"]
    assert names(client.get("/traders/?room=1").content.decode()) == ["Alpha", "Bravo"]
    html = client.get("/traders/?market=spot").content.decode()
    assert names(html) == [] and "No lead trader matches these filters." in html


def test_bad_filters_are_named_and_the_defaults_used(client, world):
    html = client.get("/traders/?ordering=bogus&period=week").content.decode()
    assert "Cannot order by &#x27;bogus&#x27;" in html
    assert "Period must be one of" in html
    assert names(html) == ["Alpha", "Bravo", "Delta", "Charlie"]


def test_pages_of_twenty(client, db):
    for i in range(25):
        lead_make(nickname=f"Lead{i:02d}")
    first = client.get("/traders/").content.decode()
    assert len(names(first)) == 20 and "Page 1 of 2" in first and "25 lead traders" in first
    second = client.get("/traders/?page=2").content.decode()
    assert names(second) == [f"Lead{i:02d}" for i in range(20, 25)]


def test_htmx_answers_the_directory_part(client, world):
    r = client.get("/traders/?q=alp", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="directory")
    html = r.content.decode()
    assert html.lstrip().startswith('<section id="directory"') and "<html" not in html
    assert names(html) == ["Alpha"]


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize(
    "url", ["/traders/", "/traders/?ordering=-aum_usdt", "/traders/?room=1", "/"]
)
def test_queries_do_not_grow_with_copies(client, world, url, django_assert_max_num_queries):
    # given more leads than a page and a few copies each
    leads = [lead_make(nickname=f"More{i}") for i in range(22)]
    for lead in leads[:3]:
        copies_bulk(lead, 2)
    small = _count(client, url)
    # when they have ten times as many copies
    for lead in leads[:3]:
        copies_bulk(lead, 20)
    copies_bulk(world.alpha, 30)
    # then the page costs the same queries
    assert _count(client, url) == small
    with django_assert_max_num_queries(8):
        client.get(url)


def test_the_home_board_reads_the_same_figures(client, world):
    html = client.get("/").content.decode()
    board = html[html.index('id="lead-traders"') :]
    assert board.index("Alpha") < board.index("Bravo")
    assert "Charlie" not in board  # active traders only
    assert '<span class="pos">+0.94%</span>' in board and "1 / 1,000" in board
