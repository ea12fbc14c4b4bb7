"""The lead console's risk figures and earnings (issue 8, "On the pages"): the liquidation price
and margin level of the lead's own positions, and the profit share earned in total and per copy
(the figures ``GET /api/v1/lead/earnings/`` gives), paged, with the settlements that had
something due; constant queries whatever the number of copies and settlements.

Hand calculations: SPEC §4 (a 5x isolated long of 1 BTC contract at 50,000 with 100 margin
liquidates at 40,180.8137; margin level 100 / (0.01 x 50,000 x 0.0045) = 4,444.44%) and SPEC §8
(10% of R above the high-water mark; a short copy cash is owed, not forgotten).
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.copies.services import copy_stop
from apps.fees.services import profit_share_settle_active
from apps.traders.services import lead_position_open, lead_trader_end
from tests.factories.trading import copy_make, lead_make, set_price
from tests.fees.conftest import book_realized, open_direct

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")


def _text(fragment: str) -> str:
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))
    return unescape(re.sub(r" ([.,;:)])", r"\1", text)).strip()


def _after(html: str, element_id: str) -> str:
    """The text inside the element with this id (and a little after it)."""
    start = html.index(">", html.index(f'id="{element_id}"')) + 1
    return _text(html[start : start + 200])


def _row(html: str, row_id: str) -> str:
    start = html.index(f'id="{row_id}"')
    return html[start : html.index("</tr>", start)]


def _cell(row: str, label: str) -> str:
    m = re.search(rf'<td[^>]*data-label="{re.escape(label)}">(.*?)</td>', row, re.S)
    assert m, f"no cell {label!r}"
    return _text(m.group(1))


def _weekly(week: int) -> int:
    return profit_share_settle_active(trigger="weekly", now=timezone.now() + timedelta(weeks=week))


def _queries(client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, **headers).status_code == 200
    return len(ctx)


# --- the lead's own positions ------------------------------------------------------------------
def test_lead_positions_show_their_liquidation_price_and_margin_level(client, btc):
    lead = lead_make(equity="1000")
    pos = lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="isolated",
        leverage=5,
        margin="100",
    )
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    assert _cell(html, "Liquidation price (USDT)") == "40,180.8137"
    assert _cell(html, "Margin level") == "4,444.44%"
    assert "At <strong>100% or below</strong> the position (isolated)" in html
    live = client.get("/lead/?part=positions", **HTMX).content.decode()
    assert live.lstrip().startswith('<section id="positions"') and "40,180.8137" in live
    page = _text(client.get(f"/lead/positions/{pos.pk}/").content.decode())
    assert "Liquidation price 40,180.8137 USDT" in page
    assert "Margin level 4,444.44% liquidated at 100% or below" in page


# --- earnings ----------------------------------------------------------------------------------
@pytest.fixture
def earning_lead(btc):
    """A 10% lead with three copies of 1,000 after one weekly settlement:
    - A realized +200 with cash to spare: 10% x 200 = 20 paid;
    - B realized +200 but holds 1,190 of its 1,200 as margin: 10 paid, 10 owed;
    - C stopped without profit: nothing due."""
    lead = lead_make(ratio="0.10", nickname="Whale")
    a = copy_make(lead, investment="1000")
    b = copy_make(lead, investment="1000")
    c = copy_make(lead, investment="1000")
    book_realized(a, "200")
    book_realized(b, "200")
    open_direct(b.account_id, size="1", margin="1190", leverage=1)
    copy_stop(copy=c, user=c.follower)
    _weekly(1)
    return lead, a, b, c


def test_earnings_in_total_and_per_copy(client, earning_lead):
    lead, a, b, c = earning_lead
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    # in total: 20 + 10 paid; 10 still owed by B
    assert _after(html, "earned-total").startswith("30.00 USDT")
    assert _after(html, "earned-owed").startswith("10.00 USDT")
    # per copy, newest first, named by copy number only (never the follower)
    assert html.index(f'id="earning-{c.pk}"') < html.index(f'id="earning-{a.pk}"')
    assert c.follower.email not in html and a.follower.email not in html
    row_a, row_b, row_c = (_row(html, f"earning-{x.pk}") for x in (a, b, c))
    assert _cell(row_a, "Copy").startswith(f"Copy #{a.pk}")
    assert (_cell(row_a, "Paid you (USDT)"), _cell(row_a, "Owed (USDT)")) == ("20.00", "0.00")
    assert _cell(row_a, "Pending (USDT)") == "0.00 if settled now"
    assert "1 with something due" in _cell(row_a, "Settlements")
    assert "Weekly due 20.00, paid 20.00 USDT" in _cell(row_a, "Settlements")
    # B: pending = owed 10 + 10% x (200 - 200) = 10
    assert (_cell(row_b, "Paid you (USDT)"), _cell(row_b, "Owed (USDT)")) == ("10.00", "10.00")
    assert _cell(row_b, "Pending (USDT)") == "10.00 if settled now"
    assert "Weekly due 20.00, paid 10.00, owed 10.00 USDT" in _cell(row_b, "Settlements")
    # C: stopped, its stop settlement had nothing due
    assert _cell(row_c, "Status") == "Stopped"
    assert (_cell(row_c, "Paid you (USDT)"), _cell(row_c, "Pending (USDT)")) == ("0.00", "0.00")
    assert _cell(row_c, "Settlements") == "None yet"


def test_an_ended_lead_still_reads_its_earnings(
    client, earning_lead, django_capture_on_commit_callbacks
):
    lead, a, b, _ = earning_lead
    # when the lead ends: B's close-out pays what its cash allows (B holds 1,200 once the
    # margin is released: the 10 owed is paid), A has nothing more due
    with django_capture_on_commit_callbacks(execute=True):
        lead_trader_end(lead=lead, actor=lead.user)
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    assert "Your strategy ended" in html
    assert _after(html, "earned-total").startswith("40.00 USDT")
    assert _after(html, "earned-owed").startswith("0.00 USDT")
    row_b = _row(html, f"earning-{b.pk}")
    assert _cell(row_b, "Status") == "Stopped" and _cell(row_b, "Paid you (USDT)") == "20.00"
    assert "Lead trader ended due 10.00, paid 10.00 USDT" in _cell(row_b, "Settlements")


def test_earnings_are_paged_with_and_without_htmx(client, btc):
    lead = lead_make(ratio="0.10")
    copies = [copy_make(lead, investment="100") for _ in range(12)]
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    assert html.count('id="earning-') == 10 and "Page 1 of 2" in html
    assert 'href="?earnings=2#earnings"' in html
    assert 'hx-get="?part=earnings&amp;earnings=2"' in html
    page2 = client.get("/lead/?earnings=2").content.decode()
    assert page2.count('id="earning-') == 2 and f'id="earning-{copies[0].pk}"' in page2
    part = client.get("/lead/?part=earnings&earnings=2", **HTMX).content.decode()
    assert part.lstrip().startswith('<section id="earnings"') and "<html" not in part
    assert part.count('id="earning-') == 2


def test_earnings_cost_the_same_queries_for_1_or_12_copies_with_settlements(client, btc):
    # given one copy with a paid settlement, then twelve, each with three weeks of settlements
    lead = lead_make(ratio="0.10")
    client.force_login(lead.user)
    first = copy_make(lead, investment="1000")
    book_realized(first, "100")
    _weekly(1)
    few = {u: _queries(client, u, **HTMX) for u in ("/lead/", "/lead/?part=earnings")}
    for _ in range(11):
        book_realized(copy_make(lead, investment="1000"), "100")
    for week in (2, 3, 4):
        for c in lead.copies.all():
            book_realized(c, "10")
        _weekly(week)
    assert lead.copies.count() == 12
    many = {u: _queries(client, u, **HTMX) for u in ("/lead/", "/lead/?part=earnings")}
    assert many == few
